"""Export every tune of O'Neill's Music of Ireland (1850) to MIDI and report how it went.

    python scripts/export_oneills_report.py [--out DIR] [--verify] [--workers N]

Prints: tunes found, tunes music21 parses, MIDI files written, fallbacks used by kind, failures
(which should be 0), and how many files hold the score's notes by the export's own check, which
reads every file back. ``--verify`` checks again independently of the export: each tune is
parsed afresh from the ABC file and its notes compared with the MIDI file on disk (pitch, onset
and length of every note; repeats played out or not, as the fallback that wrote it does); it
takes about 60% longer. Files go to a temporary folder unless ``--out``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout, uninstalled

from seqgen.music.abc import builtin_paths, clean_tune, read_abc_text, split_tunes  # noqa: E402
from seqgen.music.export import export_abc_file  # noqa: E402
from seqgen.music.notes import notes_differ  # noqa: E402
from seqgen.music.m21 import parse_abc  # noqa: E402
from seqgen.music.repeats import played_abc  # noqa: E402
from seqgen.music.workers import process_map  # noqa: E402

NOT_METHODS = ("checked", "notes differ", "verified", "verify differs")  # counts that are not a method


def export_one_file(args: tuple[Path, Path, bool]) -> tuple[str, Counter, list[str]]:
    """Export one ABC file; count outcomes; list tunes whose MIDI notes differ from the score."""
    path, out_dir, verify = args
    counts: Counter = Counter()
    mismatches = []
    raw_tunes = split_tunes(read_abc_text(path))
    for raw, result in zip(raw_tunes, export_abc_file(path, out_dir)):
        counts[result.method] += 1
        if result.path is None:
            continue
        name = f"{path.name} {raw.splitlines()[0]} {result.title} ({result.method})"
        counts["checked"] += 1
        if result.mismatch:
            counts["notes differ"] += 1
            mismatches.append(f"{name}: {result.mismatch}")
        if verify:
            played = played_abc(clean_tune(raw))[0]  # the repeat signs as the export reads them
            why = notes_differ(parse_abc(played), result.path, result.expands_repeats)
            counts["verify differs" if why else "verified"] += 1
            if why:
                mismatches.append(f"{name}, on a fresh parse: {why}")
    return path.name, counts, mismatches


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, help="folder for the MIDI files (default: a temporary one)")
    parser.add_argument("--verify", action="store_true", help="compare each MIDI file with a fresh parse too")
    parser.add_argument("--workers", type=int, default=None, help="processes (default: one per core)")
    args = parser.parse_args()
    start = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or Path(tmp)
        files = builtin_paths("oneills")
        totals: Counter = Counter()
        mismatches: list[str] = []
        for name, counts, bad in process_map(export_one_file, [(f, out, args.verify) for f in files],
                                             workers=args.workers):
            totals += counts
            mismatches += bad
            print(f"  {name}: {sum(n for m, n in counts.items() if m not in NOT_METHODS)} tunes",
                  file=sys.stderr, flush=True)
        written = len(list(out.glob("*.mid")))
    report(len(files), totals, written, mismatches, args.verify, time.time() - start)
    return 0 if totals["failed"] == 0 and not mismatches else 1


def report(n_files: int, totals: Counter, written: int, mismatches: list[str], verify: bool, seconds: float) -> None:
    methods = {m: n for m, n in totals.items() if m not in NOT_METHODS}
    found = sum(methods.values())
    print(f"O'Neill's Music of Ireland (1850): {n_files} files, {seconds:.0f} s")
    print(f"tunes found:             {found}")
    print(f"tunes music21 parses:    {found - totals['failed']}")
    print(f"MIDI files written:      {written}")
    for method, n in sorted(methods.items(), key=lambda kv: -kv[1]):
        if method != "failed":
            print(f"  written by {method + ':':30} {n}")
    print(f"failures:                {totals['failed']}")
    print(f"notes match the score:   {totals['checked'] - totals['notes differ']} of {totals['checked']}"
          " (the export's own check)")
    if verify:
        print(f"  on a fresh parse:      {totals['verified']} of {totals['verified'] + totals['verify differs']}")
    for line in mismatches:
        print(f"  notes differ: {line}")


if __name__ == "__main__":
    sys.exit(main())
