"""Plain text: files, and folders of .txt (and .md, .rst, ...) files, read recursively.

Held out for validation: the last part of the token stream (the usual convention, e.g. nanoGPT's
90/10 split), as views of the (memory-mapped) array.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from .corpus import Corpus, distinct_files, read_text_file
from ..errors import CorpusError

TEXT_SUFFIXES = {".txt", ".text", ".md", ".rst", ""}
RULES = 1  # bump when reading or cleaning text changes: cached token ids then no longer hold


class TextFormat:
    name = "text"

    def cache_tag(self) -> str:
        return f"{self.name} {RULES}"

    def claims(self, spec: str) -> bool:
        return True  # whatever no other format claims is read as text

    def files(self, specs: list[str]) -> list[Path]:
        return distinct_files(self._listed(specs))[0]

    def _listed(self, specs: list[str]) -> list[Path]:
        """Every file ``specs`` name, in order, a file given twice twice."""
        files: list[Path] = []
        for spec in specs:
            path = Path(spec)
            if not path.exists():
                raise CorpusError(f"{spec}: no such file or folder")
            found = _text_files(path) if path.is_dir() else [path]
            if path.is_dir() and not found:
                raise CorpusError(f"{spec}: folder has no text files (.txt) or tunes (.abc); "
                                  "point at a text file, ABC files or builtin:NAME")
            files.extend(found)
        return files

    def read(self, specs: list[str], encoding: str = "utf-8",
             on_progress: Callable[[int, int], None] | None = None) -> Corpus:
        files, repeated = distinct_files(self._listed(specs))
        documents = [read_text_file(f, encoding) for f in files]
        if not any(d.strip() for d in documents):
            raise CorpusError(f"{', '.join(specs)}: no text (empty or only whitespace); give a file with text")
        return Corpus([d for d in documents if d.strip()], self.name, [str(f) for f in files],
                      [repeated] if repeated else [])

    def split(self, ids: np.ndarray, starts: np.ndarray, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
        n_val = int(len(ids) * val_fraction)
        return ids[: len(ids) - n_val], ids[len(ids) - n_val:]

    def summary(self, train_ids: np.ndarray, vocab) -> dict:
        return {}


def _text_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in TEXT_SUFFIXES
                  and not any(part.startswith(".") for part in p.relative_to(folder).parts))
