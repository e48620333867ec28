"""Fit the plan's rules to the grid of measured runs, and show how well they fit.

    python scripts/fit_plan.py [GRID]     (default: benchmarks/plan/grid.jsonl)

Prints the fitted ``RULES = {...}``, a ``Rule(...)`` per level (to paste into
seqgen/training/plan_rule.py), each run's measured held-out loss beside its shape's curve (the runs
of other texts, dropouts and learning rates too, which the curves are not fitted to, and those past
a curve's best run, which the plan does not train for), and each level's largest miss.
tests/test_plan.py checks that ``RULES`` is this fit of the committed grid.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from seqgen.training.plan_rule import FITTED_TO, Rule, fit, fitted_to, lr_of, shape_name

GRID = Path(__file__).resolve().parent.parent / "benchmarks" / "plan" / "grid.jsonl"


def source(rule: Rule, indent: int) -> str:
    """``Rule(...)`` as Python, its continuation lines ``indent`` spaces in."""
    opening = f"Rule(beta={rule.beta}, curves={{"
    curves = f",\n{' ' * (indent + len(opening))}".join(
        f'"{name}": {{' + f",\n{' ' * (indent + len(opening) + len(name) + 5)}".join(
            f"{lr:g}: ({E:.4f}, {B:.4f}, {R:g})" for lr, (E, B, R) in rates.items()) + "}"
        for name, rates in rule.curves.items())
    reach = f",\n{' ' * (indent + len('Rule(reach={'))}".join(
        f'"{name}": {{' + ", ".join(f"{lr:g}: {epochs:g}" for lr, epochs in rates.items()) + "}"
        for name, rates in rule.reach.items())
    peaked = ", ".join(f'"{name}": {{' + ", ".join(f"{lr:g}" for lr in sorted(rates)) + "}"
                       for name, rates in rule.peaked.items())
    return (f"{opening}{curves}}},\n{' ' * (indent + len('Rule('))}reach={{{reach}}},\n"
            f"{' ' * (indent + len('Rule('))}peaked={{{peaked}}}, text_tokens={rule.text_tokens:_})")


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else GRID
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    rules = {level: fit(records, level) for level in FITTED_TO}
    opening = "RULES = {"
    print(opening + f",\n{' ' * len(opening)}".join(
        f'"{level}": ' + source(rule, len(opening) + len(level) + 4) for level, rule in rules.items()) + "}")
    print("\n| level | corpus | shape | dropout | lr | tokens | epochs | measured | curve |\n"
          "|---|---|---|---|---|---|---|---|---|")
    misses: dict[str, list[float]] = {level: [] for level in rules}
    order = ("corpus", "layers", "hidden", "dropout")
    for r in sorted(records, key=lambda r: (r.get("level", "char"), *(r[k] for k in order), lr_of(r), r["tokens"])):
        level, name = r.get("level", "char"), shape_name(r["layers"], r["hidden"])
        fitted, rule, lr = None, rules[level], lr_of(r)
        if fitted_to(r, level) and lr in rule.curves.get(name, {}):
            fitted = rule.curve_loss(name, lr, r["tokens"], r["train_tokens"])
        past = fitted is not None and r["tokens"] / r["train_tokens"] > rule.reach[name][lr] + 0.005  # reach: 2 places
        if fitted is not None and not past:
            misses[level].append(abs(fitted - r["val_loss"]))
        shown = "-" if fitted is None else f"{fitted:.4f}" + (" (past the best run: not planned)" if past else "")
        print(f"| {level} | {r['corpus']} | {name} | {r['dropout']:g} | {lr_of(r):g} | "
              f"{r['tokens'] / 1e6:.2f} M | "
              f"{r['tokens'] / r['train_tokens']:.1f} | {r['val_loss']:.4f} | {shown} |")
    for level, missed in misses.items():
        print(f"\n{level}: {len(missed)} runs fitted (up to each curve's best); largest miss {max(missed):.4f} "
              f"nats, mean {sum(missed) / len(missed):.4f}")


if __name__ == "__main__":
    main()
