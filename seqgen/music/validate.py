"""Is a tune a good tune? Parse it with music21 and check meter, key, bar count and bar lengths.

Real tunes have pick-up bars and partial bars around section ends (``||``, ``:|``, first and second
endings), so a bar may be short when it opens or closes the tune or a section, or when it and its
neighbour add up to one bar (a bar split across a line or a repeat sign). Any other bar must last
exactly what the meter in force says. ``seqgen train builtin:NAME`` says how many tunes of a
collection fail these rules (and are left out of training).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .m21 import parse_abc

MIN_BARS = 4
MAX_BAR_REASONS = 3  # a badly broken tune would otherwise list every bar
_TOL = 1e-6  # quarter lengths are Fractions or floats; tuplets make floats inexact


@dataclass
class TuneCheck:
    """The verdict on one tune: ``valid`` when ``reasons`` is empty."""

    valid: bool
    reasons: list[str] = field(default_factory=list)
    score: object = None  # the parsed music21 score (None when it does not parse), reused for export


def check_tune(text: str, score=None, conditions=None) -> TuneCheck:
    """Parse ``text`` (unless its ``score`` is given) and list what is wrong with it.

    Reasons are short and human-readable: "does not parse", "no meter (M:)", "no key (K:)",
    "only 3 bars (at least 4 needed)", "bar 7 lasts 2.5 quarter notes, the meter says 3", and
    with ``conditions`` (a tune to order, ``conditions.TuneConditions``) "meter is 3/4, not 6/8
    as asked" and the like.
    """
    reasons = conditions.problems(text) if conditions else []
    if not re.search(r"(?m)^M:[ \t]*\S", text):
        reasons.append("no meter (M:)")
    if not re.search(r"(?m)^K:[ \t]*\S", text):
        reasons.append("no key (K:)")
    score = score if score is not None else parse_abc(text)
    if score is None:
        return TuneCheck(False, reasons + ["does not parse"])
    bars = _bars(score)
    if len(bars) < MIN_BARS:
        reasons.append(f"only {len(bars)} bars (at least {MIN_BARS} needed)")
    lengths = _bar_lengths(bars)
    if lengths is None:
        if "no meter (M:)" not in reasons:
            reasons.append("no meter (M:)")  # e.g. "M:none": free meter, bars cannot be checked
    else:
        reasons.extend(bar_length_problems(lengths, [b.rightBarline is not None for b in bars],
                                           [_opens_section(b) for b in bars]))
    return TuneCheck(not reasons, reasons, score)


def is_bar_problem(reason: str) -> bool:
    """Whether a reason of ``check_tune`` is about bars of the wrong length."""
    return " lasts " in reason or "bars of the wrong length" in reason


def _bars(score) -> list:
    from music21 import stream

    part = score.parts[0] if getattr(score, "parts", None) else score  # first voice only
    return list(part.getElementsByClass(stream.Measure))


def _bar_lengths(bars: list) -> list[tuple[float, float]] | None:
    """(length, length the meter in force asks for) of each bar; None when there is no meter."""
    from music21 import meter

    ts, lengths = None, []
    for bar in bars:
        ts = bar.getElementsByClass(meter.TimeSignature).first() or ts  # a meter change starts here
        if ts is None:
            return None
        lengths.append((float(bar.duration.quarterLength), float(ts.barDuration.quarterLength)))
    return lengths


def _opens_section(bar) -> bool:
    return bar.leftBarline is not None  # |: or a double bar written at the start of a line


def bar_length_problems(lengths: list[tuple[float, float]], closes: list[bool], opens: list[bool]) -> list[str]:
    """Bars whose length is wrong by the rules in the module docstring.

    ``lengths``: (length, full length) per bar in quarter notes; ``closes``: the bar ends with a
    section barline (``||``, ``:|``, ``|]``); ``opens``: it starts with ``|:``.
    """
    problems = []
    last = len(lengths) - 1
    for i, (length, full) in enumerate(lengths):
        if abs(length - full) < _TOL:
            continue
        short = length < full
        at_edge = i in (0, last) or closes[i] or closes[i - 1] or opens[i] or (i < last and opens[i + 1])
        if short and at_edge:
            continue  # pick-up, final bar, or a partial bar around a section end or repeat
        neighbours = [lengths[j][0] for j in (i - 1, i + 1) if 0 <= j <= last]
        if short and any(abs(length + n - full) < _TOL for n in neighbours):
            continue  # one bar written in two pieces
        problems.append(f"bar {i + 1} lasts {length:g} quarter notes, the meter says {full:g}")
    if len(problems) > MAX_BAR_REASONS:
        problems[MAX_BAR_REASONS:] = [f"and {len(problems) - MAX_BAR_REASONS} more bars of the wrong length"]
    return problems


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
    """Share of the sampled ``n``-note phrases that occur verbatim in the training tunes.

    NaN when the sampled tunes hold no phrase that long.
    """
    known = {p for tune in training for p in note_phrases(tune, n)}
    phrases = [p for tune in sampled for p in note_phrases(tune, n)]
    if not phrases:
        return float("nan")
    return sum(p in known for p in phrases) / len(phrases)


def novelty(sampled: list[str], training: list[str], n: int = 16) -> float:
    """Share of the sampled ``n``-note phrases that do NOT occur in the training tunes.

    ``1 - copied_share``: 0.0 for tunes copied from the training set, 1.0 for all-new music.
    """
    return 1.0 - copied_share(sampled, training, n)
