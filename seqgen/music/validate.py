"""Is a tune a good tune? Parse it with music21 and check meter, key and bar lengths.

Real tunes have pick-up bars and partial bars around section ends (``||``, ``:|``), so a bar may be
short when it opens or closes the tune or a section, or when it and its neighbour add up to one
bar (a bar split across two lines). Any other bar must last exactly what the meter says.
"""

from __future__ import annotations

import contextlib
import io
import re
from dataclasses import dataclass, field

MIN_BARS = 4


@dataclass
class TuneCheck:
    valid: bool
    reasons: list[str] = field(default_factory=list)
    score: object = None  # the parsed music21 score, reused for MIDI export


def parse_abc(text: str):
    """music21's parse of one ABC tune, or None when it cannot read it."""
    from music21 import converter

    try:
        # music21 prints a warning line per unreadable note; the check's reasons say it better.
        with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
            return converter.parse(text, format="abc")
    except Exception:  # music21 fails in many ways on malformed ABC; all mean "does not parse"
        return None


def check_tune(text: str) -> TuneCheck:
    """Parse ``text`` and list what is wrong with it (nothing, for a valid tune)."""
    from music21 import meter, stream

    reasons = []
    if not re.search(r"(?m)^M:\s*\S", text):
        reasons.append("no meter (M:)")
    if not re.search(r"(?m)^K:\s*\S", text):
        reasons.append("no key (K:)")
    score = parse_abc(text)
    if score is None:
        return TuneCheck(False, reasons + ["does not parse"])
    part = score.parts[0] if getattr(score, "parts", None) else score
    bars = list(part.getElementsByClass(stream.Measure))
    if len(bars) < MIN_BARS:
        reasons.append(f"only {len(bars)} bars (at least {MIN_BARS} needed)")
    ts = score.recurse().getElementsByClass(meter.TimeSignature).first()
    if ts is None:
        reasons.append("no meter (M:)") if "no meter (M:)" not in reasons else None
    elif bars:
        reasons.extend(_bar_length_problems(bars, ts.barDuration.quarterLength))
    return TuneCheck(not reasons, reasons, score)


def _bar_length_problems(bars: list, full: float) -> list[str]:
    lengths = [float(b.duration.quarterLength) for b in bars]
    section_end = [b.rightBarline is not None for b in bars]
    problems = []
    for i, length in enumerate(lengths):
        if abs(length - full) < 1e-6 or i in (0, len(bars) - 1):
            continue
        if length < full and (section_end[i] or section_end[i - 1]):
            continue  # partial bar closing or opening a section
        neighbours = [lengths[j] for j in (i - 1, i + 1) if 0 <= j < len(bars)]
        if length < full and any(abs(length + n - full) < 1e-6 for n in neighbours):
            continue  # one bar written in two pieces
        problems.append(f"bar {i + 1} lasts {length:g} quarter notes, the meter says {full:g}")
    return problems[:3]


def novelty(sampled: list[str], training: list[str], n: int = 16) -> float:
    """Share of the sampled n-note phrases that do not occur verbatim in the training tunes.

    Notes are read from the ABC text itself (letter, accidentals and octave marks, without
    durations), which is fast enough for thousands of tunes and independent of music21.
    """
    known = set()
    for tune in training:
        known.update(_phrases(tune, n))
    phrases = [p for tune in sampled for p in _phrases(tune, n)]
    if not phrases:
        return float("nan")
    return sum(p not in known for p in phrases) / len(phrases)


_NOTE = re.compile(r"[_=^]*[A-Ga-g][,']*")


def _phrases(tune: str, n: int) -> list[tuple[str, ...]]:
    body = "\n".join(line for line in tune.splitlines() if not re.match(r"^[A-Za-z]:", line))
    body = re.sub(r'"[^"]*"|![^!]*!|\{[^}]*\}', "", body)  # chord names, decorations, grace notes
    notes = _NOTE.findall(body)
    return [tuple(notes[i:i + n]) for i in range(len(notes) - n + 1)]
