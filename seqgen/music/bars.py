"""The bars of an ABC tune as written: the bar lines the text has, and what each bar's notes add up to.

music21's parser re-bars what it reads (an over-long bar is cut into bars of the meter's length,
a left-over piece gets a time signature of its own), so its ``Measure`` objects cannot tell a
wrong bar from a right one. Its ABC tokenizer can: each note, chord and rest comes with its
duration (unit length, broken rhythm ``>``/``<``, inline ``[L:]`` changes applied), each grace
note is marked, each tuplet names its ratio, and each bar line is a token. This module reads
those tokens and nothing else of music21.

What the tokenizer does not do is said where it is mended (``_for_counting``): it drops
invisible rests ``x`` and multi-bar rests ``Z``, and reads note letters inside a decoration
(``!E3A3!``) as notes.
"""

from __future__ import annotations

import contextlib
import io
import re
from dataclasses import dataclass
from fractions import Fraction

from .m21 import for_music21, music21_failure

# Bar lines by what they do to a section. ``[1``/``[2`` are endings: they mark a bar, they are
# not bar lines (music21 splits ``|1`` into ``|`` and ``[1``).
SECTION_CLOSE = {":|", "::", ":|:", ":||:", "||", "|]", "[|", ":||"}
SECTION_OPEN = {"|:", "::", ":|:", ":||:", "||", "[|", "||:"}
_ENDING = re.compile(r"^\[?\d")
_METER = re.compile(r"^\s*(?:(C\|?)|(\d+(?:\+\d+)*)/(\d+)|(none))\s*$", re.IGNORECASE)
# Letters inside these are not notes: chord names and annotations, decorations, inline fields.
_PROTECTED = re.compile(r'"[^"\n]*"|![^!\n]*!|\+[^+\s]*\+|\[[A-Za-z]:[^\]\n]*\]')
_FIELD_LINE = re.compile(r"^[A-Za-z+]:")
_MULTI_REST = re.compile(r"Z(\d*)")
_MULTI_REST_MARK = '"@Z{}"z'  # an annotated rest music21 keeps; the annotation carries the count


class NotReadable(Exception):
    """music21's tokenizer cannot read the tune."""


@dataclass(frozen=True)
class Meter:
    text: str  # as written: "6/8", "C"
    full: Fraction  # a bar's length in whole notes
    unit: int  # the denominator bar lengths are spoken in: 8 for 6/8, 4 for C

    def speak(self, length: Fraction) -> str:
        """``length`` in this meter's unit: 7/8 in 6/8, 9/8 in 4/4 (no whole number of quarters)."""
        units = length * self.unit
        return f"{units.numerator}/{self.unit}" if units.denominator == 1 else str(length)


@dataclass(frozen=True)
class Bar:
    """One bar as written."""

    index: int  # bar lines before it in the body (the numbering of abc2abc's messages)
    length: Fraction  # what its notes and rests add up to, in whole notes
    meter: Meter | None  # the meter in force (None: free meter or none given)
    opens: str  # the bar line before it ("" at the start of the tune)
    closes: str  # the bar line after it ("" at the end of the tune)
    rests: int = 0  # a multi-bar rest (Z4): this many whole bars
    ending: bool = False  # the bar starts a first or second ending ([1, |2, ...)

    @property
    def span(self) -> int:
        """How many bars it counts for."""
        return self.rests or 1


def parse_meter(text: str) -> Meter | None:
    """A meter field's value as a ``Meter``; None for ``none`` (free meter); ValueError when it is
    no meter at all (``-3/4``, ``7``)."""
    from .meters import meter_problem

    problem = meter_problem(text.split("%")[0])
    if problem:
        raise ValueError(problem)
    m = _METER.match(text.split("%")[0])
    if not m:
        raise ValueError(f"M:{text.strip()} is not a meter")
    common, num, den, free = m.groups()
    if free:
        return None
    if common:
        common = common.upper()
        return Meter(common, Fraction(1), 4 if common == "C" else 2)  # C is 4/4, C| is 2/2
    total, unit = sum(int(n) for n in num.split("+")), int(den)
    if total <= 0 or unit <= 0:
        raise ValueError(f"M:{text.strip()} is not a meter")
    return Meter(f"{num}/{den}", Fraction(total, unit), unit)


def written_bars(tune: str) -> list[Bar]:
    """The bars of ``tune``'s first voice as written; NotReadable when music21 cannot tokenize it,
    ValueError when a meter field is no meter."""
    return read_bars(tune)[0]


def read_bars(tune: str) -> tuple[list[Bar], list[str]]:
    """``written_bars`` and every bar line of the body in order, also those around empty bars
    (``:||:``): a bar's ``index`` is the position of its closing bar line in that list."""
    from music21 import abcFormat

    from .meters import tune_meter_problem

    problem = tune_meter_problem(tune)  # music21's tokenizer alone takes minutes on M:9999/1
    if problem:
        raise ValueError(problem)
    handler = abcFormat.ABCHandler()
    try:
        with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
            handler.process(_for_counting(tune))
    except Exception as exc:
        if music21_failure(exc):
            raise NotReadable(str(exc)) from exc
        raise
    reader = _Reader()
    return reader.read(handler.tokens), reader.signs


class _Reader:
    """Walks the tokens once, closing a bar at each bar line that has music before it."""

    def __init__(self):
        self.bars: list[Bar] = []
        self.meter: Meter | None = None
        self.length, self.rests, self.music = Fraction(0), 0, False
        self.index, self.opens, self.ending, self.in_body = 0, "", False, False
        self.signs: list[str] = []
        self.voice, self.first_voice = None, None  # only the first voice's bars are read

    def read(self, tokens) -> list[Bar]:
        for token in tokens:
            kind = type(token).__name__
            if kind == "ABCMetadata":
                self._field(token)
            elif kind in ("ABCNote", "ABCChord") and self._reading():
                self._note(token)
            elif kind == "ABCBar" and self._reading():
                self._bar_line(token.src.strip())
        self._close("")
        return self.bars

    def _reading(self) -> bool:
        return self.in_body and self.voice == self.first_voice

    def _field(self, token) -> None:
        if token.tag == "V":
            self.voice = token.data.split()[0] if token.data.split() else ""
            self.first_voice = self.first_voice if self.first_voice is not None else self.voice
        elif token.isMeter():
            self.meter = parse_meter(token.data)
        elif token.isKey():
            self.in_body = True  # K: ends the header; later K: lines change key only

    def _note(self, token) -> None:
        if getattr(token, "inGrace", False):
            return  # grace notes take no time of the bar
        marks = [s for s in token.chordSymbols if s.startswith('"@Z')]
        if marks:
            self.rests += int(marks[0][3:-1] or 1)
            self.music = True
            return
        length = Fraction(token.quarterLength).limit_denominator(1 << 12) / 4
        if token.activeTuplet is not None:
            length *= Fraction(token.activeTuplet.tupletMultiplier()).limit_denominator(1 << 12)
        self.length += length
        self.music = self.music or length > 0

    def _bar_line(self, sign: str) -> None:
        if _ENDING.match(sign):
            self.ending = True
            return
        self._close(sign)
        self.signs.append(sign)
        self.index += 1
        self.opens = sign

    def _close(self, sign: str) -> None:
        if self.music:
            self.bars.append(Bar(self.index, self.length, self.meter, self.opens, sign, self.rests, self.ending))
            self.ending = False
        self.length, self.rests, self.music = Fraction(0), 0, False


def _for_counting(tune: str) -> str:
    """The tune as music21 reads it right (``m21.for_music21``), with the two kinds of rest its
    tokenizer drops made visible (``x`` becomes ``z``, the same length; ``Z4`` an annotated rest
    whose annotation says "four bars") and decorations left out."""
    out = []
    in_body = False
    for line in for_music21(tune).split("\n"):
        if not in_body or _FIELD_LINE.match(line):
            in_body = in_body or line.startswith("K:")
            out.append(line)
            continue
        parts, pos = [], 0
        for m in _PROTECTED.finditer(line):
            decoration = m.group(0)[0] in "!+"  # takes no time; music21 would read letters in it as notes
            parts.extend([_rests(line[pos:m.start()]), " " if decoration else m.group(0)])
            pos = m.end()
        parts.append(_rests(line[pos:]))
        out.append("".join(parts))
    return "\n".join(out)


def _rests(notes: str) -> str:
    return _MULTI_REST.sub(lambda m: _MULTI_REST_MARK.format(m.group(1)), notes.replace("x", "z"))
