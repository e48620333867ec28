"""How good a music model's tunes are, by the bar check as written: for each seed, ``--tunes``
tunes drawn as ``seqgen sample --tunes`` draws them, with and without the bar guide.

    python scripts/tune_report.py CHECKPOINT [--seeds 1 2 3 4 5] [--tunes 100] [--meter 3/4 --key G]
                                  [--no-guide] [--top-p 1.0] [--json OUT.json]
    python scripts/tune_report.py --corpus builtin:oneills


Per seed: tunes valid on the first try, tunes returned valid after the re-draws (up to 5 rounds),
re-draws needed, the share of 16-note phrases copied from the model's training tunes, and, where
abc2abc (Debian's abcmidi) is installed, its bar errors per 100 bars of the returned tunes. Then
the median with min and max over the seeds. With ``--corpus``, the same abc2abc figure for a
collection's own tunes: all of them, and those the check keeps for training.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout, uninstalled

import seqgen  # noqa: E402
from seqgen.formats import read_corpus  # noqa: E402
from seqgen.music.abc_format import held_out_documents  # noqa: E402
from seqgen.music.bars import written_bars  # noqa: E402
from seqgen.music.tunes import TUNE_TOP_P, sample_tunes  # noqa: E402
from seqgen.music.validate import copied_share  # noqa: E402


def abc2abc_errors_per_100_bars(tunes: list[str]) -> float | None:
    """abc2abc's "Bar N is ... not ..." reports per 100 written bars; None without abc2abc. One
    run per tune: in a file of many, a broken tune can hide the next one's bars from abc2abc."""
    if not tunes or shutil.which("abc2abc") is None:
        return None
    errors = 0
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "tune.abc"
        for tune in tunes:
            path.write_text(tune)
            out = subprocess.run(["abc2abc", str(path)], capture_output=True, text=True, timeout=60).stdout
            errors += len(re.findall(r"(?m)^%Error : Bar \d+ is", out))
    bars = sum(len(written_bars(t)) for t in tunes)
    return 100 * errors / max(bars, 1)


def training_tunes(model) -> list[str]:
    data = model.data
    tunes = read_corpus(data["sources"]).documents
    return [tunes[i] for i in held_out_documents(len(tunes), data["val_fraction"], data["seed"])[0]]


def one_seed(model, seed: int, count: int, guide: bool, wanted, training: list[str], top_p: float) -> dict:
    cfg = model.sample_config("", 1, 0.8, None, top_p, seed, 1, "auto")
    start = time.perf_counter()
    batch = sample_tunes(model.sampler(cfg.precision), model.vocab, count, cfg, 5, warmup=model.warmup,
                         conditions=wanted, guide=guide)
    returned = [text for text, _ in batch.valid]
    return {"seed": seed, "first_try_valid_pct": 100 * batch.first_try_valid / count,
            "returned_valid_pct": 100 * len(batch.valid) / count, "redraws": batch.resampled,
            "copied_phrases_pct": 100 * copied_share(returned, training) if returned else None,
            "abc2abc_errors_per_100_bars": abc2abc_errors_per_100_bars(returned),
            "seconds": round(time.perf_counter() - start, 1)}


def corpus_report(source: str) -> dict:
    from seqgen.music.abc import read_tunes
    from seqgen.music.validate import check_tune

    tunes = read_tunes([source], check=False).tunes
    kept = [t for t in tunes if check_tune(t).valid]
    return {"corpus": source, "tunes": len(tunes), "kept": len(kept),
            "abc2abc_errors_per_100_bars": abc2abc_errors_per_100_bars(tunes),
            "kept_abc2abc_errors_per_100_bars": abc2abc_errors_per_100_bars(kept)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint", nargs="?")
    parser.add_argument("--corpus", help="report on a collection's own tunes instead (builtin:NAME or files)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    parser.add_argument("--tunes", type=int, default=100)
    parser.add_argument("--meter")
    parser.add_argument("--key")
    parser.add_argument("--no-guide", action="store_true", help="draw without the bar guide")
    parser.add_argument("--top-p", type=float, default=TUNE_TOP_P, help="nucleus sampling (1.0: none)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    if args.corpus:
        print(json.dumps(corpus_report(args.corpus)))
        return
    if not args.checkpoint:
        parser.error("give a CHECKPOINT, or --corpus")
    model = seqgen.load(args.checkpoint)
    wanted = model.tune_conditions(args.meter, args.key)
    training = training_tunes(model)
    rows = []
    for seed in args.seeds:
        rows.append(one_seed(model, seed, args.tunes, not args.no_guide, wanted, training, args.top_p))
        print(json.dumps(rows[-1]), flush=True)
    summary = {}
    for key in rows[0]:
        values = [r[key] for r in rows if r[key] is not None]
        if key != "seed" and values:
            summary[key] = {"median": statistics.median(values), "min": min(values), "max": max(values)}
    print(json.dumps({"checkpoint": args.checkpoint, "guide": not args.no_guide, "top_p": args.top_p, "conditions": wanted.as_options(),
                      "summary": summary}))
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "summary": summary}, indent=1))


if __name__ == "__main__":
    main()
