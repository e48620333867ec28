"""What training reads: a corpus of documents, in one of the registered formats, read safely.

A corpus is a list of documents (files of text, or tunes for ABC) and notes for the user (what
was skipped). Each format says which sources it reads, how it cleans them into documents and how
it holds text out for validation; its name ("text", "abc") is stored in the checkpoint, so that
sampling knows whether to produce tunes. The formats are registered in ``formats.py``, above this
layer and above ``music``, which brings the ABC format: nothing here knows of tunes.

Every file is read through ``read_bytes``: only regular files (a pipe or a device such as
/dev/zero would be read without end or block forever), and binary data is refused from its
first bytes.
"""

from __future__ import annotations

import codecs
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from ..atomic import file_kind
from ..errors import CorpusError, UsageError

SNIFF_BYTES = 8192  # binary data shows in its first bytes (NUL)


@dataclass
class Corpus:
    documents: list[str]
    kind: str  # the format's name: "text" or "abc"
    sources: list[str]
    notes: list[str] = field(default_factory=list)  # things the user should hear about (skips)

    @property
    def chars(self) -> int:
        return sum(len(d) for d in self.documents)


class CorpusFormat(Protocol):
    """A kind of training data: which sources it reads, and how. It may also say how filling in
    the middle cuts its training text (``fill_documents``, ``bar_lines``: see ``arrange.py``)."""

    name: str

    def cache_tag(self) -> str:
        """What, besides the files and the settings, decides the documents ``read`` makes (the
        version of its cleaning rules, of the checker it asks): token ids cached under another
        tag are read again."""

    def claims(self, spec: str) -> bool:
        """Whether ``spec`` (a path or ``builtin:NAME``) is a source of this format."""

    def files(self, specs: list[str]) -> list[Path]:
        """The files ``read`` reads for ``specs``, in reading order (they exist)."""

    def read(self, specs: list[str], encoding: str, on_progress: Callable[[int, int], None] | None) -> Corpus:
        """The documents of ``specs``, cleaned; CorpusError when there are none."""

    def split(self, ids: np.ndarray, starts: np.ndarray, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """Training and held-out ids of a tokenised corpus (``starts``: where each document begins)."""

    def summary(self, train_ids: np.ndarray, vocab) -> dict:
        """What a checkpoint records of the training part besides its ids (plain values, for the
        interfaces: ABC's meters and keys); {} for nothing."""


def distinct_files(files: list[Path]) -> tuple[list[Path], str]:
    """``files`` with each file once: the same file named twice, or again through a symbolic or a hard
    link (same device and inode), would be trained on twice, and its held-out part would then also
    sit in the training part. Returns the files and a note for the user ("" when none repeats)."""
    seen: dict[tuple[int, int], Path] = {}
    kept, repeats = [], []
    for path in files:
        try:
            st = path.stat()
        except OSError:
            kept.append(path)  # its reader says what is wrong with it
            continue
        first = seen.setdefault((st.st_dev, st.st_ino), path)
        if first is path:
            kept.append(path)
        else:
            repeats.append(f"{path}" if str(path) == str(first) else f"{path} (the same file as {first})")
    if not repeats:
        return kept, ""
    shown = ", ".join(repeats[:3]) + (f" and {len(repeats) - 3} more" if len(repeats) > 3 else "")
    return kept, f"read once what was given again: {shown}"


def absolute_sources(specs: list[str]) -> list[str]:
    """``specs`` as a checkpoint stores them: paths made absolute (a run can be resumed, and its
    tunes measured, from any folder), ``builtin:NAME`` as it is."""
    return [s if s.startswith("builtin:") else os.path.abspath(s) for s in specs]


def check_stored_sources(specs: list[str]) -> None:
    """CorpusError naming a stored source that is not there; for a relative one (stored by a seqgen
    before absolute paths), that it is read from the folder the run was started in."""
    for spec in specs:
        if spec.startswith("builtin:") or os.path.lexists(spec):
            continue
        if os.path.isabs(spec):
            raise CorpusError(f"{spec}: no such file or folder; it is one of the files this run was trained on, "
                              "which are read again: put it back")
        raise CorpusError(f"{spec}: no such file or folder in {os.getcwd()}; this run stored its sources relative to "
                          "the folder it was started in: run the command from that folder")


def regular_file(path: Path) -> os.stat_result:
    """``path``'s status; CorpusError unless it is a regular file that can be read."""
    try:
        st = path.stat()
    except OSError as exc:
        raise CorpusError(f"cannot read {path}: {exc.strerror or exc}") from None
    if not stat.S_ISREG(st.st_mode):
        raise CorpusError(f"{path} is {file_kind(st.st_mode)}, not a file to read; give text files, folders of them or ABC files")
    return st


def read_bytes(path: Path, binary_ok: bool = False) -> bytes:
    """The bytes of a regular file; CorpusError for anything else, and for binary data unless
    ``binary_ok`` (e.g. UTF-16 text)."""
    path = Path(path)
    regular_file(path)
    try:
        with open(path, "rb") as fh:
            head = fh.read(SNIFF_BYTES)
            if b"\x00" in head and not binary_ok:
                wide = wide_encoding(head)
                if wide:
                    raise CorpusError(f"{path} is {wide.upper()} text; pass --encoding {wide} to read it")
                raise CorpusError(f"{path} looks like a binary file (it contains NUL bytes); give a text file")
            return head + fh.read()
    except OSError as exc:
        raise CorpusError(f"cannot read {path}: {exc.strerror or exc}") from None


def wide_encoding(head: bytes) -> str | None:
    """"utf-16" or "utf-32" when ``head`` (a file's first bytes, with NULs in them) is text in that
    encoding: by its byte-order mark, or without one, by a NUL in every other byte (the high half of
    each Latin letter) at one end or the other; None for binary data."""
    for bom, name in ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
                      (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16")):
        if head.startswith(bom):  # UTF-32's little-endian mark starts with UTF-16's: asked first
            return name
    quads = head[: len(head) // 4 * 4]  # UTF-32 first: its Latin letters have NULs in both halves
    for rest, name in ((quads[1::4] + quads[2::4] + quads[3::4], "utf-32-le"),
                       (quads[0::4] + quads[1::4] + quads[2::4], "utf-32-be")):
        if len(rest) >= 12 and rest.count(0) >= 0.9 * len(rest):
            return name
    half = head[: len(head) // 2 * 2]
    for side, name in ((half[1::2], "utf-16-le"), (half[0::2], "utf-16-be")):
        if len(side) >= 8 and side.count(0) >= 0.9 * len(side):
            return name
    return None


_BOMS = (codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
_TEXT_CONTROLS = b"\t\n\f\r"  # the control bytes text of an 8-bit encoding has


def check_wide(path: Path, head: bytes, encoding: str) -> None:
    """CorpusError when text asked for as UTF-16 or UTF-32 (``encoding``) is evidently another
    encoding, judged on its first bytes (``head``); a byte-order mark settles it. Without one:

    - NULs in the pattern of another byte order or width (``wide_encoding``) name that one;
    - no NUL, and no control byte but tab, line feed, form feed and carriage return, in bytes
      that are UTF-8 or mostly (three in four) ASCII: text of an 8-bit encoding (UTF-8, ASCII,
      Latin-1). UTF-16 and UTF-32 have a NUL in every Latin letter, digit, space and line break,
      and a control byte in about one CJK character in ten, so real text in them is not refused.
    """
    if head.startswith(_BOMS):
        return
    asked = codecs.lookup(encoding).name
    asked = {"utf-16": "utf-16-le", "utf-32": "utf-32-le"}.get(asked, asked)  # Python's order without a mark
    found = wide_encoding(head)
    if found and found != asked:
        raise CorpusError(f"{path} is {found.upper()} text, not {encoding}; pass --encoding {found}")
    if found or any(b < 0x20 and b not in _TEXT_CONTROLS for b in head):
        return
    utf8 = _utf8(head)
    if utf8 or sum(b < 0x80 for b in head) >= 0.75 * len(head):
        kind, instead = ("UTF-8", "utf-8") if utf8 else ("8-bit (Latin-1 or alike)", "latin-1 (or the file's own)")
        raise CorpusError(f"{path} is {kind} text, not {encoding} (it has no byte-order mark and not one NUL "
                          f"byte); pass --encoding {instead}")


def _utf8(head: bytes) -> bool:
    """Whether ``head`` (a file's first bytes, perhaps cut inside a character) is UTF-8."""
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return False
    return True


def read_text_file(path: Path, encoding: str = "utf-8") -> str:
    """Read one text file, refusing binary data and explaining how to fix a wrong encoding."""
    wide = encoding.lower().replace("-", "").replace("_", "").startswith(("utf16", "utf32"))  # NULs in its text
    raw = read_bytes(path, binary_ok=wide)
    try:
        if wide:
            check_wide(path, raw[:SNIFF_BYTES], encoding)  # before decoding: it would decode to gibberish
        text = raw.decode(encoding)
    except LookupError:
        raise UsageError(f"unknown --encoding {encoding!r}; try utf-8 or latin-1") from None
    except UnicodeDecodeError as exc:
        raise CorpusError(
            f"{path} is not valid {encoding} (byte {exc.start}); pass --encoding with the file's "
            "encoding, e.g. --encoding latin-1"
        ) from None
    return text.replace("\r\n", "\n").replace("\r", "\n")


def plural(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"
