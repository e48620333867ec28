"""How torch's threads should wait for each other: a training step of the default 2x512 LSTM (batch
16 x 128 characters, fp32) timed with threads that spin while they wait (``OMP_WAIT_POLICY=ACTIVE``),
that sleep (``PASSIVE``), with OpenMP's default (spin a while, then sleep), spinning a given number
of turns before they sleep (libgomp's ``GOMP_SPINCOUNT``; seqgen sets 300), and on one thread, on
a quiet machine and beside ``--busy`` processes that keep a core each busy (as a sampling or a
second training in the next terminal does).

    python scripts/thread_wait_report.py [--busy 0 1] [--repeats 3] [--steps 8]

Each case is a fresh process (OpenMP reads the policy when torch loads), the cases in turns.
Prints seconds per step, median (min-max), per case and load.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

STEP = """
import time, torch
torch.manual_seed(0)
emb, lstm, head = torch.nn.Embedding(90, 512), torch.nn.LSTM(512, 512, 2, batch_first=True), torch.nn.Linear(512, 90)
params = [*emb.parameters(), *lstm.parameters(), *head.parameters()]
opt = torch.optim.AdamW(params, 1e-3)
x, y = torch.randint(0, 90, (16, 128)), torch.randint(0, 90, (16, 128))
def step():
    out, _ = lstm(emb(x))
    loss = torch.nn.functional.cross_entropy(head(out).flatten(0, 1), y.flatten())
    opt.zero_grad(); loss.backward(); opt.step()
step()
start = time.perf_counter()
for _ in range({steps}):
    step()
print((time.perf_counter() - start) / {steps})
"""
BUSY = "import torch\ntorch.set_num_threads(1)\na = torch.randn(512, 512)\nwhile True:\n    a @ a\n"
CASES = {"OpenMP's default (spin a while, then sleep), 2 threads": {}, "spin, 2 threads": {"OMP_WAIT_POLICY": "ACTIVE"},
         "sleep, 2 threads": {"OMP_WAIT_POLICY": "PASSIVE"}, "1 thread": {"OMP_NUM_THREADS": "1"},
         # libgomp (torch's OpenMP on Linux) spins GOMP_SPINCOUNT turns (300,000 by default), then sleeps
         **{f"spin {n:,} times, then sleep, 2 threads": {"GOMP_SPINCOUNT": str(n)}
            for n in (100, 300, 1_000, 10_000, 30_000)}}
WAITING = ("OMP_WAIT_POLICY", "OMP_NUM_THREADS", "GOMP_SPINCOUNT", "KMP_BLOCKTIME")


def seconds_per_step(extra: dict, steps: int) -> float:
    env = {k: v for k, v in os.environ.items() if k not in WAITING} | extra
    done = subprocess.run([sys.executable, "-c", STEP.format(steps=steps)], env=env, capture_output=True, text=True,
                          check=True)
    return float(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--busy", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--steps", type=int, default=8)
    args = parser.parse_args()
    report = {"cpu_count": os.cpu_count()}
    for busy in args.busy:
        others = [subprocess.Popen([sys.executable, "-c", BUSY]) for _ in range(busy)]
        try:
            times: dict = {case: [] for case in CASES}
            for _ in range(args.repeats):
                for case, extra in CASES.items():
                    times[case].append(seconds_per_step(extra, args.steps))
        finally:
            for other in others:
                other.kill()
        report[f"{busy} busy"] = {case: {"median": round(statistics.median(v), 3), "min": round(min(v), 3),
                                         "max": round(max(v), 3)} for case, v in times.items()}
        print(json.dumps({f"{busy} busy": report[f"{busy} busy"]}), flush=True)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
