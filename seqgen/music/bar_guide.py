"""A sampling constraint that keeps each bar of a drawn tune to its meter as it is written.

A tune is checked bar by bar once it is drawn (``validate``), and one wrong bar sends the whole
tune back to be drawn again. ``BarGuide`` holds each row to the meter while it is drawn, through
the sampler's ``Constraint`` mechanism (as ``tunes.HeaderOrder`` holds the header's order):

- when a bar is full, nothing can come next that leads to more time (a note, a rest, an
  accidental, a tuplet, a grace note, a decoration, a longer length for the last note): only a
  bar line, a space, a tie, a slur's end or a line break;
- a bar line cannot close a bar that is short, unless the check would let that bar through: the
  tune's first bar (a pick-up), a bar after a section sign, or one that adds up to a whole bar
  with the tune's pick-up, which must then end its section (``||``, ``|]``, ``:|``);
- a bar line cannot come inside a tuplet (``(3AB|``), whose notes the tools then read apart;
- a length digit cannot make the last note overrun the bar (a note that already does can only
  be shortened, ``A`` to ``A/``), and the tune cannot end inside a short bar;
- a tune that nears the length limit (``ending_at`` symbols) ends at its next bar line, with
  ``|]`` or ``||``, rather than being cut inside a bar.

The model still chooses among what is left, in its own proportions. The guide reads the bar
with a small reader of ABC note lengths, made for speed (one call per row and step): it is a
guide, never the verdict. Every tune is still checked by ``validate`` on music21's tokens, so a
notation this reader misjudges costs a re-draw, never a wrong "valid".
"""

from __future__ import annotations

import re
from fractions import Fraction

import torch

from .bars import parse_meter

_SKIP = r'"[^"\n]*"|![^!\n]*!|\+[^+\s]*\+|\{[^}\n]*\}|\[[A-Za-z]:[^\]\n]*\]'
_TOKEN = re.compile(rf"(?P<skip>{_SKIP})|(?P<tuplet>\((?P<p>[2-9])(?::(?P<q>\d?))?(?::(?P<r>\d?))?)"
                    r"|(?P<chord>\[[^\]|\n]*\])(?P<clen>\d*/*\d*)|(?P<note>[_^=]*[A-Ga-g][,']*|[zx])(?P<len>\d*/*\d*)"
                    r"|(?P<broken>[<>]+)")
_OPEN = re.compile(r'"[^"\n]*$|![^!\n]*$|\{[^}\n]*$|\[[^\]\n]*$')  # inside a quote, a decoration, a chord...
_BAR_START = re.compile(r"^[:|\]]*(?:\[?\d+(?:[,-]\d+)*)?")
_TIME = "ABCDEFGabcdefgzxZ^_="
_AFTER_FULL_BAR = "|:] -)\\\n"


def note_length(text: str) -> Fraction:
    """``2`` -> 2, ``/`` -> 1/2, ``3/2`` -> 3/2, ``//`` -> 1/4 (in units of L:)."""
    if "/" not in text:
        return Fraction(int(text)) if text else Fraction(1)
    num, _, rest = text.partition("/")
    slashes = 1 + rest.count("/")
    den = rest.replace("/", "")
    return Fraction(int(num) if num else 1, int(den) if den else 2 ** slashes)


class BarReader:
    """The length of one bar's text so far, in whole notes, and what its last note could become."""

    def __init__(self, unit: Fraction, compound: bool):
        self.unit, self.compound = unit, compound
        self.in_tuplet = False  # whether the bar last read ends inside a tuplet

    def read(self, bar: str) -> tuple[Fraction, Fraction | None, bool]:
        """(length so far, the last note's length if more digits could still lengthen it, whether
        its length already has digits)."""
        total, tuplet_left, factor, pending_broken = Fraction(0), 0, Fraction(1), None
        last, last_text = None, ""
        for m in _TOKEN.finditer(bar):
            if m.group("tuplet"):
                p = int(m.group("p"))
                q = int(m.group("q")) if m.group("q") else {2: 3, 4: 3, 6: 2, 8: 3, 3: 2}.get(p, 3 if self.compound else 2)
                tuplet_left, factor = int(m.group("r")) if m.group("r") else p, Fraction(q, p)
            elif m.group("broken"):
                if last is not None:
                    n = len(m.group("broken"))
                    shift = last * (1 - Fraction(1, 2 ** n))
                    total += shift if m.group("broken")[0] == ">" else -shift
                    pending_broken = (m.group("broken")[0], n)
            elif m.group("note") or m.group("chord"):
                length_text = m.group("len") if m.group("note") else m.group("clen")
                length = self.unit * note_length(length_text)
                if m.group("chord"):
                    inner = re.search(r"[A-Ga-gz][,']*(\d*/*\d*)", m.group("chord"))
                    length *= note_length(inner.group(1)) if inner else 1
                if tuplet_left:
                    length *= factor
                    tuplet_left -= 1
                if pending_broken:
                    sign, n = pending_broken
                    length = length * Fraction(1, 2 ** n) if sign == ">" else length * (2 - Fraction(1, 2 ** n))
                    pending_broken = None
                total += length
                last, last_text = length, length_text
        self.in_tuplet = tuplet_left > 0  # a bar line cannot come before the tuplet's last note
        ends_in_note = re.search(r"(?:[A-Ga-gzx][,']*|\])\d*/*\d*$", bar) is not None
        extendable = last if ends_in_note and "/" not in last_text else None
        return total, extendable, bool(last_text)


class _Row:
    """Where one row is: its text, the meter and unit in force, the bars closed so far."""

    def __init__(self):
        self.text = ""
        self.body = False  # past the header's K: line
        self.meter = None
        self.unit: Fraction | None = None  # L: as written; None: ABC's default for the meter
        self.reader: BarReader | None = None
        self.bar_start = 0  # where the current bar starts in ``text`` (at its opening "|")
        self.ended = False  # the tune has ended (its <eos> was drawn): nothing more to hold it to
        self.bars = 0  # bars with notes closed so far
        self.pickup = Fraction(0)  # the first bar's length, when it was short
        self.section_end = False  # a short bar was just closed as a section's end: "|" must become "||" or "|]"

    def fields(self, line: str) -> None:
        """Take the meter and unit length of a header or body field line."""
        meter = re.match(r"^M:(.*)$", line)
        if meter:
            try:
                self.meter = parse_meter(meter.group(1))
            except ValueError:
                self.meter = None
        unit = re.match(r"^L:\s*(\d+)/(\d+)", line)
        if unit and int(unit.group(2)):
            self.unit = Fraction(int(unit.group(1)), int(unit.group(2)))
        if self.meter is None:
            self.reader = None  # free meter or none: nothing to hold the bars to
            return
        default = Fraction(1, 16) if self.meter.full < Fraction(3, 4) else Fraction(1, 8)
        eighths = self.meter.full * 8
        compound = self.meter.unit == 8 and eighths.denominator == 1 and eighths % 3 == 0 and eighths > 3
        self.reader = BarReader(self.unit or default, compound)

    def bar_text(self) -> str:
        bar = self.text[self.bar_start:]
        return bar[_BAR_START.match(bar).end():]

    def opening_sign(self) -> str:
        # \Z, not $: "|" ending a line and "|" opening the next are two bar lines, not "||"
        head = re.search(r"[:|\]\[]*\Z", self.text[:self.bar_start]).group(0)
        return head + _BAR_START.match(self.text[self.bar_start:]).group(0)

    def line(self) -> str:
        return self.text[self.text.rfind("\n") + 1:]


class BarGuide:
    """The constraint (see the module docstring); one ``_Row`` per sampled row."""

    def __init__(self, vocab, prime: str, rows: int, ending_at: int | None = None):
        from ..data.vocab import EOS_ID

        self.ending_at = ending_at
        self.ids = {c: i for c, i in vocab.index.items() if c in _TIME + "23456789/<>|:"}
        # once a bar is full: every symbol but these (and the end of the tune) is ruled out
        self.when_full = [i for c, i in vocab.index.items() if len(c) == 1 and c not in _AFTER_FULL_BAR]
        self.chars = {i: c for c, i in vocab.index.items() if len(c) == 1}
        self.eos = EOS_ID
        self.active = vocab.level == "char" and all(c in vocab.index for c in "|\nK:")
        self.rows = [_Row() for _ in range(rows)]
        for row in self.rows:
            for ch in prime:
                self._feed(row, ch)

    def restrict(self, scores: torch.Tensor) -> torch.Tensor:
        if not self.active:
            return scores
        rows, ids = [], []
        for r, row in enumerate(self.rows):
            found = [] if row.ended else self._blocked(row)
            rows += [r] * len(found)
            ids += found
        if not ids:
            return scores
        blocked = torch.zeros_like(scores, dtype=torch.bool)
        blocked[torch.tensor(rows), torch.tensor(ids)] = True
        blocked &= ~blocked.all(dim=1, keepdim=True)  # never every token of a row
        return scores.masked_fill(blocked, float("-inf"))

    def advance(self, drawn: torch.Tensor) -> None:
        if self.active:
            for row, token in zip(self.rows, drawn.tolist()):
                if token == self.eos:
                    row.ended = True  # what a sampler draws after it is no part of the tune
                elif not row.ended:
                    self._feed(row, self.chars.get(token, "\0"))

    def _feed(self, row: _Row, ch: str) -> None:
        row.section_end = False
        if ch == "\n":
            line = row.line()
            if re.match(r"^[A-Za-z]:", line):
                row.fields(line)
                if not row.body and line.startswith("K:"):
                    row.body, row.bar_start = True, len(row.text) + 1  # the body starts after this newline
        row.text += ch
        if ch == "|" and row.body and row.reader is not None and not _in_field_line(row.line()):
            raw = row.bar_text()[:-1]
            closing = raw.rstrip(":")
            if re.search(r"[A-Ga-gzxZ]", closing):
                length = row.reader.read(closing)[0]
                if row.bars == 0 and length < row.meter.full:
                    row.pickup = length
                elif length < row.meter.full and closing == raw:  # not ":|", which ends a section
                    row.section_end = not self._may_close_short(row, length, pickup_rule=False)
                row.bars += 1
            row.bar_start = len(row.text) - 1

    def _blocked(self, row: _Row) -> list[int]:
        if not row.body or row.reader is None or _in_field_line(row.line()):
            return []
        if row.section_end:
            return [i for i, c in self.chars.items() if c not in "|]"] + [self.eos]
        if self.ending_at and len(row.text) >= self.ending_at and row.body:
            if row.text.endswith(("|]", "||")):
                return list(self.chars)  # past the limit, the tune ends here
            if row.text.endswith("|"):
                return [i for i, c in self.chars.items() if c != "]"]  # ... with a final bar line
        bar = row.bar_text()
        if _OPEN.search(bar):
            return []  # inside a chord name, a decoration, grace notes or a chord: let it finish
        length, last, has_digits = row.reader.read(bar.rstrip(":"))
        full = row.meter.full
        if self.ending_at and len(row.text) >= self.ending_at and length == full:
            return [i for i, c in self.chars.items() if c != "|"]  # close the bar, then the tune
        if not re.search(r"[A-Ga-gzx]", bar):
            return []  # nothing written in this bar yet
        blocked: list[str] = []
        if row.reader.in_tuplet:
            return [self.ids[c] for c in "|:" if c in self.ids] + [self.eos]
        if length == full:
            return self.when_full
        if length > full:
            if last is not None and not has_digits and length - last / 2 <= full:
                return [i for i, c in self.chars.items() if c != "/"]  # "A" overruns, "A/" may not
            return []  # already too long: the check will say so
        else:
            if not self._may_close_short(row, length):
                blocked += ["|", ":"]
            if last is not None:
                remaining = full - length
                blocked += [d for d in "23456789" if has_digits or last * (int(d) - 1) > remaining]
                if last / 2 > remaining:
                    blocked.append(">")
        ids = [self.ids[c] for c in blocked if c in self.ids]
        if length < full and not self._may_close_short(row, length):
            ids.append(self.eos)  # the tune cannot end inside a short bar
        return ids

    @staticmethod
    def _may_close_short(row: _Row, length: Fraction, pickup_rule: bool = True) -> bool:
        sign = row.opening_sign()
        after_section = any(s in sign for s in ("||", ":", "|]", "[|")) or bool(re.search(r"\d", sign))
        ends_section = pickup_rule and row.pickup > 0 and length + row.pickup == row.meter.full
        return row.bars == 0 or after_section or ends_section


def _in_field_line(line: str) -> bool:
    return bool(re.match(r"^[A-Za-z+]:", line)) or "%" in line
