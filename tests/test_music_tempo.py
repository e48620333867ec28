"""The tempo a tune is played at: from Q:, else its kind, else its meter; and the MIDI file's
tempo events, read with mido, and abc2midi's where it is installed."""

import shutil
import subprocess

import mido
import pytest

from seqgen.music.export import tune_to_midi
from seqgen.music.m21 import parse_abc
from seqgen.music.midi_events import read_midi
from seqgen.music.tempo import Tempo, tune_tempo


def tune(*header: str, meter: str = "6/8") -> str:
    return "\n".join(["X:1", "T:Timed", f"M:{meter}", "L:1/8", *header, "K:G",
                      "|:GAB dBG|GAB d3|GAB dBG|AGF G3:|", ""])


@pytest.mark.parametrize("header, meter, want", [
    ("Q:1/4=120", "6/8", Tempo(120, "1/4", "Q:")),
    ("Q:3/8=100", "6/8", Tempo(150, "3/8", "Q:")),  # 100 dotted quarters: 150 quarters
    ("Q:120", "6/8", Tempo(120, "1/4", "Q:")),  # a bare number counts quarters, as abc2midi does
    ('Q:"Allegro" 1/4=132', "4/4", Tempo(132, "1/4", "Q:")),
    ("Q:1/4 1/8=60", "6/8", Tempo(90, "3/8", "Q:")),  # beats added up
    ("R:reel", "4/4", Tempo(210, "1/2", "reel default")),
    ("R:Reels", "C|", Tempo(210, "1/2", "reel default")),
    ("R:jig", "6/8", Tempo(174, "3/8", "jig default")),
    ("R:Double Jig", "6/8", Tempo(174, "3/8", "jig default")),
    ("R:slip-jig", "9/8", Tempo(168, "3/8", "slip jig default")),
    ("R:SLIP JIGS", "9/8", Tempo(168, "3/8", "slip jig default")),
    ("R:hornpipe", "4/4", Tempo(170, "1/2", "hornpipe default")),
    ("R:polka", "2/4", Tempo(140, "1/4", "polka default")),
    ("R:Waltz", "3/4", Tempo(150, "1/4", "waltz default")),
    ("R:slow air", "3/4", Tempo(60, "1/4", "air default")),
    ("R:air", "6/8", Tempo(90, "3/8", "air default")),  # the meter's beat, 60 of them
    ("R:march", "2/4", Tempo(112, "1/4", "march default")),
    ("R:set dance", "6/8", Tempo(165, "3/8", "6/8 default")),  # an unknown kind: the meter decides
    ("", "6/8", Tempo(165, "3/8", "6/8 default")),
    ("", "C|", Tempo(200, "1/2", "C| default")),
    ("", "3/4", Tempo(120, "1/4", "3/4 default")),
    ("", "none", Tempo(120, "1/4", "default")),
    ("Q:Allegro\nR:reel", "4/4", Tempo(210, "1/2", "reel default")),  # a word alone gives no tempo
])
def test_tune_tempo(header, meter, want):
    assert tune_tempo(tune(*([header] if header else []), meter=meter)) == want


def tempo_events(path) -> list[tuple[int, float]]:
    """(tick, quarter notes a minute) of every tempo event of a MIDI file, all tracks."""
    found = []
    for track in mido.MidiFile(str(path)).tracks:
        tick = 0
        for message in track:
            tick += message.time
            if message.type == "set_tempo":
                found.append((tick, round(mido.tempo2bpm(message.tempo), 3)))
    return found


@pytest.mark.parametrize("header, qpm", [("Q:3/8=100", 150), ("Q:1/4=96\nR:reel", 96),
                                         ("R:reel", 210), ("R:jig", 174)])
def test_the_midi_file_carries_the_tempo_once(tmp_path, header, qpm):
    result = tune_to_midi(tune(*header.split("\n")), tmp_path / "t.mid")
    assert tempo_events(result.path) == [(0, qpm)]  # one event: Q: honoured, never doubled
    first = read_midi(result.path).sounding()[0]  # an eighth note
    assert first.end - first.start == pytest.approx(60 / qpm / 2, rel=1e-3)
    assert result.tempo.qpm == qpm


def test_a_batch_written_from_checked_scores_takes_the_tempo_of_the_text(tmp_path):
    from seqgen.music.tune_files import TuneFolder
    from seqgen.music.validate import check_tune

    text = tune("R:jig")
    TuneFolder(tmp_path).write(text, check_tune(text))
    assert tempo_events(tmp_path / "001.mid") == [(0, 174)]


def test_a_score_without_its_text_keeps_the_tempo_music21_read(tmp_path):
    result = tune_to_midi(parse_abc(tune("Q:1/4=90")), tmp_path / "t.mid")
    assert result.tempo is None and tempo_events(result.path) == [(0, 90)]


@pytest.mark.skipif(shutil.which("abc2midi") is None, reason="abc2midi is not installed here (apt-get install abcmidi)")
@pytest.mark.parametrize("q", ["Q:3/8=100", "Q:1/4=120", "Q:120"])
def test_abc2midi_reads_q_as_seqgen_does(tmp_path, q):
    (tmp_path / "t.abc").write_text(tune(q))
    subprocess.run(["abc2midi", str(tmp_path / "t.abc"), "-o", str(tmp_path / "abc2midi.mid")],
                   capture_output=True, timeout=60, check=True)
    theirs = {bpm for _, bpm in tempo_events(tmp_path / "abc2midi.mid")}
    assert theirs == {tune_tempo(tune(q)).qpm}
