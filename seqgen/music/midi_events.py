"""The notes of a MIDI file, read through mido: when each starts and stops (in ticks and, through
the tempo map, in seconds), its key, velocity and program. The export's check of the files it
writes (``notes.py``) and the sampler (``synth.py``) both read MIDI here.

A note-on opens a note of its track, channel and key; the next note-off (or note-on at velocity
0) of the same closes the oldest one open. Events at one tick are taken tempo first, then
program changes, then note-offs, then note-ons, so that a note repeated at once is two notes and
a tempo or instrument set at a tick already holds for the notes starting there.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

from ..errors import MusicError

_ORDER_AT_A_TICK = {"set_tempo": 0, "program_change": 1, "note_off": 2, "note_on": 3}
_DEFAULT_TEMPO = 500_000  # microseconds a quarter note, as the MIDI standard has it until told


@dataclass(frozen=True)
class MidiNote:
    start_tick: int
    end_tick: int | None  # None: never stopped
    start: float  # seconds
    end: float | None
    key: int
    velocity: int
    program: int  # General MIDI program, 0-127


@dataclass(frozen=True)
class MidiNotes:
    ticks_per_quarter: int
    notes: list[MidiNote]  # in the order they start

    def sounding(self) -> list[MidiNote]:
        """The notes that stop: what a player plays."""
        return [n for n in self.notes if n.end is not None]


def read_midi(path: Path) -> MidiNotes:
    """The notes of the MIDI file at ``path``; MusicError when it cannot be read as one."""
    import mido

    try:
        midi = mido.MidiFile(str(path))
    except OSError as exc:
        if exc.errno is not None:  # the file system's complaint; mido raises OSError on bad content too
            raise MusicError(f"cannot read MIDI file {path}: {exc.strerror or exc}") from None
        raise MusicError(f"{path} is not a MIDI file that can be read ({exc})") from None
    except (EOFError, ValueError, KeyError, IndexError, struct.error) as exc:
        raise MusicError(f"{path} is not a MIDI file that can be read ({exc or type(exc).__name__})") from None
    return MidiNotes(midi.ticks_per_beat, _notes(_events(midi), midi.ticks_per_beat))


def _events(midi) -> list[tuple]:
    """(tick, order at a tick, track, kind, message) of the events that matter, in playing order."""
    events = []
    for track_number, track in enumerate(midi.tracks):
        tick = 0
        for message in track:
            tick += message.time
            kind = "note_off" if message.type == "note_on" and message.velocity == 0 else message.type
            if kind in _ORDER_AT_A_TICK:
                events.append((tick, _ORDER_AT_A_TICK[kind], track_number, kind, message))
    return sorted(events, key=lambda e: e[:2])  # stable: a track's own order stays


def _notes(events: list[tuple], ticks_per_quarter: int) -> list[MidiNote]:
    import mido

    tempo, seconds, last_tick = _DEFAULT_TEMPO, 0.0, 0
    programs: dict[int, int] = {}  # channel -> program
    sounding: dict[tuple[int, int, int], list[int]] = {}  # (track, channel, key) -> indices of open notes
    started: list[list] = []  # [start tick, end tick, start s, end s, key, velocity, program]
    for tick, _, track, kind, message in events:
        seconds += mido.tick2second(tick - last_tick, ticks_per_quarter, tempo)
        last_tick = tick
        if kind == "set_tempo":
            tempo = message.tempo or tempo
        elif kind == "program_change":
            programs[message.channel] = message.program
        elif kind == "note_on":
            sounding.setdefault((track, message.channel, message.note), []).append(len(started))
            started.append([tick, None, seconds, None, message.note, message.velocity,
                            programs.get(message.channel, 0)])
        elif open_notes := sounding.get((track, message.channel, message.note)):
            note = started[open_notes.pop(0)]
            note[1], note[3] = tick, seconds
    return [MidiNote(*note) for note in started]
