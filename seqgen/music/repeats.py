"""Repeat signs as a musician reads them: the ABC text's bar lines repaired into well-formed
repeats, which music21 then plays out (``export.tune_to_midi``).

A generated tune often opens a repeat and never closes it, or closes one it never opened.
music21 cannot expand such signs, and the tune would play once through without a word. Here
each sign is read the way a player at a session would, the text's bar lines rewritten to say so,
and one line says what was read how (``played_abc``):

    |: never closed       The section is played twice. It ends where the next section begins:
                          a double bar (``||``, ``|]``, ``[|``), the next ``|:``, or the end of
                          the tune. Folk tunes are made of parts played twice (AABB), and a
                          double bar ends a part; a player who met ``|:`` expects its ``:|``
                          there and plays the part again.
    :| never opened       Back to the start of the section: just after the last double bar, or
                          the start of the tune. After an earlier ``:|`` the score itself sends
                          it back (``notes.played_out``), past that repeat's endings. abc2midi
                          goes back to the start of the tune past a double bar; O'Neill's tunes
                          show why not: in "Kitty O'Hara" and "Northern Lasses" a double bar
                          ends the A part and the B part's first ending closes with ``:|``, which
                          can only mean "the B part again".
    [2 without :| before  The first time through ends there: the bar line becomes ``:|``.

Well-formed signs are left as they are. Tunes with several voices are left as written: their
voices' signs would have to be repaired together.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .bars import _PROTECTED

# A bar line with what may come with it (``:||:``, ``[|``, ``|]``, ``::``) and an ending number
# written onto it (``|1``, ``:|2``); or an ending on its own (``[1``, ``[2``).
_BAR = re.compile(r"(?P<sign>:*\[?\|+\]?:*|:{2,})(?P<ending>\d+(?:[-,]\d+)*)?|\[(?P<alone>\d+(?:[-,]\d+)*)")
_FIELD_LINE = re.compile(r"^[A-Za-z+]:")
_NOTE = re.compile(r"[A-Ga-gzx]")
_DOUBLE_BARS = {"||", "|]", "[|"}


@dataclass
class _Sign:
    start: int  # where it is in the text
    end: int
    sign: str  # the bar line ("" for an ending on its own)
    ending: str  # the ending number ("" for none)
    bar: int  # the bars that end here or before (a pick-up counts as a bar)

    @property
    def closes(self) -> bool:
        return self.sign.startswith(":")

    @property
    def opens(self) -> bool:
        return self.sign.endswith(":")

    @property
    def later_ending(self) -> bool:
        return bool(self.ending) and not self.ending.startswith("1")


def played_abc(text: str) -> tuple[str, list[str]]:
    """``text`` with its repeat signs as they are played (see the module docstring), and one line
    for each sign that was read other than as written. Unchanged, with no lines, when they are
    well formed."""
    if re.search(r"^V:|\[V:", text, re.MULTILINE):
        return text, []
    signs = _signs(text)
    edits: list[tuple[int, int, str]] = []  # (start, end, new text)
    notes: list[str] = []
    opened: _Sign | None = None  # the |: still waiting for its :|
    section_start: _Sign | None = None  # the double bar the current section starts after
    since_repeat = False  # a :| came since the tune or the section began
    for s in signs:
        if s.later_ending and not s.closes:
            edits.append((s.start, s.start, ":" if s.sign else ":|"))
            notes.append(f"an ending [{s.ending} after bar {s.bar} had no :| before it: "
                         "the first time through ends there")
            s = _Sign(s.start, s.end, ":" + (s.sign or "|"), s.ending, s.bar)
        if s.closes and opened is None:
            back_to = _back_to(since_repeat, section_start)
            notes.append(f"the :| after bar {s.bar} had no |: before it: repeated from {back_to}")
            if not since_repeat:  # after a :|, the score sends it back (notes.played_out)
                edits.append(_open_after(section_start, text, signs))
        if s.opens and opened is not None and not s.closes:
            edits.append((s.start, s.start, ":"))
            notes.append(f"the |: before bar {opened.bar + 1} was not closed before the |: after bar {s.bar}: "
                         "played twice up to there")
        elif s.sign in _DOUBLE_BARS and opened is not None:
            edits.append((s.start, s.end, ":|") if s.sign == "[|" else (s.start, s.start, ":"))
            notes.append(f"the |: before bar {opened.bar + 1} was not closed before the {s.sign} after bar {s.bar}: "
                         "played twice up to there")
            opened = None
        if s.closes:
            opened, since_repeat = None, True
        if s.opens:
            opened = s
        if s.sign in _DOUBLE_BARS and not s.opens:
            section_start, since_repeat = s, False
    if opened is not None:
        edits.append(_close_at_end(text, signs))
        notes.append(f"the |: before bar {opened.bar + 1} was never closed: played twice to the end of the tune")
    return _applied(text, edits), notes


def _applied(text: str, edits: list[tuple[int, int, str]]) -> str:
    """``text`` with each (start, end, new text) edit made; edits never overlap."""
    pieces, pos = [], 0
    for start, end, new in sorted(edits):
        pieces += [text[pos:start], new]
        pos = max(pos, end)
    return "".join(pieces) + text[pos:]


def has_repeat_signs(text: str) -> bool:
    """Whether the tune ``text`` has a repeat sign or an ending."""
    return any(s.opens or s.closes or s.ending for s in _signs(text))


def _back_to(since_repeat: bool, section_start: _Sign | None) -> str:
    if since_repeat:
        return "just after the :| before it"
    return f"the double bar after bar {section_start.bar}" if section_start else "the start of the tune"


def _signs(text: str) -> list[_Sign]:
    """The bar lines and endings of the tune's body, in order."""
    signs: list[_Sign] = []
    bar, music, in_body, pos = 0, False, False, 0
    for line in text.splitlines(keepends=True):
        if not in_body or _FIELD_LINE.match(line):
            in_body = in_body or line.startswith("K:")
            pos += len(line)
            continue
        for piece_start, piece in _unprotected(line):
            last = 0
            for m in _BAR.finditer(piece):
                music = music or bool(_NOTE.search(piece, last, m.start()))
                last = m.end()
                sign, ending = m.group("sign") or "", m.group("ending") or m.group("alone") or ""
                if sign and music:
                    bar, music = bar + 1, False
                start = pos + piece_start + m.start()
                if not sign and signs and not signs[-1].ending and not text[signs[-1].end:start].strip():
                    signs[-1].ending = ending  # "| [2" is one bar line with its ending
                    continue
                signs.append(_Sign(start, pos + piece_start + m.end(), sign, ending, bar))
            music = music or bool(_NOTE.search(piece, last))
        pos += len(line)
    return signs


def _unprotected(line: str):
    """(offset, text) of the parts of a line of music outside chord names, annotations,
    decorations and inline fields, whose letters and bars are not the music's."""
    pos = 0
    for m in _PROTECTED.finditer(line):
        yield pos, line[pos:m.start()]
        pos = m.end()
    yield pos, line[pos:].split("%")[0]


def _open_after(section_start: _Sign | None, text: str, signs: list[_Sign]) -> tuple[int, int, str]:
    """The edit that opens a repeat after ``section_start`` (None: at the start of the tune).
    After a double bar, `` |:`` goes beside it: music21 does not read ``||:`` as opening one."""
    if section_start is not None:
        return section_start.end, section_start.end, " |:"
    first = signs[0] if signs else None
    body = _body_start(text)
    if first is not None and first.sign == "|" and not text[body:first.start].strip():
        return first.start, first.end, "|:"
    return body, body, "|:"


def _close_at_end(text: str, signs: list[_Sign]) -> tuple[int, int, str]:
    """The edit that closes a repeat at the end of the tune: its last bar line becomes ``:|``
    when nothing but blanks follows it, else ``:|`` follows its last note."""
    last = signs[-1] if signs else None
    if last is not None and last.sign and not last.ending and not _NOTE.search(_music_after(text, last.end)):
        return last.start, last.end, ":|"
    end = len(text.rstrip())
    return end, end, " :|"


def _music_after(text: str, pos: int) -> str:
    return "".join(piece for line in text[pos:].splitlines() if not _FIELD_LINE.match(line)
                   for _, piece in _unprotected(line))


def _body_start(text: str) -> int:
    """Where the first line after the K: field begins, past its leading blanks."""
    m = re.search(r"^K:.*\n[ \t]*", text, re.MULTILINE)
    return m.end() if m else len(text)
