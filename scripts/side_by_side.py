"""seqgen against nanoGPT's CPU recipe, for the same time on the same machine and the same split of
the same text: held-out nats per character (or per word) after each time budget, over several seeds.

    python scripts/side_by_side.py input.txt --out results/ [--budgets 3m,10m,30m] [--seeds 1,2,3]
        [--arms plan,default,nanogpt,1x128,1x256,2x256,2x384,2x512,2x768] [--avx2] [--level word]

Arms, each run as its own process with torch's default threads (``OMP_NUM_THREADS`` sets them):

- ``plan``: ``seqgen train TEXT --time-budget B --seed S``, the model's shape left to seqgen;
- ``default``: the same with ``--hidden 512 --layers 2`` given (the 2x512 LSTM);
- ``1x128``, ``1x256``, ``2x256``, ``2x384``, ``2x512``, ``2x768``: the plan held to that one shape of its grid,
  with the learning rate and dropout the plan would give it for this budget here (``--hidden``,
  ``--layers``, ``--lr`` and, where the plan drops it, ``--dropout 0`` given), so that the plan's
  choice can be held against every shape it chose from;
- ``nanogpt``: nanoGPT's CPU recipe with its schedule set by the budget
  (``scripts/nanogpt_recipe.py``, whose docstring says how), trained on seqgen's training part.

``--level word`` trains word models (``--level word`` for every seqgen arm; the shapes are those of
the word plan's grid, and the default the same 2x512 with the word models' defaults); nanoGPT's
recipe is a character model, so it is not an arm then.

The figure is the loss of the model at the end of the budget on all of the held-out text (the last
tenth: seqgen's split, the same for every arm), in nats per character (per word with ``--level
word``), over the same predictions: for seqgen, the last evaluation of the timed run
(``metrics.jsonl``: its ``val_loss_all``, or its ``val_loss`` where that evaluation already read all
of the held-out text), inside the budget; for nanoGPT, its final scoring, also inside the budget.
A seqgen run's record also holds why it stopped (``stopped``: ``time-budget``, or ``early-stop``
where its held-out sample stopped improving) and ``best_loss``: its ``best.pt`` (what sampling
takes by default) on the same text, scored after the run as ``seqgen eval`` scores it.
``--avx2`` runs every arm as on a CPU without AVX-512 and bf16 (``ONEDNN_MAX_CPU_ISA=AVX2
ATEN_CPU_CAPABILITY=avx2``, emulated on this CPU); caps set in the environment count the same way.
Each arm waits for its threads as its users' runs do: seqgen's as seqgen sets it (a few hundred
turns of spinning, then asleep: ``seqgen/__init__.py``), nanoGPT's as OpenMP does by default,
unless ``OMP_WAIT_POLICY`` is set for all.

Each run adds one JSON line to ``OUT/runs.jsonl`` (arm, budget, seed, loss, steps, tokens, wall
seconds of the whole command, the model, the machine: CPU, flags, torch's kernels, caps, threads),
arms in turns within each budget and seed, so that a machine that slows down affects them alike.
A run already there (same arm, budget, seed, text, machine description and code: seqgen's version
and git commit) is not run again, so a long benchmark stopped half-way goes on where it stopped.
At the end a markdown table: median (min-max) per arm and budget. Run it on a quiet machine:
anything else running takes the cores.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ENV = dict(os.environ)  # before seqgen is imported, which sets how threads wait: the arms' own choice
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run from a checkout, uninstalled

import seqgen  # noqa: E402
from seqgen.config import parse_duration  # noqa: E402
from seqgen.data.tokens import content_hash  # noqa: E402
from seqgen.errors import UsageError  # noqa: E402
from seqgen.hardware.machine import wait_policy  # noqa: E402
from seqgen.training.plan import SHAPES  # noqa: E402

ARMS = {"plan": [], "default": ["--hidden", "512", "--layers", "2"], "nanogpt": None,
        **{f"{layers}x{hidden}": (layers, hidden) for layers, hidden in sorted({s for level in SHAPES.values()
                                                                                 for s in level})}}
AVX2 = {"ONEDNN_MAX_CPU_ISA": "AVX2", "ATEN_CPU_CAPABILITY": "avx2"}
RECIPE = Path(__file__).with_name("nanogpt_recipe.py")
# The plan for one shape: the plan's candidates narrowed to it, so that its rate and dropout are
# those the plan gives that shape for this budget, text and machine (its speed measured or cached).
PLAN_FOR_SHAPE = ("import json, sys, seqgen; from seqgen.training import plan; "
                  "plan.SHAPES[sys.argv[6]] = ((int(sys.argv[2]), int(sys.argv[3])),); "
                  "print(json.dumps(seqgen.plan(sys.argv[1], time_budget=sys.argv[4], seed=int(sys.argv[5]), "
                  "level=sys.argv[6]).to_dict()))")
DESCRIBE = ("import json, os, torch; from seqgen.hardware.machine import describe; "
            "print(json.dumps({**describe(), 'threads': torch.get_num_threads(), 'cpu_count': os.cpu_count()}))")


def run(command: list[str], env: dict) -> tuple[subprocess.CompletedProcess, float]:
    """Run ``command``; exit with its error where it fails. Returns it and its wall seconds."""
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"{' '.join(command)} failed ({done.returncode}):\n{(done.stderr or done.stdout)[-3000:]}")
    return done, time.perf_counter() - started


def machine(env: dict) -> dict:
    """This machine as the arms see it (caps and threads from ``env``), and a key for it."""
    description = json.loads(run([sys.executable, "-c", DESCRIBE], env)[0].stdout)
    description.pop("omp_wait_policy")  # each arm's own: in its record
    description["capped"] = bool(description["isa_caps"])
    description["key"] = hashlib.sha256(json.dumps(description, sort_keys=True).encode()).hexdigest()[:16]
    return description


def code() -> str:
    """seqgen's version and, in a git checkout, its commit: runs of other code are other runs."""
    try:
        done = subprocess.run(["git", "-C", str(ROOT), "describe", "--always", "--dirty"], capture_output=True,
                              text=True)
    except OSError:  # no git
        done = None
    return f"seqgen {seqgen.__version__}" + (f" ({done.stdout.strip()})" if done and done.returncode == 0 else "")


def seqgen_arm(arm: str, text: str, budget: str, seed: int, env: dict, scratch: Path, level: str = "char") -> dict:
    """One ``seqgen train`` run: its final loss on all of the held-out text and what it did."""
    from seqgen.training import checkpoint

    command = ["train", text, "--time-budget", budget, "--seed", str(seed),
               *([] if level == "char" else ["--level", level]), *options(arm, text, budget, seed, env, level)]
    with tempfile.TemporaryDirectory(dir=scratch) as folder:  # its checkpoints are large and not needed again
        run_dir = Path(folder) / "run"
        _, wall = run([sys.executable, "-m", "seqgen", *command, "--out", str(run_dir)], env)
        last = json.loads((run_dir / "metrics.jsonl").read_text().splitlines()[-1])
        state = checkpoint.load(run_dir / "last.pt")
        model = {**state["model_config"], "params": sum(t.numel() for t in state["model_state"].values())}
        best = seqgen.load(run_dir / "best.pt").score().cross_entropy  # after the budget, as seqgen eval does
    return {"loss": last.get("val_loss_all", last["val_loss"]), "best_loss": best, "stopped": last.get("stopped"),
            "steps": last["step"], "tokens": last["tokens"], "wall_s": wall, "train_s": last["elapsed"],
            "model": model, "command": "seqgen " + " ".join(command),
            "omp_wait_policy": wait_policy({**env, **seqgen.wait_settings(env)})}  # as the arm's seqgen leaves it


def options(arm: str, text: str, budget: str, seed: int, env: dict, level: str = "char") -> list[str]:
    """``seqgen train``'s options for a seqgen arm: a shape's are those the plan gives it."""
    if not isinstance(ARMS[arm], tuple):
        return ARMS[arm]
    layers, hidden = ARMS[arm]
    done, _ = run([sys.executable, "-c", PLAN_FOR_SHAPE, text, str(layers), str(hidden), budget, str(seed), level],
                  env)
    made = json.loads(done.stdout.splitlines()[-1])
    return (["--hidden", str(hidden), "--layers", str(layers), "--lr", f"{made['lr']:g}"]
            + (["--dropout", "0"] if made["dropout"] == 0 else []))


def nanogpt_arm(text: str, budget: str, seed: int, env: dict) -> dict:
    """One run of nanoGPT's recipe for the budget."""
    done, wall = run([sys.executable, str(RECIPE), text, "--time-budget", budget, "--seed", str(seed)], env)
    figures = json.loads(done.stdout.splitlines()[-1])
    recipe = figures.pop("recipe")
    return {**{k: figures.pop(k) for k in ("loss", "steps", "tokens")}, "wall_s": wall,
            "train_s": figures.pop("train_seconds"), "model": {**recipe, "params": figures.pop("params")},
            "command": f"python scripts/{RECIPE.name} {text} --time-budget {budget} --seed {seed}", **figures}


def table(records: list[dict], arms: list[str], budgets: list[str]) -> str:
    """Markdown: one row per arm, one column per budget, median (min-max) of the loss over seeds."""
    lines = ["| arm | " + " | ".join(budgets) + " |", "|---" * (len(budgets) + 1) + "|"]
    for arm in arms:
        cells = []
        for budget in budgets:
            losses = [r["loss"] for r in records if r["arm"] == arm and r["budget_s"] == parse_duration(budget)]
            cells.append(f"{statistics.median(losses):.3f} ({min(losses):.3f}-{max(losses):.3f}), {len(losses)} "
                         f"seed{'s' if len(losses) > 1 else ''}" if losses else "not run")
        lines.append(f"| {arm} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def listed(kind, check=lambda item: None):
    """An argparse type: a comma-separated list of ``kind``, each item checked."""
    def read(text: str) -> list:
        try:
            items = [kind(item) for item in text.split(",")]
            for item in items:
                check(item)
        except (ValueError, UsageError) as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
        return items
    return read


def known_arm(arm: str) -> None:
    if arm not in ARMS:
        raise ValueError(f"unknown arm {arm!r}; choose from {', '.join(ARMS)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("text", type=Path, help="a text file, e.g. tiny-shakespeare's input.txt")
    parser.add_argument("--out", type=Path, required=True, help="folder of runs.jsonl")
    parser.add_argument("--budgets", type=listed(str, parse_duration), default="3m,10m,30m",
                        help="time budgets, comma-separated")
    parser.add_argument("--seeds", type=listed(int), default="1,2,3", help="seeds, comma-separated")
    parser.add_argument("--arms", type=listed(str, known_arm), default="plan,default,nanogpt",
                        help=f"arms, comma-separated: {', '.join(ARMS)}")
    parser.add_argument("--avx2", action="store_true", help="as on a CPU without AVX-512 or bf16 (emulated)")
    parser.add_argument("--level", choices=sorted(SHAPES), default="char", help="char or word models")
    args = parser.parse_args()
    if not args.text.is_file():
        parser.error(f"{args.text}: no such file")
    unplanned = [a for a in args.arms if isinstance(ARMS[a], tuple) and ARMS[a] not in SHAPES[args.level]]
    if args.level != "char" and "nanogpt" in args.arms:
        unplanned.append("nanogpt")
    if unplanned:
        parser.error(f"--level {args.level} has no arm {', '.join(unplanned)}")
    budgets, seeds, arms, text = args.budgets, args.seeds, args.arms, str(args.text)
    env = {**ENV, **(AVX2 if args.avx2 else {})}
    here, text_hash, version = machine(env), content_hash(args.text), code()
    args.out.mkdir(parents=True, exist_ok=True)
    log = args.out / "runs.jsonl"
    records = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    this = (text_hash, here["key"], version, args.level)
    records = [r for r in records
               if (r["text_hash"], r["machine"]["key"], r.get("code"), r.get("level", "char")) == this]
    for budget in budgets:
        for seed in seeds:
            for arm in arms:
                if any((r["arm"], r["budget_s"], r["seed"]) == (arm, parse_duration(budget), seed) for r in records):
                    continue
                print(f"{arm}, {budget}, seed {seed} ...", end=" ", flush=True)
                load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None  # before: what ran beside it
                figures = (nanogpt_arm(text, budget, seed, env) if arm == "nanogpt"
                           else seqgen_arm(arm, text, budget, seed, env, args.out, args.level))
                record = {"arm": arm, "level": args.level, "budget": budget, "budget_s": parse_duration(budget),
                          "seed": seed, **figures,
                          "text": args.text.name, "text_hash": text_hash, "code": version, "machine": here,
                          "load_average_before": load}
                with log.open("a", encoding="utf-8") as fh:
                    fh.write(json.dumps(record) + "\n")
                records.append(record)
                print(f"{record['loss']:.4f} nats/{args.level}, {record['steps']:,} steps, {record['wall_s']:.0f} s")
    caps = ", ".join(f"{k}={v}" for k, v in here["isa_caps"].items()) or "none"
    print(f"\nHeld-out nats/{args.level}, median (min-max) over seeds: {args.text.name}, {here['cpu_model']} "
          f"({', '.join(here['cpu_flags'])}; torch's kernels {here['cpu_capability']}; caps: {caps}), "
          f"{here['threads']} thread{'s' if here['threads'] > 1 else ''}, torch {here['torch']}\n")
    print(table(records, arms, budgets))


if __name__ == "__main__":
    main()
