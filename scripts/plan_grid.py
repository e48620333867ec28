"""The experiments behind ``--time-budget``'s plan: held-out loss of each model shape after a given
number of training tokens, on a given text.

    python scripts/plan_grid.py CORPUS --name NAME [--shapes 1x128,2x512] [--steps 250,1000]
                                [--dropouts 0.2] [--seeds 1] [--level char] [--out FILE]

Each run is ``seqgen train CORPUS --max-steps N --layers L --hidden H --dropout D`` (the cosine
schedule ends at step N, as a timed run's ends at its budget), scored once at its end on all of the
held-out text. A loss after a number of tokens does not depend on how fast the machine is, or how
busy: the machine only decides how many tokens a budget buys, which the plan measures on the
user's machine (``seqgen/training/plan_probe.py``). So these runs may share a machine.

One JSON line per run is appended to ``--out`` (default: benchmarks/plan/grid.jsonl); a run
already there is not run again. ``scripts/fit_plan.py`` fits the plan's rule to that file.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from seqgen.training import checkpoint

DEFAULT_OUT = Path(__file__).resolve().parent.parent / "benchmarks" / "plan" / "grid.jsonl"


def run_key(record: dict) -> tuple:
    return (record["corpus"], record["layers"], record["hidden"], record["steps"], record["dropout"],
            record["seed"], record.get("lr"))


def one_run(corpus: str, layers: int, hidden: int, steps: int, dropout: float, seed: int, level: str,
            lr: float | None) -> dict:
    """Train once in a fresh folder; return its last evaluation, training tokens and vocabulary size."""
    with tempfile.TemporaryDirectory() as folder:
        command = [sys.executable, "-m", "seqgen", "train", corpus, "--level", level, "--max-steps", str(steps),
                   "--eval-every", str(steps), "--eval-tokens", "0", "--patience", "0", "--layers", str(layers),
                   "--hidden", str(hidden), "--dropout", str(dropout), "--seed", str(seed), "--out", folder]
        if lr is not None:
            command += ["--lr", str(lr)]
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode:
            sys.exit(f"{' '.join(command)} failed:\n{done.stderr[-3000:]}")
        evals = [json.loads(line) for line in Path(folder, "metrics.jsonl").read_text().splitlines()]
        evals = [e for e in evals if "val_loss" in e]
        saved = checkpoint.load(Path(folder, "last.pt"))
        return {**evals[-1], "train_tokens": int(saved["data"]["train_tokens"]),
                "vocab_size": int(saved["model_config"]["vocab_size"])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus")
    parser.add_argument("--name", required=True, help="The corpus's name in the records.")
    parser.add_argument("--shapes", default="1x128,1x256,2x256,2x384,2x512,2x768")
    parser.add_argument("--steps", default="250,1000")
    parser.add_argument("--dropouts", default="0.2")
    parser.add_argument("--seeds", default="1")
    parser.add_argument("--lr", type=float, default=None, help="Peak learning rate [default: seqgen's].")
    parser.add_argument("--level", default="char")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    done = {run_key(json.loads(line)) for line in args.out.read_text().splitlines()} if args.out.exists() else set()
    chars = len(Path(args.corpus).read_text(encoding="utf-8")) if Path(args.corpus).is_file() else None
    for steps in map(int, args.steps.split(",")):
        for shape in args.shapes.split(","):
            layers, hidden = map(int, shape.split("x"))
            for dropout in map(float, args.dropouts.split(",")):
                for seed in map(int, args.seeds.split(",")):
                    record = {"corpus": args.name, "layers": layers, "hidden": hidden, "steps": steps,
                              "dropout": dropout, "seed": seed, "lr": args.lr}
                    if run_key(record) in done:
                        continue
                    start = time.perf_counter()
                    last = one_run(args.corpus, layers, hidden, steps, dropout, seed, args.level, args.lr)
                    record.update(level=args.level, corpus_chars=chars, tokens=last["tokens"],
                                  val_loss=last.get("val_loss_all") or last["val_loss"],
                                  train_tokens=last["train_tokens"],
                                  vocab_size=last["vocab_size"], wall_s=round(time.perf_counter() - start, 1))
                    with args.out.open("a", encoding="utf-8") as fh:
                        fh.write(json.dumps(record) + "\n")
                    print(json.dumps(record), flush=True)


if __name__ == "__main__":
    main()
