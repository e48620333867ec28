"""Tunes in ABC: reading the built-in corpora, cleaning, checking, MIDI export, the music CLI."""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from music21 import converter
from typer.testing import CliRunner

from seqgen.cli import app
from seqgen.errors import CorpusError, MusicError
from seqgen.music.abc import BUILTIN_CORPORA, builtin_paths, clean_tune, read_tunes, split_tunes
from seqgen.music.export import tune_to_midi
from seqgen.music.validate import check_tune, novelty, parse_abc

runner = CliRunner()
RAW = """% a file header comment
X: 17
T: The Test Reel
T: Alternative title
N: "collected by somebody"
Z: transcribed by somebody else
M: 4/4
L: 1/8
R: reel
K:G
GABc dedB | dedB dedB | c2ec B2dB | c2A2 A2BA |   % end-of-line comment
GABc dedB | dedB dedB | c2ec B2dB | A2F2 G4 ||
W: words that are not music
"""


@pytest.fixture(scope="module")
def oneills():
    return read_tunes(builtin_paths("oneills")).tunes


def tune_titled(tunes, title):
    return next(t for t in tunes if f"T:{title}\n" in t)


def test_clean_keeps_the_music_and_drops_the_rest():
    tune = clean_tune(split_tunes(RAW)[0])
    assert tune.splitlines()[:6] == ["X:1", "T:The Test Reel", "M:4/4", "L:1/8", "R:reel", "K:G"]
    assert "N:" not in tune and "Z:" not in tune and "W:" not in tune and "%" not in tune
    assert tune.splitlines()[6] == "GABc dedB | dedB dedB | c2ec B2dB | c2A2 A2BA |"
    assert clean_tune("X:1\nT:no key\nabc|\n") is None


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("X:TKM\n\r |abcABC%1/8")), max_size=300))
def test_splitter_never_crashes(text):
    for piece in split_tunes(text):
        assert piece.startswith("X:")
        cleaned = clean_tune(piece)
        assert cleaned is None or cleaned.startswith("X:1\n")


def test_builtin_corpora_read_from_music21(oneills):
    assert set(BUILTIN_CORPORA) >= {"oneills", "ryans", "airds", "essen", "folk"}
    assert len(oneills) > 1900 and all(t.startswith("X:1\n") for t in oneills)
    assert len(set(oneills)) == len(oneills)


def test_duplicates_are_dropped(tmp_path):
    (tmp_path / "a.abc").write_text(RAW + "\n" + RAW.replace("The Test Reel", "Same Tune Other Name"))
    tunes = read_tunes([tmp_path])
    assert len(tunes.tunes) == 1 and tunes.duplicates == 1


@pytest.mark.parametrize("make, words", [
    (lambda p: p / "missing.abc", "no such file"),
    (lambda p: (p / "empty").mkdir() or p / "empty", "no .abc files"),
    (lambda p: (p / "notunes.abc").write_text("just some words\n") and p / "notunes.abc", "no tunes"),
])
def test_bad_abc_sources(tmp_path, make, words):
    with pytest.raises(CorpusError, match=words):
        read_tunes([make(tmp_path)])


def test_unknown_builtin_lists_the_known_ones():
    with pytest.raises(CorpusError, match="oneills"):
        builtin_paths("beatles")


def test_real_tune_is_valid_and_broken_ones_say_why(oneills):
    good = clean_tune(split_tunes(RAW)[0])
    assert check_tune(good).valid, check_tune(good).reasons
    wrong_bar = good.replace("c2ec B2dB | c2A2", "c2ec B2 | c2A2", 1)
    assert any("bar 3 lasts 3 quarter notes, the meter says 4" in r for r in check_tune(wrong_bar).reasons)
    assert "no key (K:)" in check_tune(good.replace("K:G\n", "")).reasons
    assert not check_tune("X:1\nK:C\n|]]((^^^^(((\n").valid
    short = check_tune("X:1\nM:4/4\nK:C\nCDEF|GABc|\n").reasons
    assert len(short) == 1 and short[0].startswith("only") and "at least 4 needed" in short[0]


def test_novelty(oneills):
    assert novelty(oneills[:5], oneills) == 0.0
    made_up = "X:1\nM:4/4\nK:C\n" + "C^D=EF_GAB^c d_e^fga^bc'd' | " * 2 + "\n"
    assert novelty([made_up], oneills) == 1.0


def _pitches(score):
    return [p.midi for n in score.flatten().notes if not n.duration.isGrace for p in n.pitches]


@pytest.mark.parametrize("title", ["My Dermot", "London Lasses"])
def test_export_falls_back_where_music21_fails(oneills, tmp_path, title):
    score = parse_abc(tune_titled(oneills, title))
    with pytest.raises(Exception):  # music21's own writer fails on these real tunes
        score.write("midi", fp=str(tmp_path / "plain.mid"))
    result = tune_to_midi(score, tmp_path / "tune.mid")
    assert result.method != "plain" and result.path.is_file()
    written, back = _pitches(score), _pitches(converter.parse(str(result.path)))
    # Repeats may be played out in the MIDI, so it can hold more notes, never fewer, and the
    # same pitches in the same order at the start.
    assert set(back) == set(written) and len(back) >= 0.9 * len(written) and back[:12] == written[:12]


def test_export_to_a_path_inside_a_file(tmp_path):
    (tmp_path / "file").write_text("x")
    (tmp_path / "t.abc").write_text(RAW)
    result = runner.invoke(app, ["export", str(tmp_path / "t.abc"), "--out", str(tmp_path / "file" / "midi")])
    assert result.exit_code == 1 and "a file is in the way" in result.stderr


def test_cli_export_and_corpora(tmp_path):
    (tmp_path / "t.abc").write_text(RAW + "\n" + RAW.replace("dedB dedB |", "dBdB dedB |"))
    result = runner.invoke(app, ["export", str(tmp_path / "t.abc"), "--out", str(tmp_path / "midi")])
    assert result.exit_code == 0, result.stderr
    assert len(list((tmp_path / "midi").glob("*.mid"))) == 2
    (tmp_path / "none.abc").write_text("no tunes here\n")
    bad = runner.invoke(app, ["export", str(tmp_path / "none.abc")])
    assert bad.exit_code == 1 and "no tunes" in bad.stderr
    listed = runner.invoke(app, ["corpora"])
    assert listed.exit_code == 0 and "builtin:oneills" in listed.stdout


def test_train_and_sample_tunes_through_cli(in_tmp):
    tiny = ["--hidden", "48", "--layers", "1", "--seq-len", "32", "--batch-size", "8", "--max-steps", "30",
            "--eval-every", "15"]
    folk = builtin_paths("folk")
    result = runner.invoke(app, ["train", *map(str, folk), *tiny])
    assert result.exit_code == 0, result.stderr
    out = in_tmp / "tunes"
    result = runner.invoke(app, ["sample", "--tunes", "2", "--out", str(out), "--keep-invalid", "--seed", "1"])
    assert result.exit_code == 0, result.stderr
    assert "valid" in result.stdout and len(list(out.glob("*.abc"))) == 2
    assert all(t.read_text().startswith("X:1\n") for t in out.glob("*.abc"))
    scores = json.loads(runner.invoke(app, ["eval", "--json", "--tunes", "3"]).stdout)
    assert {"parse_pct", "midi_pct", "bars_right_pct", "novelty_pct", "perplexity"} <= scores.keys()
    unwritable = runner.invoke(app, ["sample", "--tunes", "1", "--out", str(out / "001-invalid.abc" / "x")])
    assert unwritable.exit_code == 1 and "in the way" in unwritable.stderr


def test_music_error_is_a_seqgen_error():
    from seqgen.errors import SeqgenError

    assert issubclass(MusicError, SeqgenError) and MusicError("x").exit_code == 1
