"""The music commands on a machine without the optional tools (no lilypond, fluidsynth, abcmidi
or browser on PATH, no music21 settings pointing at them), as real processes: they still write
the tunes, the MIDI files and MusicXML, and say in one line what to install for the rest. Where
the tools are installed, the same command uses them."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from seqgen.music import tools

from .helpers import seqgen_process


def seqgen(*args, bare: bool, home: Path, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "HOME": str(home)}  # music21 reads its user settings from HOME
    if bare:
        env["PATH"] = os.path.dirname(sys.executable)  # this Python, and nothing else
    return seqgen_process(*args, timeout=300, env=env, cwd=cwd)


def test_tunes_without_any_tool(music_run, tmp_path):
    done = seqgen("sample", music_run.best_path, "--tunes", "3", "--keep-invalid", "--wav", "--sheet", "--seed", "2",
                  "--out", tmp_path / "tunes", bare=True, home=tmp_path, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    notes = [line for line in done.stderr.splitlines() if line.startswith("note:")]
    assert any("lilypond is not installed (apt-get install lilypond" in n and ".musicxml instead" in n
               for n in notes), done.stderr
    files = {p.suffix for p in (tmp_path / "tunes").iterdir()}
    if tools.find_soundfont() is None:
        assert any("audio needs a General MIDI soundfont: apt-get install fluid-soundfont-gm" in n for n in notes)
        assert files == {".abc", ".mid", ".musicxml"}, files  # no audio, no PDF: nothing half-made
    else:  # a soundfont is data, not a program: seqgen plays it without fluidsynth
        assert files == {".abc", ".mid", ".musicxml", ".wav"}, files
    assert "Traceback" not in done.stderr


def test_export_without_any_tool(tmp_path):
    from .test_music_export import RAW

    (tmp_path / "t.abc").write_text(RAW)
    done = seqgen("export", tmp_path / "t.abc", "--out", tmp_path / "midi", bare=True, home=tmp_path, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert [p.name for p in (tmp_path / "midi").iterdir()] == ["t-0001-the-test-reel.mid"]


@pytest.mark.skipif(tools.find("lilypond") is None or tools.find("fluidsynth") is None or tools.find_soundfont() is None,
                    reason="lilypond, fluidsynth or a GM soundfont is not installed here "
                           "(apt-get install lilypond fluidsynth fluid-soundfont-gm)")
@pytest.mark.slow
def test_tunes_with_every_tool(music_run, tmp_path):
    done = seqgen("sample", music_run.best_path, "--tunes", "3", "--keep-invalid", "--wav", "--sheet", "--seed", "2",
                  "--out", tmp_path / "tunes", bare=False, home=tmp_path, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    valid = [p.stem for p in (tmp_path / "tunes").glob("*.abc") if "invalid" not in p.stem]
    assert valid
    for stem in valid:  # sheet music of every valid tune, in both forms, and its sound
        assert {p.suffix for p in (tmp_path / "tunes").glob(f"{stem}.*")} == {".abc", ".mid", ".wav", ".pdf", ".png"}
    assert all("invalid" in line for line in done.stderr.splitlines() if line.startswith("note:")), done.stderr
