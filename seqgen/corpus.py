"""Read training text from files, folders and built-in ABC collections.

A corpus is a list of documents (files, or tunes for ABC). Its ``kind`` ("text" or "abc") is
decided from the input and stored in the checkpoint, so sampling knows whether to produce tunes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import CorpusError, UsageError
from .vocab import EOS_ID, Vocab

TEXT_SUFFIXES = {".txt", ".text", ".md", ".rst", ""}
_SNIFF_BYTES = 8192


@dataclass
class Corpus:
    documents: list[str]
    kind: str  # "text" or "abc"
    sources: list[str]
    notes: list[str] = field(default_factory=list)  # things the user should hear about (skips)

    @property
    def chars(self) -> int:
        return sum(len(d) for d in self.documents)


def source_files(specs: list[str]) -> list[Path]:
    """The files that ``read_corpus(specs)`` reads (those that exist), in reading order."""
    from .music.abc import source_paths

    files: list[Path] = []
    for path in source_paths(specs) if any(map(_is_abc_source, specs)) else map(Path, specs):
        if path.is_dir():
            files.extend(sorted(path.rglob("*.abc")) if any(map(_is_abc_source, specs)) else _text_files(path))
        elif path.is_file():
            files.append(path)
    return files


def _is_abc_source(spec: str) -> bool:
    return spec.startswith("builtin:") or Path(spec).suffix.lower() == ".abc" or (
        Path(spec).is_dir() and any(Path(spec).rglob("*.abc")) and not any(_text_files(Path(spec)))
    )


def _text_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in TEXT_SUFFIXES
                  and not any(part.startswith(".") for part in p.relative_to(folder).parts))


def read_text_file(path: Path, encoding: str = "utf-8") -> str:
    """Read one text file, refusing binary data and explaining how to fix a wrong encoding."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise CorpusError(f"cannot read {path}: {exc.strerror or exc}") from None
    if b"\x00" in raw[:_SNIFF_BYTES] and not encoding.lower().startswith("utf-16"):
        raise CorpusError(f"{path} looks like a binary file (it contains NUL bytes); give a text file")
    try:
        text = raw.decode(encoding)
    except LookupError:
        raise UsageError(f"unknown --encoding {encoding!r}; try utf-8 or latin-1") from None
    except UnicodeDecodeError as exc:
        raise CorpusError(
            f"{path} is not valid {encoding} (byte {exc.start}); pass --encoding with the file's "
            "encoding, e.g. --encoding latin-1"
        ) from None
    return text.replace("\r\n", "\n").replace("\r", "\n")


def read_corpus(specs: list[str], encoding: str = "utf-8",
                on_progress: Callable[[int, int], None] | None = None) -> Corpus:
    """Read every file, folder (``.txt`` inside, recursively) or ``builtin:NAME`` in ``specs``.

    ``on_progress(done, total)`` reports the slow part of reading tunes (music21's parse check).
    """
    if not specs:
        raise UsageError("give at least one text file, folder or builtin:NAME to train on")
    abc = [_is_abc_source(s) for s in specs]
    if any(abc):
        if not all(abc):
            raise UsageError("mix of ABC tunes and plain text: train on one kind at a time")
        return _read_abc(specs, on_progress)
    documents, sources = [], []
    for spec in specs:
        path = Path(spec)
        if not path.exists():
            raise CorpusError(f"{spec}: no such file or folder")
        files = _text_files(path) if path.is_dir() else [path]
        if path.is_dir() and not files:
            raise CorpusError(f"{spec}: folder has no text files (.txt) or tunes (.abc); "
                              "point at a text file, ABC files or builtin:NAME")
        for file in files:
            documents.append(read_text_file(file, encoding))
            sources.append(str(file))
    if not any(d.strip() for d in documents):
        raise CorpusError(f"{', '.join(specs)}: no text (empty or only whitespace); give a file with text")
    return Corpus([d for d in documents if d.strip()], "text", sources)


def _read_abc(specs: list[str], on_progress: Callable[[int, int], None] | None = None) -> Corpus:
    from .music import abc  # music21 is slow to import: only pay for it when ABC is trained

    tunes = abc.read_tunes(specs, on_progress=on_progress)
    notes = []
    if tunes.skipped_unparsable:
        notes.append(f"skipped {_plural(tunes.skipped_unparsable, 'tune')} that music21 cannot read")
    if tunes.skipped_irregular:
        notes.append(f"skipped {_plural(tunes.skipped_irregular, 'tune')} that fail the tune check (bars that "
                     "do not add up to the meter, no meter, fewer than 4 bars)")
    if tunes.skipped_unparsable or tunes.skipped_irregular:
        notes.append(f"training on the other {_plural(len(tunes.tunes), 'tune')}")
    if tunes.duplicates:
        notes.append(f"left out {_plural(tunes.duplicates, 'duplicate tune')} (same music, other title)")
    return Corpus(tunes.tunes, "abc", list(specs), notes)


def _plural(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"
