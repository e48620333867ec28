"""Folk tunes in ABC notation: built-in collections, splitting, cleaning, de-duplication.

Data flow: files -> ``split_tunes`` (one string per ``X:``) -> ``clean_tune`` (only the fields
that define the music, ``X:1``, no comments) -> de-duplication -> optionally a music21 parse
check, whose per-tune verdict is cached on disk because music21 needs ~0.05 s per tune.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from ..errors import CorpusError
from .workers import process_map

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
PARSE_RULES = 3  # bump when for_music21 or the tune checks change: cached verdicts then no longer hold
VERDICTS = ("ok", "unparsable", "irregular")
POOL_MIN_TUNES = 64  # below this, starting worker processes costs more than it saves

_FIELD = re.compile(r"^([A-Za-z+]):(.*)$")
_INLINE_FIELD = re.compile(r"\[([A-Za-z]):[^\]\n]*\]")
_COMMENT = re.compile(r"(?<!\\)%.*")  # ``\%`` is a literal percent sign in ABC text
# Chord names and annotations, decorations and inline fields: letters in them are not notes.
_PROTECTED = re.compile(r'"[^"\n]*"|![^!\s]*!|\+[^+\s]*\+|\[[A-Za-z]:[^\]\n]*\]')
_INLINE_MUSIC_FIELD = re.compile(r"\[([KMLQ]:[^\]\n]*)\]")
_GRACE_IN_TUPLET = re.compile(r"\((\d[\d:]*)[ \t]*(\{[^}\n]*\})")


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


def for_music21(tune: str) -> str:
    """The same tune written so that music21 reads it right; for parsing only, never for training.

    Found on O'Neill's tunes (music21 10.5): music21 ignores the first field after a bar line
    and every inline field (``[K:F]``), so key and meter changes get lost and it re-bars the rest
    wrongly; each body field goes on its own line, twice. See ``music21_safe`` for the notes.
    """
    out: list[str] = []
    in_body = False
    for line in tune.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        field = _FIELD.match(line)
        if not in_body or field:
            out.extend([line, line] if in_body and field.group(1) in "KMLQ" else [line])
            in_body = in_body or bool(field and field.group(1) == "K")
            continue
        for i, piece in enumerate(_INLINE_MUSIC_FIELD.split(line)):  # text, field, text, ...
            if i % 2:
                out.extend([piece, piece])
            elif piece.strip() or len(line) == 0:
                out.append(music21_safe(piece))
    return "\n".join(out)


def music21_safe(line: str) -> str:
    """Rewrite three notations that music21 misreads into equivalents it reads right.

    music21 drops the note after the fermata shorthand ``H`` and after an annotation that starts
    with ``>`` (``">"``, an accent in O'Neill's transcriptions), and a grace note at the start of
    a tuplet (``(3{a}gfg``) upsets the tuplet's durations and the bar lines after it.
    """
    parts, pos = [], 0
    for m in _PROTECTED.finditer(line):
        parts.append(_safe_notes(line[pos:m.start()]))
        token = m.group(0)
        parts.append("!>!" if token == '">"' else '"^' + token[2:] if token.startswith('">') else token)
        pos = m.end()
    parts.append(_safe_notes(line[pos:]))
    return "".join(parts)


def _safe_notes(text: str) -> str:
    text = text.replace("H", "!fermata!")  # outside quotes and decorations, H can only be a fermata
    return _GRACE_IN_TUPLET.sub(r"\2(\1", text)  # (3{a}gfg -> {a}(3gfg: the same notes


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
    files = _abc_files(paths)
    found = TuneSet([], len(files))
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
        verdicts = tune_verdicts(found.tunes, on_progress=on_progress)
        found.skipped_unparsable, found.skipped_irregular = verdicts.count("unparsable"), verdicts.count("irregular")
        found.tunes = [t for t, verdict in zip(found.tunes, verdicts) if verdict == "ok"]
        if not found.tunes:
            raise CorpusError(f"music21 cannot read any of the {len(verdicts)} tune(s) in {where}; "
                              "check that they are ABC notation (X:, M:, L:, K: lines, then notes)")
    return found


def _abc_files(paths: list[Path]) -> list[tuple[Path, bool]]:
    """Each file to read and whether the user named it (rather than it being found in a folder)."""
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
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CorpusError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")  # older ABC collections are Latin-1; every byte decodes


# --- music21 verdicts, cached -------------------------------------------------------------


def cache_file() -> Path:
    """``$XDG_CACHE_HOME/seqgen/abc-parse.json`` (``~/.cache/...`` when the variable is unset)."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "seqgen" / "abc-parse.json"


def tune_hash(tune: str) -> str:
    return hashlib.sha256(tune.encode("utf-8")).hexdigest()[:24]


def tune_verdict(tune: str) -> str:
    """"ok" when the tune passes ``validate.check_tune`` (the check sampled tunes must pass),
    "unparsable" when music21 cannot read it, else "irregular" (bars that do not add up to the
    meter, no meter, too few bars). Top-level so that worker processes can run it."""
    from .validate import check_tune

    check = check_tune(tune)
    return "ok" if check.valid else "unparsable" if check.score is None else "irregular"


def tune_verdicts(tunes: list[str], on_progress: Callable[[int, int], None] | None = None,
                  workers: int | None = None) -> list[str]:
    """``tune_verdict`` for each tune: from the cache where known, else in worker processes."""
    cache = _load_cache()
    todo = sorted({tune_hash(t): t for t in tunes if tune_hash(t) not in cache}.items())
    try:
        verdicts = process_map(tune_verdict, [tune for _, tune in todo], POOL_MIN_TUNES, chunksize=8, workers=workers)
        for n, ((key, _), verdict) in enumerate(zip(todo, verdicts), 1):
            cache[key] = verdict
            if on_progress:
                on_progress(n, len(todo))
    finally:
        if todo:
            _save_cache(cache)  # also after Ctrl-C: the tunes done so far need not be checked again
    return [cache[tune_hash(t)] for t in tunes]


def parse_cache_tag() -> str:
    """Verdicts hold for one music21 version and one version of ``for_music21``."""
    import music21

    return f"music21 {music21.__version__}, rules {PARSE_RULES}"


def _load_cache() -> dict[str, str]:
    try:
        data = json.loads(cache_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    # A different music21 may parse differently: its verdicts do not carry over.
    if not isinstance(data, dict) or data.get("tag") != parse_cache_tag():
        return {}
    verdicts = data.get("verdicts")
    return {k: v for k, v in verdicts.items() if v in VERDICTS} if isinstance(verdicts, dict) else {}


def _save_cache(cache: dict[str, str]) -> None:
    """Merge with what another process may have written meanwhile, then replace atomically."""
    path = cache_file()
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        merged = {**_load_cache(), **cache}
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".abc-parse-", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump({"tag": parse_cache_tag(), "verdicts": merged}, out)
        os.replace(tmp, path)
    except OSError:
        # A cache that cannot be written only costs time on the next run; never fail the read.
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
