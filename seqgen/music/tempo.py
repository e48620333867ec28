"""The tempo a tune is played at: its ``Q:`` field, else what its kind (``R:``) is danced at,
else a moderate tempo for its meter.

``Q:1/4=120``, ``Q:3/8=100`` and ``Q:1/4 1/8=60`` (beats added up) say it outright. A bare
number (``Q:120``) is quarter notes a minute, as abc2midi and music21 both read it. Without one,
the kind decides (``R:``, any case, plural or hyphenated: "Reels", "slip-jig", "Double Jig"):

    kind         beat   a minute   quarter notes a minute
    reel         1/2    105        210
    hornpipe     1/2    85         170
    barndance    1/2    90         180
    jig          3/8    116        174
    slip jig     3/8    112        168
    slide        3/8    126        189
    polka        1/4    140        140
    waltz        1/4    150        150
    mazurka      1/4    130        130
    strathspey   1/4    128        128
    march        meter  112
    air          meter  60

These are the tempi of an easy-going session rather than of a competition: reels are counted in
half notes, a good session reel at 100-115 of them a minute; jigs in dotted quarters, 110-120;
hornpipes, barndances and strathspeys are held back for their dotted rhythm; a slow air is free
and slow, written here as 60 beats. "meter" is the meter's beat: a dotted quarter in 6/8, 9/8
and 12/8, else the meter's note (a half note in 2/2 and C|).

With neither ``Q:`` nor a kind known, the meter's beat at a moderate pace: a dotted quarter at
110 in 6/8, 9/8 and 12/8, a half note at 100 in 2/2 and C|, any other note at 120 (the MIDI
standard's own default tempo, 120 quarter notes a minute, when there is no meter either).
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from fractions import Fraction

# kind: (beat, or None for the meter's beat; beats a minute). Looked up in this order, by the
# letters of R: holding the name: "slip jig" before "jig".
KIND_TEMPI = {
    "slip jig": (Fraction(3, 8), 112), "hop jig": (Fraction(3, 8), 112), "reel": (Fraction(1, 2), 105),
    "hornpipe": (Fraction(1, 2), 85), "barndance": (Fraction(1, 2), 90), "jig": (Fraction(3, 8), 116),
    "slide": (Fraction(3, 8), 126), "polka": (Fraction(1, 4), 140), "waltz": (Fraction(1, 4), 150),
    "mazurka": (Fraction(1, 4), 130), "strathspey": (Fraction(1, 4), 128), "march": (None, 112),
    "air": (None, 60),
}
_FIELD = re.compile(r"^([QRM]):(.*)$", re.MULTILINE)
_BEATS = re.compile(r"((?:\d+/\d+\s*)+)=\s*(\d+(?:\.\d+)?)")
_BARE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*$")
_METER = re.compile(r"^\s*(\d+)/(\d+)")


@dataclass(frozen=True)
class Tempo:
    qpm: int  # quarter notes a minute, what MIDI and music21 count in
    beat: str  # the note counted: "1/4", "3/8", "1/2"
    source: str  # "Q:", "reel default", "6/8 default", "default"

    def as_dict(self) -> dict:
        return {"qpm": self.qpm, "beat": self.beat, "source": self.source}


def tune_tempo(text: str) -> Tempo:
    """The tempo of the ABC tune ``text`` (see the module docstring); reads only its header."""
    fields = {}
    for m in _FIELD.finditer(text.split("\nK:")[0]):
        fields.setdefault(m.group(1), m.group(2).split("%")[0].strip())
    stated = _stated(fields.get("Q", ""))
    if stated:
        return stated
    beat = _meter_beat(fields.get("M", ""))
    kind = _kind(fields.get("R", ""))
    if kind:
        kind_beat, per_minute = KIND_TEMPI[kind]
        return _tempo(kind_beat or beat or Fraction(1, 4), per_minute, f"{kind} default")
    if beat is None:
        return _tempo(Fraction(1, 4), 120, "default")
    per_minute = 110 if beat == Fraction(3, 8) else 100 if beat == Fraction(1, 2) else 120
    return _tempo(beat, per_minute, f"{fields['M']} default")


def _stated(q: str) -> Tempo | None:
    """The tempo ``Q:`` gives, or None when it gives none (a word alone: "Allegro")."""
    q = re.sub(r'"[^"]*"', " ", q)
    m = _BEATS.search(q)
    if m:
        beat = sum((Fraction(b) for b in m.group(1).split()), Fraction(0))
        return _tempo(beat, float(m.group(2)), "Q:") if beat > 0 else None
    m = _BARE.match(q)
    return _tempo(Fraction(1, 4), float(m.group(1)), "Q:") if m else None


def _kind(rhythm: str) -> str | None:
    letters = re.sub(r"[^a-z]", "", rhythm.lower())
    return next((k for k in KIND_TEMPI if k.replace(" ", "") in letters), None) if letters else None


def _meter_beat(meter: str) -> Fraction | None:
    """The note a bar of ``meter`` is counted in: a dotted quarter in compound meters."""
    meter = meter.strip()
    if meter in ("C|", "c|"):
        return Fraction(1, 2)
    if meter in ("C", "c"):
        return Fraction(1, 4)
    m = _METER.match(meter)
    if not m or int(m.group(2)) <= 0 or int(m.group(1)) <= 0:
        return None
    top, unit = int(m.group(1)), int(m.group(2))
    compound = unit == 8 and top % 3 == 0 and top > 3
    return Fraction(3, 8) if compound else Fraction(1, unit)


def _tempo(beat: Fraction, per_minute: float, source: str) -> Tempo:
    return Tempo(max(1, round(per_minute * beat * 4)), f"{beat.numerator}/{beat.denominator}", source)


def set_score_tempo(score, tempo: Tempo) -> None:
    """Make ``tempo`` the tempo ``score`` starts at: what music21 read from ``Q:`` at its start
    is replaced (one tempo event at the start of the MIDI file, never two), later changes kept."""
    from music21 import stream
    from music21 import tempo as m21tempo

    for mark in list(score.recurse().getElementsByClass(m21tempo.MetronomeMark)):
        if mark.getOffsetInHierarchy(score) == 0:
            score.remove(mark, recurse=True)
    beat = Fraction(tempo.beat)
    mark = m21tempo.MetronomeMark(number=tempo.qpm / float(beat * 4), referent=float(beat * 4))
    parts = list(score.getElementsByClass(stream.Part)) or [score]
    for part in parts:
        first = part.getElementsByClass(stream.Measure).first()
        (first if first is not None else part).insert(0, mark if part is parts[0] else copy.deepcopy(mark))


def drop_repeated_tempi(score) -> None:
    """Leave out each tempo mark that says again the tempo already in force (a repeat played out
    copies the first bar's mark): the MIDI file gets a tempo event only where the tempo changes."""
    from music21 import stream
    from music21 import tempo as m21tempo

    for part in list(score.getElementsByClass(stream.Part)) or [score]:
        now = None
        marks = sorted(part.recurse().getElementsByClass(m21tempo.MetronomeMark),
                       key=lambda m: m.getOffsetInHierarchy(part))
        for mark in marks:
            qpm = mark.getQuarterBPM()
            if qpm is not None and qpm == now:
                part.remove(mark, recurse=True)
            now = qpm if qpm is not None else now
