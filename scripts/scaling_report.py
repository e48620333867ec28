"""Training throughput of one process against several on this machine, and what limits scaling.

    python scripts/scaling_report.py CORPUS [--steps 300] [--repeats 3] [--nproc 2]

Trains the default model on CORPUS for ``--steps`` steps, ``--repeats`` times each, as
  1 process, batch 16 (the default);
  N processes, batch 16/N each (the same global batch: the same run, split);
  N processes, batch 16 each (N times the global batch: what the processes add).
Tokens/s is the tokens trained divided by the training time in the run's own log (data loading,
start-up and the final evaluation are not counted). Prints the median, lowest and highest, the ratio
to one process, and the gradient all-reduce volume per step that each process sends.
Run it on a quiet machine: anything else running takes the cores the processes share.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

BATCH = 16


def one_run(corpus: str, steps: int, nproc: int, batch: int, out: Path) -> float:
    """Train once; return tokens per second of training time."""
    command = [sys.executable, "-m", "seqgen", "train", corpus, "--max-steps", str(steps), "--eval-every",
               str(steps), "--batch-size", str(batch), "--out", str(out)]
    if nproc > 1:
        command += ["--nproc", str(nproc)]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"{' '.join(command)} failed:\n{done.stderr}")
    last = json.loads((out / "metrics.jsonl").read_text().splitlines()[-1])
    return last["tokens"] / last["elapsed"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--nproc", type=int, default=2)
    args = parser.parse_args()
    n = args.nproc
    settings = [(1, BATCH), (n, BATCH // n), (n, BATCH)]
    figures: dict[tuple[int, int], list[float]] = {s: [] for s in settings}
    with tempfile.TemporaryDirectory() as tmp:
        for repeat in range(args.repeats):  # interleaved, so that a slow spell does not hit one setting only
            for nproc, batch in settings:
                figures[nproc, batch].append(one_run(args.corpus, args.steps, nproc, batch,
                                                     Path(tmp) / f"{nproc}-{batch}-{repeat}"))
        params = sum(t.numel() for t in torch.load(Path(tmp) / f"1-{BATCH}-0" / "best.pt",
                                                   weights_only=True)["model_state"].values())
    reference = statistics.median(figures[1, BATCH])
    print(f"{'processes':>9} {'batch each':>10} {'global':>6} {'tokens/s median':>15} {'(min-max)':>17} {'ratio':>6}")
    for (nproc, batch), runs in figures.items():
        median = statistics.median(runs)
        print(f"{nproc:>9} {batch:>10} {nproc * batch:>6} {median:>15,.0f} "
              f"{f'({min(runs):,.0f}-{max(runs):,.0f})':>17} {median / reference:>5.2f}x")
    size = params * 4  # fp32 gradients
    print(f"\n{params:,} parameters: {size / 1e6:.1f} MB of gradients all-reduced per step; a ring all-reduce "
          f"sends 2(N-1)/N of that from each process: {2 * (n - 1) / n * size / 1e6:.1f} MB at N={n}.")


if __name__ == "__main__":
    main()
