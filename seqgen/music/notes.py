"""What notes a MIDI file should hold, and what notes it does hold.

``score_notes`` reads them from a music21 score (repeats played out as ABC players play them:
``played_out``), ``midi_notes`` from a file's note events (read in ``midi_events``), and
``notes_differ`` compares the two. The export checks every file it writes with them, and the tests use them too.
"""

from __future__ import annotations

import copy
from pathlib import Path

from .midi_events import read_midi

TICKS = 10080  # a quarter note in MIDI ticks, as music21 writes them: times compare as integers
Note = tuple[int, int, int]  # (onset in ticks, MIDI pitch, length in ticks)


def played_out(score):
    """A new score with ``score``'s repeats played out (music21's ``expandRepeats``), each repeat
    going back to where ABC players take it back to.

    A ``:|`` with no ``|:`` goes back to just after the previous ``:|`` (past its first- and
    second-ending bars), or to the beginning when there is none. music21 always goes back to the
    beginning, which for O'Neill's many-part jigs (``A:| B:| C:| ...``) doubles the whole tune at
    each part: 2**10 times for "Morgan Rattler", minutes to write.
    """
    from music21 import bar, spanner, stream

    starts = []  # (part, measure) indices of the bars where a repeat starts unmarked
    for p, part in enumerate(score_parts(score)):
        bars = list(part.getElementsByClass(stream.Measure))
        endings = {id(m) for b in part.spannerBundle.getByClass(spanner.RepeatBracket) for m in b}
        after_end, opened = None, False  # the bar after the last :|; whether a |: came since
        for i, m in enumerate(bars):
            opened = opened or (isinstance(m.leftBarline, bar.Repeat) and m.leftBarline.direction == "start")
            if isinstance(m.rightBarline, bar.Repeat) and m.rightBarline.direction == "end":
                if not opened and after_end is not None:
                    first = next((k for k in range(after_end, i + 1) if id(bars[k]) not in endings), None)
                    starts += [(p, first)] if first is not None else []
                after_end, opened = i + 1, False
    if starts:
        score = copy.deepcopy(score)
        copied = score_parts(score)
        for p, i in starts:
            copied[p].getElementsByClass(stream.Measure)[i].leftBarline = bar.Repeat(direction="start")
    return score.expandRepeats()


def score_parts(score) -> list:
    from music21 import stream

    return list(score.getElementsByClass(stream.Part)) or [score]


def is_tied_on(n) -> bool:
    return n.tie is not None and n.tie.type in ("start", "continue")


def note_sounds(part):
    """(onset, length, MIDI pitch, note) for each pitch of each note of one part, by onset; times
    in ticks, zero-length (grace) notes left out. A tie joins a note to the note of the same pitch
    that starts where it ends, and to nothing else."""
    for n in part.flatten().notes:
        on, length = round(n.offset * TICKS), round(n.duration.quarterLength * TICKS)
        if length:
            yield from ((on, length, p.pitch.midi, p) for p in (n.notes if n.isChord else (n,)))


def score_notes(score, expand_repeats: bool = False) -> list[Note]:
    """The notes a MIDI file written from ``score`` should hold, by onset then pitch.

    Tied notes are one note (see ``note_sounds``); grace notes are left out, as ``tune_to_midi``
    leaves them out.
    """
    if expand_repeats:
        score = played_out(score)
    notes: list[list[int]] = []
    for part in score_parts(score):
        tied: dict[tuple[int, int], list[int]] = {}  # (tick, pitch) -> the note a tie carries there
        for on, length, pitch, n in note_sounds(part):
            note = tied.pop((on, pitch), None)
            if note is None:
                note = [on, pitch, 0]
                notes.append(note)
            note[2] += length
            if is_tied_on(n):
                tied[(on + length, pitch)] = note
    return sorted(tuple(note) for note in notes)


def midi_notes(path: Path) -> list[Note]:
    """The notes of a MIDI file, read event by event (no quantising), by onset then pitch.

    A note never stopped gets length -1, so it can never pass for a note of the score.
    """
    midi = read_midi(path)
    scale = TICKS / midi.ticks_per_quarter
    notes = []
    for n in midi.notes:
        onset = round(n.start_tick * scale)
        notes.append((onset, n.key, -1 if n.end_tick is None else round(n.end_tick * scale) - onset))
    return sorted(notes)


def notes_differ(score, midi_path: Path, expand_repeats: bool) -> str:
    """How the MIDI file's notes differ from the score's (repeats played out or not), or "" when
    they are the same notes at the same times, to a tick or two."""
    return difference(score_notes(score, expand_repeats), midi_notes(midi_path))


def difference(want: list[Note], got: list[Note]) -> str:
    for i, (a, b) in enumerate(zip(want, got)):
        if a[1] != b[1] or abs(a[0] - b[0]) > 2 or abs(a[2] - b[2]) > 2:  # the writer rounds to ticks
            return f"note {i + 1}: score has {_show(a)}, MIDI has {_show(b)}"
    if len(want) != len(got):
        return f"score has {len(want)} notes, MIDI has {len(got)}"
    return ""


def _show(note: Note) -> str:
    return f"pitch {note[1]} at {note[0] / TICKS:g} for {note[2] / TICKS:g} quarters"
