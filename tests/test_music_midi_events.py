"""The one reader of MIDI events (``music/midi_events.py``), held against a file whose notes are
counted by hand, and the two readings built on it: the export's check and the sampler's."""

import mido
import pytest

from seqgen.errors import MusicError
from seqgen.music.midi_events import MidiNote, read_midi
from seqgen.music.notes import TICKS, midi_notes


@pytest.fixture
def crafted(tmp_path):
    """480 ticks a quarter. Track 0 is the tempo map: 120 bpm, then 240 bpm from tick 960.
    Track 1 (channel 0, program 40): C4 twice, the second starting as the first stops (written
    on before off, and stopped by a note-on at velocity 0), then E4 under the faster tempo.
    Track 2 (channel 1): G4, never stopped."""
    def track(*messages):
        return mido.MidiTrack(list(messages))

    midi = mido.MidiFile(ticks_per_beat=480)
    midi.tracks.append(track(mido.MetaMessage("set_tempo", tempo=500_000, time=0),
                             mido.MetaMessage("set_tempo", tempo=250_000, time=960)))
    midi.tracks.append(track(mido.Message("program_change", channel=0, program=40, time=0),
                             mido.Message("note_on", note=60, velocity=100, time=0),
                             mido.Message("note_on", note=60, velocity=90, time=480),
                             mido.Message("note_on", note=60, velocity=0, time=0),
                             mido.Message("note_off", note=60, velocity=0, time=480),
                             mido.Message("note_on", note=64, velocity=70, time=0),
                             mido.Message("note_off", note=64, velocity=0, time=480)))
    midi.tracks.append(track(mido.Message("note_on", channel=1, note=67, velocity=80, time=0)))
    path = tmp_path / "crafted.mid"
    midi.save(str(path))
    return path


def test_each_note_through_the_tempo_map_with_its_program(crafted):
    read = read_midi(crafted)
    assert read.ticks_per_quarter == 480
    assert read.notes == [MidiNote(0, 480, 0.0, 0.5, 60, 100, 40), MidiNote(0, None, 0.0, None, 67, 80, 0),
                          MidiNote(480, 960, 0.5, 1.0, 60, 90, 40), MidiNote(960, 1440, 1.0, 1.25, 64, 70, 40)]
    assert [n.key for n in read.sounding()] == [60, 60, 64]  # the player leaves out the note never stopped


def test_the_exports_check_reads_ticks_and_marks_a_note_never_stopped(crafted):
    q = TICKS
    assert midi_notes(crafted) == [(0, 60, q), (0, 67, -1), (q, 60, q), (2 * q, 64, q)]


def test_a_file_that_is_no_midi_is_a_clear_error(tmp_path):
    with pytest.raises(MusicError, match="cannot read MIDI file"):
        read_midi(tmp_path / "missing.mid")
    (tmp_path / "wave.mid").write_bytes(b"RIFF\x04\0\0\0WAVE")
    cut_short = b"MThd\0\0\0\x06\0\x01\0\x02\x01\xe0" + b"MTrk\0\0\0\x40\0\x90"  # a track cut mid-event
    (tmp_path / "cut.mid").write_bytes(cut_short)
    for name in ("wave.mid", "cut.mid"):
        with pytest.raises(MusicError, match="is not a MIDI file that can be read"):
            read_midi(tmp_path / name)
