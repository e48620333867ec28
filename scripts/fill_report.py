"""The table of the README's "Filling gaps": each way of filling, on held-out text nobody trained on.

    python scripts/fill_report.py runs/oneills/best.pt --backward runs/oneills-back/best.pt \\
        --fim runs/oneills-fim/best.pt --cases 200 --out fill-oneills.json

For each case a held-out tune loses one whole bar (never its first or last), or a held-out text
loses one word or one line (``--unit``). Each way then draws ``--candidates - 1`` fills, the true
one is put among them, and all are rated by that way (``seqgen.fill.judge``). Reported per way:
the share of drawn fills that fit (a bar of the meter's length that parses; one word; one line),
the true span's log-likelihood per note (per token for text) under the way's model (left: the
forward model's; pair: the mean of the forward and backward models'; fim: given both sides), the true
span's mean rank among the candidates (1 is best), and how often the way's first choice is the
true span, or a copy of another bar of the same tune.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import sys
from pathlib import Path

import numpy as np

NOTE = re.compile(r"[A-Ga-gz]")
QUOTED = re.compile(r'"[^"]*"|![^!]*!|\{[^}]*\}')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("--backward", type=Path)
    parser.add_argument("--fim", type=Path, help="a model trained with --fill (the same text)")
    parser.add_argument("--unit", choices=("bar", "word", "line"), default="bar")
    parser.add_argument("--cases", type=int, default=200)
    parser.add_argument("--candidates", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    from seqgen import api

    forward = api.load(args.checkpoint)
    backward = api.load(args.backward) if args.backward else None
    fim = api.load(args.fim) if args.fim else None
    cases = make_cases(forward, args.unit, args.cases, args.seed)
    ways = ["left", "pair (forward only)"] + (["pair"] if backward else [])
    rows = measure(forward, backward, "left", ways, cases, args)  # one drawing, judged three ways
    if fim:
        rows.update(measure(fim, None, "fim", ["fim"], cases, args))
        rows["held-out nats/token"] = {"plain": forward.held_out.cross_entropy, "fim": fim.held_out.cross_entropy}
    print(table(rows, args.unit, len(cases)))
    if args.out:
        args.out.write_text(json.dumps(rows, indent=2) + "\n")


def make_cases(model, unit: str, count: int, seed: int) -> list[tuple[str, str, str, list[str]]]:
    """(before, true span, after, the other bars of the tune) for ``count`` held-out cases."""
    rng = random.Random(seed)
    text = model.vocab.decode(model.data["val_ids"].numpy())
    cases = []
    if unit == "bar":
        tunes = [t + "\n" for t in text.split("\n\n") if "\nK:" in t]
        while len(cases) < count:
            case = bar_case(rng.choice(tunes), rng)
            if case:
                cases.append(case)
        return cases
    lines = [line for line in text.split("\n") if len(line.split()) >= 4]
    while len(cases) < count:
        i = rng.randrange(1, len(lines) - 1)
        if unit == "line":
            cases.append(("\n".join(lines[max(0, i - 8):i]) + "\n", lines[i], "\n" + "\n".join(lines[i + 1:i + 9]) + "\n", []))
            continue
        words = [m for m in re.finditer(r"[A-Za-z']+", lines[i])]
        m = rng.choice(words)
        before = "\n".join(lines[max(0, i - 8):i]) + "\n" + lines[i][:m.start()]
        cases.append((before, m.group(), lines[i][m.end():] + "\n" + "\n".join(lines[i + 1:i + 9]) + "\n", []))
    return cases


def bar_case(tune: str, rng: random.Random):
    """One whole bar of ``tune``'s body (not the first or last) cut out, with what is around it."""
    from seqgen.fill.checks import bar_problem

    head, _, body = tune.partition("\nK:")
    key_line, _, body = body.partition("\n")
    start = len(head) + 3 + len(key_line) + 1
    spans, at = [], start
    for m in re.finditer(r"[|:\]\[\d]*\|[:\d]*|:\|", tune[start:]):
        spans.append((at, start + m.start()))
        at = start + m.end()
    bars = [(a, b) for a, b in spans if tune[a:b].strip()]  # not the nothing before a leading |:
    inner = [(a, b) for a, b in bars[1:-1] if "\n" not in tune[a:b]]
    if not inner:
        return None
    a, b = rng.choice(inner)
    if bar_problem(tune[:a], tune[a:b]) is not None:  # only bars that are right as written
        return None
    others = [tune[x:y].strip() for x, y in spans if (x, y) != (a, b)]
    return tune[:a], tune[a:b], tune[b:], others


def measure(model, backward, drawing: str, ways: list[str], cases, args) -> dict:
    """Each of ``ways``' figures over ``cases``, from one drawing of candidates per case."""
    from seqgen.fill.checks import fill_problem
    from seqgen.fill.filling import drawn_fills
    from seqgen.fill.judge import judge

    cfg = model.sample_config(seed=args.seed)
    fits = drawn_all = 0
    found = {way: {"ranks": [], "per_note": [], "same": 0, "copies": 0} for way in ways}
    for k, (before, true, after, others) in enumerate(cases):
        drawn = drawn_fills(model, args.unit, before, after, args.candidates - 1, cfg, args.seed + k, drawing)
        good = [d for d in drawn if d is not None and fill_problem(args.unit, before, d) is None]
        fits, drawn_all = fits + len(good), drawn_all + len(drawn)
        candidates = [true] + [d for d in dict.fromkeys(good) if d.strip() != true.strip()]
        rated = judge(model, before, after, candidates, backward)
        forward_only = rated["pair"] - rated.get("backward", 0)  # pair is forward + backward where given
        notes = max(1, len(NOTE.findall(QUOTED.sub("", true)))) if args.unit == "bar" else max(1, int(rated["tokens"][0]))
        for way in ways:
            score = {"left": rated["left"], "pair (forward only)": forward_only}.get(way, rated.get(way))
            own = rated["fim"][0] if way == "fim" else rated["fill_logp"][0]
            if way == "pair":  # the two directions' views of the same span
                own = (own + rated["backward_fill"][0]) / 2
            f = found[way]
            f["ranks"].append(1 + int((score[1:] > score[0]).sum()))
            f["per_note"].append(float(own) / notes)
            pick = candidates[int(np.argmax(score))].strip()
            f["same"] += pick == true.strip()
            f["copies"] += pick != true.strip() and pick in others
        print(f"{drawing}: case {k + 1}/{len(cases)}", file=sys.stderr, end="\r")
    n = len(cases)
    return {way: {"fit_pct": 100 * fits / max(1, drawn_all), "true_logp_per_note": statistics.mean(f["per_note"]),
                  "mean_rank": statistics.mean(f["ranks"]), "first_choice_true_pct": 100 * f["same"] / n,
                  "first_choice_copy_pct": 100 * f["copies"] / n} for way, f in found.items()}


def table(rows: dict, unit: str, n: int) -> str:
    per = "note" if unit == "bar" else "token"
    lines = [f"{n} held-out cases, one {unit} each",
             f"| way | fits (%) | true {unit}: log-lik per {per} | mean rank (of up to 20) | "
             "first choice = true (%) | first choice copies a bar (%) |", "|---|---|---|---|---|---|"]
    for name, r in rows.items():
        if "fit_pct" in r:
            lines.append(f"| {name} | {r['fit_pct']:.1f} | {r['true_logp_per_note']:.3f} | {r['mean_rank']:.2f} | "
                         f"{r['first_choice_true_pct']:.1f} | {r['first_choice_copy_pct']:.1f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
