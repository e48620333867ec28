"""Export every tune of O'Neill's Music of Ireland (1850) to MIDI and report how it went.

    python scripts/export_oneills_report.py [--out DIR] [--verify] [--workers N]

Prints: tunes found, tunes music21 parses, MIDI files written, fallbacks used by kind, failures
(which should be 0). With ``--verify`` each MIDI file is read back and its notes compared with
the parsed score (pitches in order, durations within 1/48 of a quarter; repeats played out or
not, as the fallback that wrote it does). Files go to a temporary folder unless ``--out``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout, uninstalled

from seqgen.music.abc import builtin_paths, clean_tune, split_tunes  # noqa: E402
from seqgen.music.export import export_abc_file, note_events  # noqa: E402
from seqgen.music.validate import parse_abc  # noqa: E402

TOLERANCE = 1 / 48  # MIDI ticks round durations a little


def same_notes(score, midi_path: Path, expand: bool) -> bool:
    """Pitches equal and in order, durations equal within TOLERANCE."""
    want, got = note_events(score, expand_repeats=expand), note_events(midi_path)
    return len(want) == len(got) and all(
        p == q and abs(a - b) <= TOLERANCE for (p, a), (q, b) in zip(want, got))


def export_one_file(args: tuple[Path, Path, bool]) -> tuple[str, Counter, list[str]]:
    """Export one ABC file; count outcomes; list tunes whose MIDI notes differ from the score."""
    path, out_dir, verify = args
    counts: Counter = Counter()
    mismatches = []
    raw_tunes = split_tunes(path.read_text(encoding="utf-8"))
    results = export_abc_file(path, out_dir)
    for raw, result in zip(raw_tunes, results):
        counts[result.method] += 1
        if verify and result.path is not None:
            ok = same_notes(parse_abc(clean_tune(raw)), result.path, result.expands_repeats)
            counts["verified" if ok else "notes differ"] += 1
            if not ok:
                mismatches.append(f"{path.name} {raw.splitlines()[0]} {result.title} ({result.method})")
    return path.name, counts, mismatches


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="folder for the MIDI files (default: a temporary one)")
    parser.add_argument("--verify", action="store_true", help="read each MIDI back and compare its notes")
    parser.add_argument("--workers", type=int, default=None, help="processes (default: one per core)")
    args = parser.parse_args()
    start = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or Path(tmp)
        files = builtin_paths("oneills")
        totals: Counter = Counter()
        mismatches: list[str] = []
        with ProcessPoolExecutor(args.workers) as pool:
            for name, counts, bad in pool.map(export_one_file, [(f, out, args.verify) for f in files]):
                totals += counts
                mismatches += bad
                print(f"  {name}: {sum(counts[m] for m in counts if m not in ('verified', 'notes differ'))} tunes",
                      file=sys.stderr, flush=True)
        written = len(list(out.glob("*.mid")))
    report(len(files), totals, written, mismatches, args.verify, time.time() - start)
    return 0 if totals["failed"] == 0 and not mismatches else 1


def report(n_files: int, totals: Counter, written: int, mismatches: list[str], verify: bool, seconds: float) -> None:
    methods = {m: n for m, n in totals.items() if m not in ("verified", "notes differ")}
    found = sum(methods.values())
    print(f"O'Neill's Music of Ireland (1850): {n_files} files, {seconds:.0f} s")
    print(f"tunes found:             {found}")
    print(f"tunes music21 parses:    {found - totals['failed']}")
    print(f"MIDI files written:      {written}")
    for method, n in sorted(methods.items(), key=lambda kv: -kv[1]):
        if method != "failed":
            print(f"  written by {method + ':':30} {n}")
    print(f"failures:                {totals['failed']}")
    if verify:
        print(f"notes match the score:   {totals['verified']} of {totals['verified'] + totals['notes differ']}")
        for line in mismatches[:20]:
            print(f"  notes differ: {line}")


if __name__ == "__main__":
    sys.exit(main())
