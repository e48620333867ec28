"""Folk tunes in ABC notation as a corpus format: .abc files, folders of them, ``builtin:NAME``.

The documents are tunes, cleaned and checked (``abc.read_tunes``); whole tunes are held out for
validation, chosen by a seeded shuffle, so that no tune is cut in half.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..data.corpus import Corpus, plural
from ..errors import CorpusError
from ..data.text_format import _text_files
from .abc import abc_files, is_builtin, source_paths
from .fill_units import bar_line_spans, tune_starts
from .verdicts import parse_cache_tag


class AbcFormat:
    name = "abc"

    def cache_tag(self) -> str:
        """Which tunes pass depends on music21's version and on the checks' rules."""
        return f"{self.name}, {parse_cache_tag()}"

    def claims(self, spec: str) -> bool:
        path = Path(spec)
        return is_builtin(spec) or path.suffix.lower() == ".abc" or (
            path.is_dir() and any(path.rglob("*.abc")) and not any(_text_files(path)))

    def files(self, specs: list[str]) -> list[Path]:
        return [f for f, _ in abc_files(source_paths(specs))]

    def read(self, specs: list[str], encoding: str = "utf-8",
             on_progress: Callable[[int, int], None] | None = None) -> Corpus:
        from .abc import read_tunes  # music21 is slow to import: only pay for it when ABC is read

        tunes = read_tunes(specs, on_progress=on_progress)
        notes = [tunes.repeated] if tunes.repeated else []
        if tunes.skipped_meter:
            notes.append(f"skipped {plural(len(tunes.skipped_meter), 'tune')} with a meter or note length no tune has "
                         f"({tunes.skipped_meter[0]})")
        if tunes.skipped_unparsable:
            notes.append(f"skipped {plural(tunes.skipped_unparsable, 'tune')} that music21 cannot read")
        if tunes.skipped_irregular:
            notes.append(f"skipped {plural(tunes.skipped_irregular, 'tune')} that fail the tune check (a bar as "
                         "written that does not last what the meter says, no meter or key, fewer than 4 bars; "
                         "`seqgen check` shows which)")
        if tunes.skipped_unparsable or tunes.skipped_irregular or tunes.skipped_meter:
            notes.append(f"training on the other {plural(len(tunes.tunes), 'tune')}")
        if tunes.duplicates:
            notes.append(f"left out {plural(tunes.duplicates, 'duplicate tune')} (same music, other title)")
        return Corpus(tunes.tunes, self.name, list(specs), notes)

    def split(self, ids: np.ndarray, starts: np.ndarray, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
        train, val = held_out_documents(len(starts) - 1, val_fraction, seed)
        return _gather(ids, starts, train), _gather(ids, starts, val)

    def fill_documents(self, train_ids: np.ndarray, vocab) -> np.ndarray | None:
        """Filling in the middle rearranges whole tunes (``data/arrange.py``)."""
        return tune_starts(train_ids, vocab)

    def bar_lines(self, ids: np.ndarray, vocab) -> np.ndarray | None:
        """Where a tune's bar lines are, so that a middle can be whole bars."""
        return bar_line_spans(ids, vocab)

    def summary(self, train_ids: np.ndarray, vocab) -> dict:
        """The meters and keys of the training tunes, counted (``fields_seen``)."""
        from .fields_seen import count_fields

        return {"fields": count_fields(vocab.decode(train_ids))}


def held_out_documents(count: int, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices of training and held-out documents: whole tunes, chosen by a seeded shuffle."""
    if count < 2:
        raise CorpusError("an ABC corpus needs at least two tunes (one is held out for validation)")
    order = np.random.default_rng(seed).permutation(count)
    n_val = max(1, round(count * val_fraction))
    return order[:-n_val], order[-n_val:]


def _gather(ids: np.ndarray, starts: np.ndarray, docs: np.ndarray) -> np.ndarray:
    return np.concatenate([ids[starts[d]:starts[d + 1]] for d in docs])
