"""Folk tunes in ABC notation: built-in collections, splitting, cleaning, de-duplication.

Data flow: files -> ``split_tunes`` (one string per ``X:``) -> ``clean_tune`` (only the fields
that define the music, ``X:1``, no comments) -> de-duplication -> optionally music21's verdict
on each tune (``verdicts.py``), which keeps only the tunes fit to train on.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ..data.corpus import distinct_files, read_bytes
from ..errors import CorpusError
from .verdicts import tune_verdicts

BUILTIN_CORPORA = {
    "oneills": ("O'Neill's Music of Ireland (1850)", ["oneills1850"]),
    "ryans": ("Ryan's Mammoth Collection (1883)", ["ryansMammoth"]),
    "airds": ("Aird's Selection of Airs (1782-1803)", ["airdsAirs"]),
    "essen": ("Essen folk song collection", ["essenFolksong"]),
    "folk": ("Miscellaneous folk tunes and the Nottingham dataset", ["miscFolk", "nottingham-dataset"]),
}
BUILTIN_PREFIX = "builtin:"
HEADER_FIELDS = "XTMLQRK"  # kept in the header, in this order; the rest (notes, sources) is dropped
BODY_FIELDS = "KMLQPV"  # fields inside the body that change the music: key, meter, length, tempo, part, voice

_FIELD = re.compile(r"^([A-Za-z+]):(.*)$")
_INLINE_FIELD = re.compile(r"\[([A-Za-z]):[^\]\n]*\]")
_COMMENT = re.compile(r"(?<!\\)%.*")  # ``\%`` is a literal percent sign in ABC text


def music21_corpus_dir() -> Path:
    """The folder of music21's bundled corpus (installed with music21, no download)."""
    import music21.corpus

    return Path(music21.corpus.__file__).parent


def is_builtin(spec: str | Path) -> bool:
    """True for a source written as ``builtin:NAME``."""
    return isinstance(spec, str) and spec.startswith(BUILTIN_PREFIX)


def builtin_paths(name: str) -> list[Path]:
    """The ABC files of a built-in corpus that ships with music21 (``name`` with or without ``builtin:``)."""
    name = name.removeprefix(BUILTIN_PREFIX)
    if name not in BUILTIN_CORPORA:
        known = ", ".join(BUILTIN_PREFIX + n for n in BUILTIN_CORPORA)
        raise CorpusError(f"unknown built-in corpus {name!r}; known: {known}")
    root = music21_corpus_dir()
    files = sorted(p for sub in BUILTIN_CORPORA[name][1] for p in (root / sub).rglob("*.abc"))
    if not files:
        raise CorpusError(f"built-in corpus {name!r} is missing from music21 at {root}; reinstall music21")
    return files


def source_paths(specs: Iterable[str | Path]) -> list[Path]:
    """Paths for a mix of ``builtin:NAME`` specs, files and folders (folders are kept as folders)."""
    paths: list[Path] = []
    for spec in specs:
        paths.extend(builtin_paths(spec) if is_builtin(spec) else [Path(spec)])
    return paths


def split_tunes(text: str) -> list[str]:
    """Cut a file into tunes at each line starting with ``X:``; text before the first is dropped."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    starts = [m.start() for m in re.finditer(r"(?m)^X:", text)]
    return [text[a:b] for a, b in zip(starts, starts[1:] + [len(text)])]


def clean_tune(raw: str) -> str | None:
    """One tune as the model should see it, or None when it has no ``K:`` field or no notes.

    Keeps ``X: T: M: L: Q: R: K:`` in the header (first title only; ``X:1`` always, so the model
    does not learn arbitrary numbers) and the body with its key/meter/length/tempo/part/voice
    changes; drops comments, notes, sources, lyrics and the like. A blank line ends a tune (as in
    ABC), whitespace runs become one space.
    """
    header: dict[str, str] = {}
    body: list[str] = []
    for line in raw.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if not line.strip():
            if body:
                break  # a blank line ends the tune; what follows is free text
            continue
        line = " ".join(_COMMENT.sub("", line).split())
        if not line:
            continue  # a comment-only line is not a blank line: the tune goes on
        field = _FIELD.match(line)
        if "K" not in header:
            if field and field.group(1) in HEADER_FIELDS:
                header.setdefault(field.group(1), " ".join(field.group(2).split()))
            continue  # other header fields and stray text before K: say nothing about the music
        if field and field.group(1) not in BODY_FIELDS:
            continue  # lyrics (w:, W:), notes (N:), sources... inside the body
        if not field:
            line = _INLINE_FIELD.sub(lambda m: m.group(0) if m.group(1) in BODY_FIELDS else "", line).strip()
        if line:
            body.append(line if not field else f"{field.group(1)}:{field.group(2).strip()}")
    if "K" not in header or not any(not _FIELD.match(line) for line in body):
        return None
    header["X"] = "1"
    return "\n".join([f"{k}:{header[k]}" for k in HEADER_FIELDS if k in header] + body) + "\n"


def tune_title(tune: str) -> str:
    """The tune's first title (its first ``T:`` line), or "" when it has none."""
    return (re.findall(r"(?m)^T:[ \t]*(.*)$", tune) or [""])[0].strip()


def tune_key(tune: str) -> str:
    """What makes two cleaned tunes the same: everything except their title."""
    return re.sub(r"(?m)^T:.*\n", "", tune)


@dataclass
class TuneSet:
    """Cleaned, de-duplicated tunes and what was left out on the way."""

    tunes: list[str]
    files: int
    skipped_unparsable: int = 0  # music21 cannot read them
    skipped_irregular: int = 0  # fail the tune check: bars that do not add up to the meter, no meter
    duplicates: int = 0  # same music as an earlier tune (titles aside)
    skipped_incomplete: int = 0  # no K: field or no notes
    skipped_meter: list[str] = field(default_factory=list)  # why: meters or note lengths no tune has (meters.py)
    repeated: str = ""  # files given again (or through a link), read once: corpus.distinct_files's note


@dataclass
class CorpusStats:
    """Size of a built-in corpus, for listing (no music21 parse, so it takes about a second)."""

    name: str
    description: str
    files: int
    tunes: int
    characters: int


def corpus_stats(name: str) -> CorpusStats:
    """Files, cleaned de-duplicated tunes and their characters for built-in corpus ``name``."""
    name = name.removeprefix(BUILTIN_PREFIX)
    found = read_tunes(builtin_paths(name), check=False)
    return CorpusStats(name, BUILTIN_CORPORA[name][0], found.files, len(found.tunes),
                       sum(len(t) for t in found.tunes))


def read_tunes(paths: Iterable[str | Path], *, check: bool = True,
               on_progress: Callable[[int, int], None] | None = None) -> TuneSet:
    """Read, clean and de-duplicate the tunes of ``.abc`` files, folders of them and ``builtin:NAME``.

    With ``check``, tunes that music21 cannot parse, and tunes that fail the check sampled tunes
    must pass (bars that do not add up to the meter, mostly transcription errors: a model should
    not learn them), are dropped and counted; the verdicts
    are cached (see ``tune_verdicts``) and ``on_progress(done, total)`` reports the work.
    """
    paths = source_paths(paths)
    files, found_repeated = _distinct(_listed_abc_files(paths))
    found = TuneSet([], len(files), repeated=found_repeated)
    seen: set[str] = set()
    for file, explicit in files:
        pieces = split_tunes(read_abc_text(file))
        if explicit and not pieces:
            raise CorpusError(f"{file}: no tunes found; an ABC tune starts with an X: line and has a K: line")
        for piece in pieces:
            tune = clean_tune(piece)
            if tune is None:
                found.skipped_incomplete += 1
            elif tune_key(tune) in seen:
                found.duplicates += 1
            else:
                seen.add(tune_key(tune))
                found.tunes.append(tune)
    where = ", ".join(map(str, paths)) if len(paths) <= 3 else f"{paths[0]} and {len(paths) - 1} more"
    if not found.tunes:
        raise CorpusError(f"no complete tunes in {where}; an ABC tune starts with an X: line, "
                          "has a K: line and then notes")
    if check:
        _drop_absurd_meters(found)
        if not found.tunes:
            raise CorpusError(f"no tune in {where} has a meter a tune can have ({found.skipped_meter[0]})")
        verdicts = tune_verdicts(found.tunes, on_progress=on_progress)
        found.skipped_unparsable, found.skipped_irregular = verdicts.count("unparsable"), verdicts.count("irregular")
        found.tunes = [t for t, verdict in zip(found.tunes, verdicts) if verdict == "ok"]
        if not found.tunes:
            raise CorpusError(f"music21 cannot read any of the {len(verdicts)} tune(s) in {where}; "
                              "check that they are ABC notation (X:, M:, L:, K: lines, then notes)")
    return found


def _drop_absurd_meters(found: TuneSet) -> None:
    """Pass over tunes whose meter no tune needs (``M:9999/1``): music21 would take minutes on
    each, and a corpus is user input. Their reasons are kept for the user."""
    from .meters import tune_meter_problem

    kept = []
    for tune in found.tunes:
        problem = tune_meter_problem(tune)
        if problem:
            found.skipped_meter.append(f"{tune_title(tune) or 'untitled'}: {problem}")
        else:
            kept.append(tune)
    found.tunes = kept


def abc_files(paths: list[Path]) -> list[tuple[Path, bool]]:
    """Each file to read, once, and whether the user named it (rather than it being found in a folder)."""
    return _distinct(_listed_abc_files(paths))[0]


def _distinct(files: list[tuple[Path, bool]]) -> tuple[list[tuple[Path, bool]], str]:
    """``files`` each once (``corpus.distinct_files``), named by the user if any of its mentions was."""
    named = {}
    for path, explicit in files:
        named[path] = named.get(path, False) or explicit
    kept, note = distinct_files([path for path, _ in files])
    return [(path, named[path]) for path in kept], note


def _listed_abc_files(paths: list[Path]) -> list[tuple[Path, bool]]:
    """``abc_files`` with a file given twice listed twice."""
    files: list[tuple[Path, bool]] = []
    for path in paths:
        if not path.exists():
            raise CorpusError(f"{path}: no such file or folder; give .abc files, folders of them "
                              "or builtin:NAME (see `seqgen corpora`)")
        if path.is_dir():
            found = sorted(path.rglob("*.abc"))
            if not found:
                raise CorpusError(f"{path}: folder has no .abc files; point at ABC files (*.abc)")
            files.extend((f, False) for f in found)
        else:
            files.append((path, True))
    return files


def read_abc_text(path: Path) -> str:
    """An ABC file's text: UTF-8, or Latin-1 for older collections; CorpusError when unreadable."""
    data = read_bytes(path)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")  # older ABC collections are Latin-1; every byte decodes
