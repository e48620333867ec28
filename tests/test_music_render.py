"""Audio and sheet music: through the external programs when installed, a clear note and a
fallback when not. The programs are stood in at the Python boundary (``tools``), so these tests
hold on a bare machine and on one with every tool; tests with the real tools run where they are."""

import io
import re
import wave
from pathlib import Path

import pytest

from seqgen.cli import music as cli_music
from seqgen.errors import MusicError
from seqgen.music import tools as real_tools
from seqgen.music.abc import clean_tune
from seqgen.music.export import tune_to_midi
from seqgen.music.m21 import parse_abc
from seqgen.music.midi_events import read_midi
from seqgen.music.render import render_sheet, render_wav
from seqgen.music.validate import check_tune

from .helpers import completed, make_soundfont
from .test_music_export import RAW


def fluidsynth_writing(args):
    """A stand-in fluidsynth: writes the -F file it is given, a quiet A4 (-25 dBFS) in 32-bit
    samples, as fluidsynth's default gain plays a tune."""
    import numpy as np

    sine = np.sin(2 * np.pi * 440 * np.arange(4410) / 44100) * 10 ** (-25 / 20) * 2 ** 31
    with wave.open(args[args.index("-F") + 1], "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(4)
        w.setframerate(44100)
        w.writeframes(np.repeat(sine, 2).astype("<i4").tobytes())
    return completed(args)


def peak_dbfs(path) -> float:
    """The loudest sample of a 16-bit WAV file, in dB below full scale."""
    import numpy as np

    with wave.open(str(path)) as w:
        assert w.getsampwidth() == 2
        frames = np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(float)
    return float(20 * np.log10(np.abs(frames).max() / 32768))


def lilypond_engraving(args):
    """A stand-in lilypond: refuses lilypond-book input, else writes the -o files."""
    source = Path(args[-1]).read_text()
    if "lilypond-book-preamble" in source or "Test Reel" not in source:
        return completed(args, 1, "error: not a plain score")
    stem = args[args.index("-o") + 1]
    Path(stem + ".pdf").write_bytes(b"%PDF")
    Path(stem + ".png").write_bytes(b"\x89PNG")
    return completed(args)


@pytest.fixture
def midi(tmp_path):
    return tune_to_midi(clean_tune(RAW), tmp_path / "t.mid").path


def test_audio_needs_a_soundfont_and_uses_fluidsynth_where_installed(tools, midi, tmp_path):
    with pytest.raises(MusicError, match="soundfont: apt-get install fluid-soundfont-gm"):
        render_wav(midi, tmp_path / "t.wav")  # nothing at all
    tools.install("fluidsynth", fluidsynth_writing)
    with pytest.raises(MusicError, match="soundfont"):
        render_wav(midi, tmp_path / "t.wav")  # fluidsynth but no soundfont
    tools.soundfont = tmp_path / "gm.sf2"
    assert peak_dbfs(render_wav(midi, tmp_path / "t.wav")) == pytest.approx(-1, abs=0.1)  # raised from -25
    ((synth, *args),) = tools.calls
    written = Path(args[2])  # beside t.wav, renamed to it once complete
    assert synth == "/stand-in/bin/fluidsynth" and written.parent == tmp_path and written.suffix == ".wav"
    assert args[:2] + args[3:] == ["-ni", "-F", "-O", "s32", "-r", "44100", str(tmp_path / "gm.sf2"), str(midi)]
    tools.behaviour["fluidsynth"] = lambda args: completed(args, 1, "fluidsynth: cannot open soundfont")
    with pytest.raises(MusicError, match="could not render .*cannot open soundfont"):
        render_wav(midi, tmp_path / "t2.wav")
    assert sorted(p.name for p in tmp_path.glob("*.wav")) == ["t.wav"]  # nothing half-made left behind


def test_what_fluidsynth_wrote_is_checked_before_it_is_kept(tools, midi, tmp_path):
    def writing_no_wav(args):
        Path(args[args.index("-F") + 1]).write_bytes(b"RIFF")
        return completed(args)

    tools.install("fluidsynth", writing_no_wav)
    tools.soundfont = tmp_path / "gm.sf2"
    with pytest.raises(MusicError, match=r"fluidsynth could not render .*t\.mid: what it wrote is not a PCM WAV"):
        render_wav(midi, tmp_path / "t.wav")
    assert list(tmp_path.glob("*.wav")) == []


def test_the_sampler_writes_at_minus_one_dbfs_and_never_clips(tools, midi, tmp_path):
    import numpy as np

    tools.soundfont = make_soundfont(tmp_path / "sine.sf2")
    path = render_wav(midi, tmp_path / "t.wav")
    assert abs(peak_dbfs(path) - -1) < 1
    with wave.open(str(path)) as w:
        frames = np.frombuffer(w.readframes(w.getnframes()), "<i2")
    assert np.abs(frames.astype(int)).max() < 32767  # no sample at full scale


def test_silence_stays_silent_and_quiet_audio_is_raised(tmp_path):
    import numpy as np

    from seqgen.music.level import normalise_wav, normalised

    assert not normalised(np.zeros((100, 2))).any()
    with wave.open(str(tmp_path / "quiet.wav"), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(np.array([0, 100, -300, 50], "<i2").tobytes())
    with wave.open(str(normalise_wav(tmp_path / "quiet.wav", tmp_path / "loud.wav"))) as w:
        loud = np.frombuffer(w.readframes(4), "<i2")
    assert loud.tolist() == [0, round(29204 / 3), -29204, round(29204 / 6)]  # -1 dBFS is 29204


def sounded_notes(path: Path) -> int:
    """The notes heard in a WAV file of notes parted by rests: its bursts of sound, counted."""
    import numpy as np

    with wave.open(str(path)) as w:
        rate = w.getframerate()
        frames = np.frombuffer(w.readframes(w.getnframes()), "<i2").reshape(-1, w.getnchannels())
    loud = np.abs(frames.astype(float)).max(axis=1)
    window = rate // 100  # 10 ms: a rest here lasts 250 ms
    level = loud[: len(loud) // window * window].reshape(-1, window).max(axis=1)
    on = level > 0.1 * level.max()
    return int(on[0]) + int(np.count_nonzero(on[1:] & ~on[:-1]))


# Each note parted from the next by a rest, so that every one is heard on its own.
PARTED = "X:1\nT:Parted\nM:2/4\nL:1/8\nQ:1/4=120\nK:C\n"


@pytest.mark.parametrize("body, by_hand", [  # bars enough for music21 to play repeats out
    ("|: A2 z2 | c2 z2 | e2 z2 :| g2 z2 | a2 z2 |]", 3 + 3 + 2),  # well formed
    ("|: A2 z2 | c2 z2 |1 e2 z2 :|2 g2 z2 | a2 z2 |]", 3 + 2 + 2),  # first and second endings
    ("A2 z2 | c2 z2 | e2 z2 :| g2 z2 | a2 z2 |]", 3 + 3 + 2),  # a bare :|: from the start
    ("|: A2 z2 | c2 z2 | e2 z2 || g2 z2 | a2 z2 |]", 3 + 3 + 2),  # |: closed by ||: the part twice
])
def test_the_wav_plays_repeats_as_a_musician_reads_them(tools, tmp_path, body, by_hand):
    """Counted by hand; the WAV is played from the MIDI file a batch writes (tune_files)."""
    from seqgen.music.synth import render_midi

    midi = tune_to_midi(PARTED + body + "\n", tmp_path / "t.mid")
    wav = render_midi(midi.path, tmp_path / "t.wav", make_soundfont(tmp_path / "sine.sf2"))
    assert sounded_notes(wav) == by_hand


def dominant_hz(frames, rate: int, start: float, end: float) -> float:
    import numpy as np

    seg = frames[int(start * rate):int(end * rate)].astype(float)
    spectrum = np.abs(np.fft.rfft(seg * np.hanning(len(seg))))
    return float(np.fft.rfftfreq(len(seg), 1 / rate)[spectrum.argmax()])


def test_without_fluidsynth_seqgen_plays_the_soundfont_itself(tools, midi, tmp_path):
    import numpy as np

    from seqgen.music.midi_events import read_midi

    tools.soundfont = make_soundfont(tmp_path / "sine.sf2")
    path = render_wav(midi, tmp_path / "t.wav")
    assert tools.calls == []  # no program was run
    with wave.open(str(path)) as w:
        rate, channels = w.getframerate(), w.getnchannels()
        frames = np.frombuffer(w.readframes(w.getnframes()), "<i2").reshape(-1, channels)[:, 0]
    notes = read_midi(midi).sounding()
    assert channels == 2 and abs(len(frames) / rate - (max(n.end for n in notes) + 1.0)) < 0.1
    for n in notes[:4]:  # each note at its pitch: G4 A4 B4 c5 of the reel
        assert abs(dominant_hz(frames, rate, n.start + 0.02, n.end - 0.02) - 440 * 2 ** ((n.key - 69) / 12)) < 8
    assert np.abs(frames[-rate // 2:]).max() < 50  # the last note has died away


def test_a_released_note_falls_in_decibels_as_the_standard_has_it(tools, tmp_path):
    # The sine font releases in 0.25 s: the whole 100 dB, so halfway through it is 50 dB down.
    # Falling linearly in amplitude instead, a note stayed at half its level there, and the tails
    # of earlier notes drowned out the pitch of short ones.
    import mido
    import numpy as np

    one_note = mido.MidiFile(ticks_per_beat=480)  # A4 for two quarters at 120 bpm: 1 s
    one_note.tracks.append(mido.MidiTrack([mido.Message("note_on", note=69, velocity=100, time=0),
                                           mido.Message("note_off", note=69, velocity=0, time=960)]))
    one_note.save(str(tmp_path / "a.mid"))
    tools.soundfont = make_soundfont(tmp_path / "sine.sf2")
    with wave.open(str(render_wav(tmp_path / "a.mid", tmp_path / "a.wav"))) as w:
        rate = w.getframerate()
        frames = np.frombuffer(w.readframes(w.getnframes()), "<i2").reshape(-1, 2)[:, 0].astype(float)

    def level(at: float) -> float:
        return float(np.sqrt(np.mean(frames[int((at - 0.01) * rate):int((at + 0.01) * rate)] ** 2)))

    assert 20 * np.log10(level(1.125) / level(0.5)) == pytest.approx(-50, abs=3)
    assert level(1.3) == 0


def test_a_file_that_is_no_soundfont_is_a_clear_error(tools, midi, tmp_path):
    tools.soundfont = tmp_path / "not.sf2"
    tools.soundfont.write_bytes(b"RIFF\x04\0\0\0WAVE")
    with pytest.raises(MusicError, match="not a SoundFont 2 file"):
        render_wav(midi, tmp_path / "t.wav")
    assert not (tmp_path / "t.wav").exists()


def test_a_soundfont_is_found_in_the_usual_places(tmp_path):
    font = tmp_path / "gm.sf2"
    assert real_tools.find_soundfont((str(tmp_path / "none.sf2"), str(font))) is None
    font.write_bytes(b"sf2")
    assert real_tools.find_soundfont((str(tmp_path / "none.sf2"), str(font))) == font


def test_sheet_music_without_lilypond_is_musicxml_with_the_same_notes(tools, tmp_path):
    import music21

    score = parse_abc(clean_tune(RAW))
    drawn = render_sheet(score, tmp_path / "t.png")
    assert drawn.path == tmp_path / "t.musicxml"
    assert drawn.fallback == "lilypond is not installed (apt-get install lilypond (or brew install lilypond))"
    pitches = [n.pitch.midi for n in music21.converter.parse(drawn.path).flatten().notes]
    assert pitches == [n.pitch.midi for n in score.flatten().notes] and len(pitches) > 40
    with pytest.raises(MusicError, match="cannot parse"):
        render_sheet("X:1\nM:4/4\nK:C\nA/0 B [[[[\n", tmp_path / "bad.png")


def test_sheet_music_is_engraved_by_lilypond_on_ordinary_pages(tools, tmp_path):
    tools.install("lilypond", lilypond_engraving)
    drawn = render_sheet(parse_abc(clean_tune(RAW)), tmp_path / "t.png")
    assert drawn.path == tmp_path / "t.pdf" and not drawn.fallback
    assert (tmp_path / "t.png").read_bytes() == b"\x89PNG"
    (args,) = tools.calls
    assert args[:5] == ["/stand-in/bin/lilypond", "--pdf", "--png", "-dresolution=120", "-o"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.pdf", "t.png"]  # no .ly left behind


@pytest.mark.parametrize("version, engraving, why", [
    # music21 reads lilypond's version itself and fails on an answer it does not expect
    ("lilypond", lilypond_engraving, r"music21 could not write LilyPond input \(IndexError"),
    ("GNU LilyPond 2.24.1", lambda args: completed(args, 1, "fatal error: out of memory"),
     "lilypond could not engrave t: fatal error: out of memory"),
])
def test_when_lilypond_fails_the_fallback_says_what_failed(tools, tmp_path, version, engraving, why):
    tools.install("lilypond", engraving)
    tools.lilypond_version = version
    drawn = render_sheet(parse_abc(clean_tune(RAW)), tmp_path / "t.png")
    assert drawn.path == tmp_path / "t.musicxml" and drawn.path.is_file()
    assert re.match(f"lilypond failed: {why}", drawn.fallback), drawn.fallback
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.musicxml"]


def test_an_unexpected_error_is_not_taken_for_a_lilypond_failure(tools, tmp_path):
    def broken(args):
        raise KeyError("a bug, not a tool failing")

    tools.install("lilypond", broken)
    with pytest.raises(KeyError):
        render_sheet(parse_abc(clean_tune(RAW)), tmp_path / "t.png")


class OneTune:
    """A music model that always draws the same valid tune."""

    def check_tune_count(self, count):
        assert count == 1

    def tunes(self, count, **settings):
        from seqgen.music.tunes import TuneBatch

        tune = clean_tune(RAW)
        return TuneBatch(valid=[(tune, check_tune(tune))], attempts=1, first_try_valid=1)


def test_sampled_tunes_get_audio_and_sheet_music_or_a_note_on_what_to_install(tools, tmp_path, capsys):
    cli_music.write_tunes(OneTune(), 1, tmp_path / "none", False, False, wav=True, sheet=True)
    assert sorted(p.name for p in (tmp_path / "none").iterdir()) == ["001.abc", "001.mid", "001.musicxml"]
    said = " ".join(capsys.readouterr().err.split())
    assert "note: audio needs a General MIDI soundfont: apt-get install fluid-soundfont-gm" in said
    assert "note: lilypond is not installed (apt-get install lilypond" in said and "wrote 001.musicxml instead" in said
    tools.install("fluidsynth", fluidsynth_writing)
    tools.install("lilypond", lilypond_engraving)
    tools.soundfont = tmp_path / "gm.sf2"
    cli_music.write_tunes(OneTune(), 1, tmp_path / "all", False, False, wav=True, sheet=True)
    assert sorted(p.name for p in (tmp_path / "all").iterdir()) == ["001.abc", "001.mid", "001.pdf", "001.png",
                                                                    "001.wav"]
    assert "note:" not in capsys.readouterr().err


# -- the real tools, where this machine has them ------------------------------------------------

needs_lilypond = pytest.mark.skipif(real_tools.find("lilypond") is None,
                                    reason="lilypond is not installed here (apt-get install lilypond)")
needs_fluidsynth = pytest.mark.skipif(
    real_tools.find("fluidsynth") is None or real_tools.find_soundfont() is None,
    reason="fluidsynth or a GM soundfont is not installed here (apt-get install fluidsynth fluid-soundfont-gm)")


@needs_lilypond
def test_real_lilypond_engraves_a_page(tmp_path):
    drawn = render_sheet(parse_abc(clean_tune(RAW)), tmp_path / "t.png")
    assert drawn.fallback == "" and drawn.path.read_bytes().startswith(b"%PDF")
    assert (tmp_path / "t.png").read_bytes().startswith(b"\x89PNG")


@needs_fluidsynth
def test_real_fluidsynth_plays_the_tune(midi, tmp_path):
    path = render_wav(midi, tmp_path / "t.wav")
    with wave.open(str(path)) as w:
        frames = w.readframes(w.getnframes())
        assert w.getframerate() == 44100 and w.getnframes() / 44100 > 5
    assert max(frames) > 0  # not silence
    assert abs(peak_dbfs(path) - -1) < 1  # fluidsynth's own level is near -25 dBFS


@pytest.mark.skipif(real_tools.find_soundfont() is None,
                    reason="no General MIDI soundfont is installed here (apt-get install fluid-soundfont-gm)")
def test_seqgen_plays_a_real_soundfont(midi, tmp_path, monkeypatch):
    import numpy as np

    monkeypatch.setattr(real_tools, "find", lambda name: None)  # as if fluidsynth were not installed
    path = render_wav(midi, tmp_path / "t.wav")
    with wave.open(str(path)) as w:
        rate = w.getframerate()
        frames = np.frombuffer(w.readframes(w.getnframes()), "<i2").reshape(-1, 2)[:, 0]
    first = read_midi(midi).sounding()[0]  # G4, the first note
    assert len(frames) / rate > 5 and abs(dominant_hz(frames, rate, first.start + 0.02, first.end - 0.02) - 392) < 8
    assert abs(peak_dbfs(path) - -1) < 1


def test_reasons_and_paths_that_look_like_markup_are_printed_as_they_are(tools, tmp_path, capsys):
    # A rejected tune's reason quotes its text ("K:[/M_^v] names no key"): rich took it for a
    # closing tag and the command ended in a MarkupError.
    class Garbled(OneTune):
        def tunes(self, count, **settings):
            batch = super().tunes(count, **settings)
            batch.reasons.update({"K:[/M_^v] names no key": 1, "L:[bold] is not a note length (1/8, 1/16, ...)": 1})
            batch.attempts = 3
            return batch

    cli_music.write_tunes(Garbled(), 1, tmp_path / "[red]tunes", False, False, wav=False, sheet=False)
    said = " ".join(capsys.readouterr().out.split())
    assert "rejected: K:[/M_^v] names no key" in said and "rejected: L:[bold] is not a note length" in said
    assert "/[red]tu" in said  # the folder named as it is (the title may wrap)


def test_the_table_of_reasons_is_the_same_whichever_came_first():
    # A tune's reasons are gathered in a set, whose order changes from run to run: reasons that
    # rejected as many tunes must still come in one order, so that a --seed gives the same table.
    from collections import Counter

    from rich.console import Console

    from seqgen.music.tunes import TuneBatch

    def shown(reasons: Counter) -> str:
        console = Console(width=100, record=True, file=io.StringIO())
        console.print(cli_music.tune_table(TuneBatch(attempts=7, reasons=reasons), 4, Path("t"), False))
        return console.export_text()

    one = shown(Counter({"no key": 2, "does not parse": 2, "a bar has the wrong length": 3}))
    other = shown(Counter({"does not parse": 2, "a bar has the wrong length": 3, "no key": 2}))
    assert one == other
    assert one.index("wrong length") < one.index("does not parse") < one.index("no key")
