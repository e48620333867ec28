"""Folk tunes in ABC notation: built-in collections, splitting, cleaning, de-duplication."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import CorpusError

BUILTIN_CORPORA = {
    "oneills": ("O'Neill's Music of Ireland (1850)", ["oneills1850"]),
    "ryans": ("Ryan's Mammoth Collection (1883)", ["ryansMammoth"]),
    "airds": ("Aird's Selection of Airs (1782-1803)", ["airdsAirs"]),
    "essen": ("Essen folk song collection", ["essenFolksong"]),
    "folk": ("Miscellaneous folk tunes and the Nottingham dataset", ["miscFolk", "nottingham-dataset"]),
}
KEEP_FIELDS = "XTMLQRK"  # what defines the music; the rest (notes, sources, transcribers) is dropped
_FIELD = re.compile(r"^([A-Za-z]):(.*)$")


def music21_corpus_dir() -> Path:
    import music21.corpus

    return Path(music21.corpus.__file__).parent


def builtin_paths(name: str) -> list[Path]:
    """The ABC files of a built-in corpus that ships with music21."""
    if name not in BUILTIN_CORPORA:
        raise CorpusError(f"unknown built-in corpus {name!r}; known: {', '.join(BUILTIN_CORPORA)}")
    root = music21_corpus_dir()
    return sorted(p for sub in BUILTIN_CORPORA[name][1] for p in (root / sub).rglob("*.abc"))


def split_tunes(text: str) -> list[str]:
    """Cut a file into tunes at each line starting with ``X:``; text before the first is dropped."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    starts = [m.start() for m in re.finditer(r"(?m)^X:", text)]
    return [text[a:b] for a, b in zip(starts, starts[1:] + [len(text)])]


def clean_tune(raw: str) -> str | None:
    """Keep X: T: M: L: Q: R: K: and the body; drop comments and other fields; X:1 always."""
    header: dict[str, str] = {}
    body: list[str] = []
    for line in raw.split("\n"):
        line = line.split("%", 1)[0].rstrip()
        if not line.strip():
            if body:
                break  # a blank line ends the tune
            continue
        field = _FIELD.match(line)
        if field and not body and field.group(1) in KEEP_FIELDS:
            key = field.group(1)
            if key == "T" and "T" in header:
                continue  # alternative titles add nothing to the music
            header.setdefault(key, field.group(2).strip())
        elif field and (not body or field.group(1) not in "KMLQ"):
            continue  # other fields (notes, lyrics, sources) say nothing about the music
        elif "K" in header:
            body.append(re.sub(r"\s+", " ", line.strip()))
    if "K" not in header or not body:
        return None
    header["X"] = "1"
    lines = [f"{k}:{header[k]}" for k in "XTMLQRK" if k in header]
    return "\n".join(lines + body) + "\n"


@dataclass
class TuneSet:
    tunes: list[str]
    files: int
    skipped_unparsable: int = 0
    duplicates: int = 0


def read_tunes(paths: list[Path], check_parse: bool = False) -> TuneSet:
    """Read, clean and de-duplicate the tunes of ``.abc`` files and folders of them."""
    files: list[Path] = []
    for path in map(Path, paths):
        if not path.exists():
            raise CorpusError(f"{path}: no such file or folder")
        found = sorted(path.rglob("*.abc")) if path.is_dir() else [path]
        if not found:
            raise CorpusError(f"{path}: folder has no .abc files")
        files.extend(found)
    tunes, seen, duplicates, skipped = [], set(), 0, 0
    for file in files:
        raw = file.read_text(encoding="utf-8", errors="replace")
        pieces = split_tunes(raw)
        for piece in pieces:
            tune = clean_tune(piece)
            if tune is None:
                skipped += 1
                continue
            key = re.sub(r"(?m)^T:.*\n", "", tune)
            if key in seen:
                duplicates += 1
                continue
            seen.add(key)
            tunes.append(tune)
    if not tunes:
        raise CorpusError(f"no tunes found in {', '.join(map(str, paths))}; ABC tunes start with an X: line and have a K: line")
    return TuneSet(tunes, len(files), skipped, duplicates)
