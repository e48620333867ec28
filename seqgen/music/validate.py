"""Is a tune a good tune? It must parse (music21 reads it), have a meter and a key (a K: field that
names one), at least four bars, and every bar as written must last what the meter in force says.

Bars are the tune's own (``bars.written_bars``), numbered as a musician counts them: a pick-up is
bar 0, the first whole bar is bar 1. A musician's leniency, and no more, lets a bar be short:

- **pick-up**: the tune's first bar;
- **two pieces**: it and a neighbour add up to one bar (a bar split across a line, a repeat sign
  or a section's double bar: ``... A3 :| |: B | ...`` in 4/8);
- **section end**: it closes a section (``:|``, ``||``, ``|]``, ``::``, an ending, the tune's end)
  and adds up to one bar with the pick-up that opened the section, or with the tune's pick-up;
- **section pick-up**: it opens a section (after ``|:``, ``||``, ``:|``, ``::``), or stands just
  before ``|:`` (``fg|:a2f d2f|``).

A bar longer than the meter says is always wrong. ``seqgen check`` shows each bar's verdict and
``seqgen train builtin:NAME`` says how many tunes of a collection fail (they are left out).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from fractions import Fraction

from .bars import SECTION_CLOSE, SECTION_OPEN, Bar, NotReadable, written_bars
from .keys import tune_key_problem
from .m21 import parse_abc

MIN_BARS = 4
MAX_BAR_REASONS = 3  # a badly broken tune would otherwise list every bar


@dataclass(frozen=True)
class BarVerdict:
    """One written bar and what the check makes of it."""

    bar: Bar
    number: int  # as a musician counts: the pick-up is 0
    ok: bool
    rule: str  # "right", "multi-bar rest", a leniency's name, or "too long"/"too short"

    def as_dict(self) -> dict:
        meter = self.bar.meter
        return {"bar": self.number, "length": meter.speak(self.bar.length) if meter else str(self.bar.length),
                "meter": meter.text if meter else None, "ok": self.ok, "rule": self.rule}

    def reason(self) -> str:
        meter = self.bar.meter
        return f"bar {self.number} lasts {meter.speak(self.bar.length)}, the meter says {meter.speak(meter.full)}"


@dataclass
class TuneCheck:
    """The verdict on one tune: ``valid`` when ``reasons`` is empty."""

    valid: bool
    reasons: list[str] = field(default_factory=list)
    _score: object = None
    bars: list[BarVerdict] = field(default_factory=list)  # the written bars, judged
    _unparsed: str | None = field(default=None, repr=False, compare=False)  # an invalid tune's text, parsed when asked

    @property
    def score(self):
        """The parsed music21 score (None when it does not parse), reused for export. A tune found
        invalid before its parse (``check_tune(..., parse_invalid=False)``) is parsed when asked."""
        if self._unparsed is not None:
            self._score, self._unparsed = parse_abc(self._unparsed), None
        return self._score


def check_tune(text: str, score=None, conditions=None, parse_invalid: bool = True) -> TuneCheck:
    """Parse ``text`` (unless its ``score`` is given) and list what is wrong with it.

    music21's parse is most of a check's time (seconds for a long garbled tune). With
    ``parse_invalid`` False, a tune that its fields or bars already make invalid is not parsed
    until its ``score`` is asked for, and "does not parse" is then not among its reasons.

    Reasons are short and human-readable: "does not parse", "no meter (M:)", "no key (K:)",
    "K:| names no key",
    "only 3 bars (at least 4 needed)", "bar 3 lasts 7/8, the meter says 6/8", and with
    ``conditions`` (a tune to order, ``conditions.TuneConditions``) "meter is 3/4, not 6/8 as
    asked" and the like.
    """
    reasons = conditions.problems(text) if conditions else []
    if not re.search(r"(?m)^M:[ \t]*\S", text):
        reasons.append("no meter (M:)")
    if not re.search(r"(?m)^K:[ \t]*\S", text):
        reasons.append("no key (K:)")
    elif key := tune_key_problem(text):
        reasons.append(key)  # music21 would read it as C major, abc2abc skip it: no reading to trust
    try:
        bars = written_bars(text)
    except NotReadable:
        return TuneCheck(False, reasons + ["does not parse"])
    except ValueError as exc:  # a meter field that is no meter
        return TuneCheck(False, reasons + [str(exc)])
    verdicts = judge_bars(bars)
    written = [p for p in _bar_problems(bars, verdicts) if p not in reasons]  # "no meter (M:)" once
    if not parse_invalid and score is None and reasons + written:
        return TuneCheck(False, reasons + written, None, verdicts, text)
    score = score if score is not None else parse_abc(text)
    if score is None:
        return TuneCheck(False, reasons + ["does not parse"])
    reasons += written
    return TuneCheck(not reasons, reasons, score, verdicts)


def _bar_problems(bars: list, verdicts: list[BarVerdict]) -> list[str]:
    """What is wrong with a tune's written bars: too few, no meter to hold them to, wrong lengths."""
    problems = []
    count = sum(b.span for b in bars)
    if count < MIN_BARS:
        problems.append(f"only {count} bars (at least {MIN_BARS} needed)")
    if any(b.meter is None for b in bars):
        problems.append("no meter (M:)")  # e.g. "M:none": free meter, bars cannot be checked
    else:
        problems.extend(bar_reasons(verdicts))
    return problems


def is_bar_problem(reason: str) -> bool:
    """Whether a reason of ``check_tune`` is about bars of the wrong length."""
    return " lasts " in reason or "bars of the wrong length" in reason


def bar_reasons(verdicts: list[BarVerdict]) -> list[str]:
    """One reason per wrong bar, the first few of them."""
    problems = [v.reason() for v in verdicts if not v.ok]
    if len(problems) > MAX_BAR_REASONS:
        problems[MAX_BAR_REASONS:] = [f"and {len(problems) - MAX_BAR_REASONS} more bars of the wrong length"]
    return problems


def judge_bars(bars: list[Bar]) -> list[BarVerdict]:
    """Each bar's verdict by the rules of the module docstring (bars without a meter pass)."""
    rules = [_rule(bars, i) for i in range(len(bars))]
    pickup = 1 if bars and rules[0] != "pick-up" else 0
    verdicts, number = [], pickup
    for bar, rule in zip(bars, rules):
        verdicts.append(BarVerdict(bar, number, rule not in ("too long", "too short"), rule))
        number += bar.span
    return verdicts


def _rule(bars: list[Bar], i: int) -> str:
    bar = bars[i]
    if bar.meter is None:
        return "no meter"
    full = bar.meter.full
    if bar.rests and bar.length == 0:
        return "multi-bar rest"
    if bar.length == full:
        return "right"
    if bar.length > full:
        return "too long"
    if i == 0:
        return "pick-up"
    if any(0 <= j < len(bars) and bars[j].length < full and bars[j].length + bar.length == full for j in (i - 1, i + 1)):
        return "two pieces"
    tune_pickup = bars[0].length if _is_pickup(bars, 0) else Fraction(0)
    if _closes_section(bars, i) and full - bar.length in (_section_pickup(bars, i), tune_pickup):
        return "section end"
    if bar.opens in SECTION_OPEN or bars[i - 1].closes in SECTION_CLOSE or bar.closes in ("|:", "||:"):
        return "section pick-up"
    return "too short"


def _closes_section(bars: list[Bar], i: int) -> bool:
    return bars[i].closes in SECTION_CLOSE or i == len(bars) - 1 or bars[i + 1].ending


def _is_pickup(bars: list[Bar], i: int) -> bool:
    return bars[i].meter is not None and bars[i].length < bars[i].meter.full


def _section_pickup(bars: list[Bar], i: int) -> Fraction:
    """The length of the pick-up that opened the section bar ``i`` closes (0 when none)."""
    start = next((j for j in range(i - 1, 0, -1) if bars[j].opens in SECTION_OPEN and not bars[j].ending), 0)
    if start > 0 and bars[start - 1].closes in ("|:", "||:") and _is_pickup(bars, start - 1):
        return bars[start - 1].length  # written before the repeat sign: "fg|:a2f d2f|"
    return bars[start].length if start < i and _is_pickup(bars, start) else Fraction(0)


# --- novelty ------------------------------------------------------------------------------------

_NOTE = re.compile(r"[_=^]*[A-Ga-g][,']*")
# Text that holds letters but no notes: chord names, decorations, grace notes, inline fields.
_NOT_NOTES = re.compile(r'"[^"\n]*"|![^!\n]*!|\+[^+\n]*\+|\{[^}\n]*\}|\[[A-Za-z]:[^\]\n]*\]')


def note_phrases(tune: str, n: int = 16) -> list[tuple[str, ...]]:
    """Every run of ``n`` consecutive notes of an ABC tune, notes as written (no durations).

    Notes come from the ABC text itself, not from music21: the pitch letter with its accidental
    and octave marks (``^F``, ``c'``, ``B,``). It is fast enough for thousands of tunes, and the
    same tune written the same way always gives the same phrases.
    """
    body = "\n".join(line for line in tune.splitlines() if not re.match(r"^[A-Za-z+]:", line))
    notes = _NOTE.findall(_NOT_NOTES.sub(" ", body))
    return [tuple(notes[i:i + n]) for i in range(len(notes) - n + 1)]


def copied_share(sampled: list[str], training: list[str], n: int = 16) -> float:
    """Share of the sampled ``n``-note phrases that occur verbatim in the training tunes (the
    novelty of the figures is one minus this).

    NaN when the sampled tunes hold no phrase that long.
    """
    known = {p for tune in training for p in note_phrases(tune, n)}
    phrases = [p for tune in sampled for p in note_phrases(tune, n)]
    if not phrases:
        return float("nan")
    return sum(p in known for p in phrases) / len(phrases)
