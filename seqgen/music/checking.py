"""``seqgen check``: the tune check on anyone's ABC files, tune by tune, bar by bar."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .abc import abc_files, clean_tune, read_abc_text, source_paths, split_tunes, tune_title
from .validate import check_tune
from .workers import process_map


@dataclass
class TuneReport:
    """The check's verdict on one tune of a file (``n``: its place in the file, from 1)."""

    file: str
    n: int
    title: str
    valid: bool
    reasons: list[str] = field(default_factory=list)
    bars: list[dict] = field(default_factory=list)  # each written bar: number, length, meter, ok, rule

    def as_dict(self) -> dict:
        return asdict(self)


def check_files(specs: Iterable[str | Path], on_progress: Callable[[int, int], None] | None = None) -> list[TuneReport]:
    """Check every tune of ABC files, folders of them and ``builtin:NAME``, in worker processes.

    A tune is checked as seqgen reads it for training and export (``abc.clean_tune``: comments,
    lyrics and free text left out), so its bars are the written ones.
    """
    files = list(dict.fromkeys(f for f, _ in abc_files(source_paths(specs))))
    items = [(str(f), n, raw) for f in files for n, raw in enumerate(split_tunes(read_abc_text(f)), 1)]
    reports = []
    for report in process_map(report_tune, items, min_items=64, chunksize=8):
        reports.append(report)
        if on_progress:
            on_progress(len(reports), len(items))
    return reports


def report_tune(item: tuple[str, int, str]) -> TuneReport:
    """The report on one raw tune; top-level so that worker processes can run it."""
    file, n, raw = item
    title = tune_title(raw)
    tune = clean_tune(raw)
    if tune is None:
        return TuneReport(file, n, title, False, ["no key (K:) or no notes"])
    check = check_tune(tune)
    return TuneReport(file, n, title, check.valid, check.reasons, [v.as_dict() for v in check.bars])
