"""What the MIDI file and the audio play: a tune's score with its repeat signs as a musician reads
them (``repeats.played_abc``) and its tempo (``tempo.tune_tempo``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from .m21 import parse_abc
from .repeats import has_repeat_signs, played_abc
from .tempo import Tempo, tune_tempo


@dataclass
class Playable:
    score: object | None  # a music21 score; None when music21 cannot parse the tune
    tempo: Tempo | None  # None: the tempo music21 read (no ABC text to read it from)
    notes: list[str] = field(default_factory=list)  # which repeat signs were read how
    repeats: bool = False  # the text has repeat signs (music21 may have read none: too few bar lines)


def playable(tune, abc: str | None = None) -> Playable:
    """The score to play of ``tune`` (ABC text, or a music21 score parsed from ``abc``).

    A score is parsed again only when its repeat signs needed repair; when music21 cannot read
    the repaired text, the tune is played as written and a note says so. A score without its
    text is played as it is.
    """
    text = tune if isinstance(tune, str) else abc
    if text is None:
        return Playable(tune, None)
    played, notes = played_abc(text)
    score = tune if not isinstance(tune, str) and played == text else parse_abc(played)
    if score is None and played != text:
        score = parse_abc(text) if isinstance(tune, str) else tune
        notes = [*notes, "music21 cannot read the repaired repeat signs: played as written"] if score else notes
    return Playable(score, tune_tempo(text), notes, has_repeat_signs(played))


def playing_fields(text: str) -> dict:
    """How the tune ``text`` is played, for a page that plays it as the MIDI file does: the ABC as
    played (repeat signs repaired; ``text`` itself when none needed it), one line per sign read
    other than as written, and the tempo (quarter notes a minute, the beat, where it came from)."""
    played, notes = played_abc(text)
    return {"played_abc": played, "repeat_notes": notes, "tempo": tune_tempo(text).as_dict()}
