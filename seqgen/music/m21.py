"""music21 at arm's length: ABC text rewritten so that music21 reads it right, the parse, and how
to tell music21 failing on a tune from anything else going wrong.

music21 raises its own ``Music21Exception`` family on malformed ABC, and a few built-in kinds
(``ValueError``, ``IndexError``, ``ZeroDivisionError``, ...) from deep inside its readers and
writers. Such a failure says "this tune cannot be read (or written) by music21". The same
built-in kinds raised by seqgen's own code, or errors of the machine (``OSError``,
``MemoryError``), say something else and are never taken for a verdict on the tune.
"""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

_FIELD = re.compile(r"^([A-Za-z+]):(.*)$")
# Chord names and annotations, decorations and inline fields: letters in them are not notes.
_PROTECTED = re.compile(r'"[^"\n]*"|![^!\s]*!|\+[^+\s]*\+|\[[A-Za-z]:[^\]\n]*\]')
_INLINE_MUSIC_FIELD = re.compile(r"\[([KMLQ]:[^\]\n]*)\]")
_GRACE_IN_TUPLET = re.compile(r"\((\d[\d:]*)[ \t]*(\{[^}\n]*\})")
# What music21's readers and writers raise, besides its own family, on input they cannot handle.
_BUILTIN_KINDS = (ValueError, IndexError, KeyError, TypeError, AttributeError, ArithmeticError)


def music21_dir() -> Path:
    """The folder music21 is installed in."""
    import music21

    return Path(music21.__file__).resolve().parent


def music21_failure(exc: BaseException) -> bool:
    """Whether ``exc`` is music21 failing on its input: its own exception family, or one of the
    built-in kinds above raised inside music21's code."""
    from music21.exceptions21 import Music21Exception

    if isinstance(exc, Music21Exception):
        return True
    if not isinstance(exc, _BUILTIN_KINDS):
        return False
    tb, last = exc.__traceback__, None
    while tb is not None:
        last, tb = tb, tb.tb_next
    return last is not None and Path(last.tb_frame.f_code.co_filename).resolve().is_relative_to(music21_dir())


def describe(exc: BaseException) -> str:
    """One line for a music21 failure: its kind and the start of its message."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:120]}" if text else type(exc).__name__


def parse_abc(text: str):
    """music21's parse of one ABC tune, or None when music21 cannot read it.

    The text goes through ``for_music21`` first, which works around notations music21 misreads.
    Anything but music21 failing on the tune (see the module docstring) is raised. A tune with a
    meter no tune needs is not handed to music21 at all: its parse would take without bound
    (``meters.py``).
    """
    from music21 import converter

    from .meters import tune_meter_problem

    if tune_meter_problem(text):
        return None
    rewritten = for_music21(text)
    try:
        # music21 prints a warning line per unreadable note; the check's reasons say it better.
        with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
            return converter.parseData(rewritten, format="abc")  # a string is never read as a file's name
    except Exception as exc:
        if music21_failure(exc):
            return None
        raise


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
