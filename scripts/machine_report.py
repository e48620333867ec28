"""The README's figures per kind of machine, in one run: the machine, `seqgen bench`, a timed
training run, whole-command sampling and the studio's tunes.

    python scripts/machine_report.py CORPUS.txt --out report/ [--avx2] [--budget 10m] [--repeats 3]

``--avx2`` runs every step as on a CPU without AVX-512 or bf16 (oneDNN and torch's own kernels
capped at AVX2: ``ONEDNN_MAX_CPU_ISA=AVX2 ATEN_CPU_CAPABILITY=avx2``), emulated on this CPU.
Steps, each a real command:

1. ``seqgen bench --json`` (the machine's CPU model, flags and torch's capability are in it);
2. ``seqgen train CORPUS --time-budget BUDGET``: best held-out loss, steps, tokens;
3. ``seqgen sample`` of that model, 3,000 characters at batch 1 and 64 x 1,000, int8 and fp32,
   on 1 and 2 threads, ``--repeats`` times each in turns: the whole command's seconds, median,
   min and max;
4. where Chromium and Playwright are installed, ``scripts/studio_screenshot.py``'s time from the
   click to five tunes drawn, for a music model given with ``--music``.

Time on a quiet machine: anything running beside it takes its cores. Prints one JSON object and
writes it to ``OUT/report.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

AVX2 = {"ONEDNN_MAX_CPU_ISA": "AVX2", "ATEN_CPU_CAPABILITY": "avx2"}
SAMPLINGS = {"3000 chars, batch 1": ["--length", "3000"], "64 x 1000 chars": ["--length", "1000", "--num-samples", "64"]}


def seqgen(*args: str, env: dict, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "seqgen", *args], env=env, capture_output=True, text=True,
                          check=True, **kw)


def timed(args: list[str], env: dict) -> float:
    start = time.perf_counter()
    seqgen(*args, env=env)
    return time.perf_counter() - start


def spread(values: list[float]) -> dict:
    return {"median": round(statistics.median(values), 2), "min": round(min(values), 2), "max": round(max(values), 2)}


def training(corpus: Path, budget: str, out: Path, env: dict) -> dict:
    run = out / "run"
    seqgen("train", str(corpus), "--time-budget", budget, "--out", str(run), "--overwrite", env=env)
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    evals = [r for r in records if r.get("val_loss") is not None]
    return {"command": f"seqgen train {corpus.name} --time-budget {budget}", "best_val_loss": min(r["val_loss"] for r in evals),
            "steps": max(r["step"] for r in records), "tokens": max(r.get("tokens", 0) for r in records),
            "checkpoint": str(run / "best.pt")}


def sampling(checkpoint: str, repeats: int, env: dict) -> dict:
    cases = {(name, precision, threads): [*args, "--precision", precision, "--seed", "1"]
             for name, args in SAMPLINGS.items() for precision in ("int8", "fp32") for threads in (1, 2)}
    times: dict = {case: [] for case in cases}
    for _ in range(repeats):  # in turns, so that a change in the machine's load falls on every case
        for (name, precision, threads), args in cases.items():
            times[(name, precision, threads)].append(
                timed(["sample", checkpoint, *args], {**env, "OMP_NUM_THREADS": str(threads)}))
    return {f"{name}, {precision}, {threads} thread{'s' if threads > 1 else ''}": spread(values)
            for (name, precision, threads), values in times.items()}


def studio(music: Path, out: Path, env: dict) -> dict | str:
    script = Path(__file__).with_name("studio_screenshot.py")
    done = subprocess.run([sys.executable, str(script), str(music), "--out", str(out / "studio.png"), "--tunes", "5"],
                          env=env, capture_output=True, text=True)
    if done.returncode != 0:
        return f"not measured: {(done.stderr or done.stdout).strip().splitlines()[-1:]}"
    return done.stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--avx2", action="store_true", help="as on a CPU without AVX-512 or bf16 (emulated)")
    parser.add_argument("--budget", default="10m")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--music", type=Path, help="a folder of music checkpoints, for the studio's timing")
    parser.add_argument("--quick", action="store_true", help="seqgen bench --quick: to try the script out")
    args = parser.parse_args()
    env = {**os.environ, **(AVX2 if args.avx2 else {})}
    args.out.mkdir(parents=True, exist_ok=True)
    report: dict = {"emulated_avx2": args.avx2}
    report["bench"] = json.loads(seqgen("bench", "--json", *(["--quick"] if args.quick else []), env=env).stdout)
    report["training"] = training(args.corpus, args.budget, args.out, env)
    report["sampling_seconds"] = sampling(report["training"]["checkpoint"], args.repeats, env)
    if args.music:
        report["studio"] = studio(args.music, args.out, env)
    text = json.dumps(report, indent=1)
    (args.out / "report.json").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
