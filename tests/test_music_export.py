"""MIDI export that keeps every note, and the music commands end to end."""

import copy
import json
import os
import re

import pytest

from seqgen.cli import app
from seqgen.errors import MusicError, SeqgenError
from seqgen.music import export
from seqgen.music.abc import builtin_paths, clean_tune, split_tunes
from seqgen.music.export import export_abc_file, tune_to_midi
from seqgen.music import tunes
from seqgen.music.tunes import TUNE_TOP_P
from seqgen.music.notes import midi_notes, notes_differ, score_notes
from seqgen.music.m21 import parse_abc

from .helpers import runner

RAW = """X: 17
T: The Test Reel
M: 4/4
L: 1/8
R: reel
K:G
GABc dedB | dedB dedB | c2ec B2dB | c2A2 A2BA |
GABc dedB | dedB dedB | c2ec B2dB | A2F2 G4 ||
"""


def oneills_tune(file_name: str, title: str) -> str:
    """One real tune of O'Neill's 1850, cleaned as training cleans it."""
    path = next(p for p in builtin_paths("oneills") if p.name == file_name)
    tunes = [clean_tune(t) for t in split_tunes(path.read_text(encoding="utf-8"))]
    return next(t for t in tunes if t and f"T:{title}\n" in t)


# Real tunes on which music21's own MIDI writer raises: a time signature object shared by two bars
# (6/8 back after a 5/8 bar; 3/4 back after short bars music21 gives a 1/16 meter), and a repeat
# that opens and never closes.
@pytest.mark.parametrize("file_name, title, method", [
    ("0626-0700.abc", "My Dermot", "plain"),
    ("0001-0050.abc", "The Dark Woman of the Glen", "plain"),
    ("0626-0700.abc", "Planxty O'Kelly", "repeats-unexpanded"),
])
def test_export_where_music21_fails_keeps_every_note(tmp_path, file_name, title, method):
    score = parse_abc(oneills_tune(file_name, title))
    with pytest.raises(Exception):
        score.write("midi", fp=str(tmp_path / "music21.mid"))
    result = tune_to_midi(score, tmp_path / "tune.mid")
    assert (result.method, result.mismatch) == (method, "") and result.path.is_file()
    assert notes_differ(score, result.path, result.expands_repeats) == ""


def test_plain_export_plays_repeats_out(tmp_path):
    score = parse_abc(clean_tune(RAW.replace("A2F2 G4 ||", "A2F2 G4 :|")))
    result = tune_to_midi(score, tmp_path / "t.mid")
    assert result.method == "plain" and result.expands_repeats
    assert notes_differ(score, result.path, expand_repeats=True) == ""
    assert len(midi_notes(result.path)) == 2 * len(score_notes(score)) == 104


def test_a_repeat_with_no_start_goes_back_to_the_previous_repeat_end(tmp_path):
    # music21 takes every such :| back to the beginning: the tune doubles at each part (2**n)
    score = parse_abc("X:1\nM:4/4\nL:1/4\nK:C\nCDEF|1GABc:|2cBAG||defg|abc'd':|\n|:e'd'cB|AGFE:|\n")
    a, a1, a2 = [60, 62, 64, 65], [67, 69, 71, 72], [72, 71, 69, 67]
    b, c = [74, 76, 77, 79, 81, 83, 84, 86], [88, 86, 72, 71, 69, 67, 65, 64]
    played = [pitch for _, pitch, _ in score_notes(score, expand_repeats=True)]
    assert played == a + a1 + a + a2 + b + b + c + c  # b goes back to after the second ending
    result = tune_to_midi(score, tmp_path / "t.mid")
    assert result.method == "plain" and notes_differ(score, result.path, expand_repeats=True) == ""


def test_a_many_part_jig_plays_each_part_twice(tmp_path):
    score = parse_abc(oneills_tune("1031-1115.abc", "Wallop the Potlid"))  # six parts, each ending :|
    result = tune_to_midi(score, tmp_path / "t.mid")
    assert result.method == "plain" and notes_differ(score, result.path, expand_repeats=True) == ""
    assert len(midi_notes(result.path)) == 2 * len(score_notes(score)) == 578


def test_grace_notes_are_left_out_not_left_sounding(tmp_path):
    score = parse_abc(clean_tune(RAW.replace("c2ec", "{d}c2ec")))
    # music21 writes the grace note's note-off before its note-on: the d sounds on into the next d
    score.write("midi", fp=str(tmp_path / "music21.mid"))
    assert notes_differ(score, tmp_path / "music21.mid", expand_repeats=True) != ""
    result = tune_to_midi(score, tmp_path / "t.mid")
    assert result.method == "plain" and notes_differ(score, result.path, expand_repeats=True) == ""


def test_a_tie_between_two_pitches_keeps_both_notes(tmp_path):
    # O'Neill's writes f-g for a slur; music21 reads a tie, and its writer merges g into f
    score = parse_abc(clean_tune(RAW.replace("GABc", "G-ABc", 1)))
    score.write("midi", fp=str(tmp_path / "music21.mid"))
    assert len(midi_notes(tmp_path / "music21.mid")) == 51
    result = tune_to_midi(score, tmp_path / "t.mid")
    assert len(midi_notes(result.path)) == len(score_notes(score)) == 52
    assert notes_differ(score, result.path, expand_repeats=True) == ""


def _drop_sixth_note(score):
    n = score.recurse().notes[5]
    n.activeSite.remove(n)


def _lengthen_sixth_note(score):
    score.recurse().notes[5].quarterLength *= 2


def _raise_sixth_note(score):
    score.recurse().notes[5].pitch.midi += 1


@pytest.mark.parametrize("spoil", [_drop_sixth_note, _lengthen_sixth_note, _raise_sixth_note])
def test_the_note_check_sees_a_wrong_note(tmp_path, spoil):
    score = parse_abc(clean_tune(RAW))
    spoilt = copy.deepcopy(score)
    spoil(spoilt)
    spoilt.write("midi", fp=str(tmp_path / "t.mid"))
    assert notes_differ(score, tmp_path / "t.mid", expand_repeats=True).startswith(
        "note 6: score has pitch 76 at 2.5 for 0.5 quarters, MIDI has ")


def test_export_says_so_when_no_fallback_gets_the_notes_right(tmp_path, monkeypatch):
    monkeypatch.setattr(export, "_make_playable", lambda score: None)  # music21's writer unaided
    score = parse_abc(clean_tune(RAW.replace("GABc", "G-ABc", 1)))
    result = tune_to_midi(score, tmp_path / "t.mid")
    assert result.path.is_file() and result.method == "flat-notes"
    assert result.mismatch == "note 1: score has pitch 67 at 0 for 0.5 quarters, MIDI has pitch 67 at 0 for 1 quarters"


def test_every_tune_of_a_real_file_is_exported(tmp_path):
    path = next(p for p in builtin_paths("oneills") if p.name == "0626-0635.abc")
    results = export_abc_file(path, tmp_path)
    assert len(results) == 10 and all(r.path is not None and r.path.is_file() and not r.mismatch for r in results)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(r.path.name for r in results)  # no temp files
    assert results[0].path.name.startswith("0626-0635-0001-")


def test_unparsable_tune_is_reported_not_written(tmp_path):
    result = tune_to_midi("X:1\nM:4/4\nK:C\nA/0 B [[[[\n", tmp_path / "bad.mid")
    assert result.path is None and result.method == "failed" and not (tmp_path / "bad.mid").exists()


def test_export_into_an_unwritable_place(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(MusicError, match="cannot write"):
        tune_to_midi(clean_tune(RAW), tmp_path / "file" / "t.mid")


def test_cli_export(tmp_path):
    unparsable = "X:3\nT:Broken\nM:4/4\nK:C\nA/0 B [[[[\n"
    (tmp_path / "t.abc").write_text(RAW + "\n" + RAW.replace("dedB dedB |", "dBdB dedB |") + "\n" + unparsable)
    result = runner.invoke(app, ["export", str(tmp_path / "t.abc"), "--out", str(tmp_path / "midi")])
    assert result.exit_code == 0, result.stderr
    assert len(list((tmp_path / "midi").glob("*.mid"))) == 2
    umask = os.umask(0)
    os.umask(umask)
    assert {p.stat().st_mode & 0o777 for p in (tmp_path / "midi").glob("*.mid")} == {0o666 & ~umask}
    for row, count in [("tunes found", 3), ("parsed by music21", 2), ("not parsed by music21", 1),
                       ("MIDI files written", 2), ("every note checked", 2), ("repeat signs read", 0)]:
        assert re.search(rf"{row}.*│\s+{count} │", result.stdout), (row, result.stdout)


def test_cli_export_counts_the_tunes_whose_repeat_signs_were_repaired(tmp_path):
    (tmp_path / "t.abc").write_text(RAW.replace("K:G\n", "K:G\n|:") + "\n" + RAW)  # the first opens, never closes
    result = runner.invoke(app, ["export", str(tmp_path / "t.abc"), "--out", str(tmp_path / "midi")])
    assert result.exit_code == 0, result.stderr
    assert re.search(r"repeat signs read as a musician would.*│\s+1 │", result.stdout), result.stdout


@pytest.mark.parametrize("make, words", [
    (lambda p: p / "missing.abc", "no such file"),
    (lambda p: (p / "empty").mkdir() or p / "empty", "no .abc files"),
    (lambda p: (p / "none.abc").write_text("no tunes here\n") and p / "none.abc", "no tunes"),
])
def test_cli_export_bad_input(tmp_path, make, words):
    result = runner.invoke(app, ["export", str(make(tmp_path)), "--out", str(tmp_path / "midi")])
    assert result.exit_code == 1 and words in result.stderr and len(result.stderr.splitlines()) == 1


def test_cli_export_to_a_path_inside_a_file(tmp_path):
    (tmp_path / "file").write_text("x")
    (tmp_path / "t.abc").write_text(RAW)
    result = runner.invoke(app, ["export", str(tmp_path / "t.abc"), "--out", str(tmp_path / "file" / "midi")])
    assert result.exit_code == 1 and "a file is in the way" in result.stderr


def test_cli_corpora_lists_sizes():
    listed = runner.invoke(app, ["corpora"])
    assert listed.exit_code == 0, listed.stderr
    for name in ("oneills", "ryans", "airds", "essen", "folk"):
        assert f"builtin:{name}" in listed.stdout


TINY = ["--hidden", "48", "--layers", "1", "--seq-len", "32", "--batch-size", "8", "--max-steps", "30",
        "--eval-every", "15"]


def test_train_and_sample_tunes_through_cli(in_tmp, monkeypatch):
    result = runner.invoke(app, ["train", "builtin:folk", *TINY])
    assert result.exit_code == 0, result.stderr
    payload = json.loads(runner.invoke(app, ["eval", "--json", "--tunes", "3"]).stdout)
    assert {"parse_pct", "midi_pct", "bars_right_pct", "valid_pct", "copied_phrases_pct", "novelty_pct",
            "perplexity"} <= payload.keys()
    table = runner.invoke(app, ["eval", "--tunes", "3"]).stdout
    assert "3 sampled tunes" in table and "bars right" in table and "perplexity" in table
    out = in_tmp / "tunes"
    result = runner.invoke(app, ["sample", "--tunes", "2", "--out", str(out), "--keep-invalid", "--seed", "1"])
    assert result.exit_code == 0, result.stderr
    assert "valid" in result.stdout and len(list(out.glob("*.abc"))) == 2
    assert all(t.read_text().startswith("X:1\n") for t in out.glob("*.abc"))
    again = runner.invoke(app, ["sample", "--tunes", "2", "--out", str(in_tmp / "again"), "--keep-invalid",
                                "--seed", "1"])
    assert again.exit_code == 0, again.stderr
    assert sorted(p.read_text() for p in out.glob("*.abc")) == \
        sorted(p.read_text() for p in (in_tmp / "again").glob("*.abc"))  # same seed, same tunes
    unwritable = runner.invoke(app, ["sample", "--tunes", "1", "--out", str(out / "001-invalid.abc" / "x")])
    assert unwritable.exit_code == 1 and "in the way" in unwritable.stderr

    used = []  # music models sample with nucleus sampling unless told otherwise
    monkeypatch.setattr(tunes, "sample_tunes", lambda model, vocab, count, cfg, *rest, **kw: used.append(cfg.top_p))
    runner.invoke(app, ["sample", "--tunes", "1", "--out", str(in_tmp / "t1")])
    runner.invoke(app, ["sample", "--tunes", "1", "--top-p", "1.0", "--out", str(in_tmp / "t2")])
    assert used == [TUNE_TOP_P, 1.0]


def test_training_skips_tunes_that_do_not_parse_and_says_so(in_tmp):
    good = [p.read_text(encoding="utf-8") for p in builtin_paths("folk")]
    (in_tmp / "mixed.abc").write_text("\n".join(good) + "\nX:999\nT:Broken\nM:4/4\nK:C\nA/0 B [[[[\n")
    result = runner.invoke(app, ["train", str(in_tmp / "mixed.abc"), *TINY])
    assert result.exit_code == 0, result.stderr
    assert "skipped 1 tune that music21 cannot read" in result.stderr


@pytest.mark.parametrize("make, words", [
    (lambda p: (p / "none.abc").write_text("no tunes here\n") and p / "none.abc", "no tunes"),
    (lambda p: (p / "bad.abc").write_text("X:1\nM:4/4\nK:C\nA/0 B [[[[\n") and p / "bad.abc", "cannot read any"),
    (lambda p: (p / "empty").mkdir() or p / "empty", "no text files"),
    (lambda p: "builtin:beatles", "builtin:oneills"),
])
def test_cli_train_on_bad_tunes(in_tmp, make, words):
    result = runner.invoke(app, ["train", str(make(in_tmp)), *TINY])
    assert result.exit_code == 1 and words in result.stderr and len(result.stderr.splitlines()) == 1


def test_music_error_is_a_seqgen_error():
    assert issubclass(MusicError, SeqgenError) and MusicError("x").exit_code == 1


def test_a_batch_of_tunes_never_mixes_with_an_earlier_one(in_tmp):
    assert runner.invoke(app, ["train", "builtin:folk", *TINY, "--out", "run"]).exit_code == 0
    first = runner.invoke(app, ["sample", "run/best.pt", "--tunes", "2", "--keep-invalid", "--seed", "1", "--out", "tunes"])
    assert first.exit_code == 0, first.stderr
    before = {p.name: p.read_bytes() for p in (in_tmp / "tunes").iterdir()}
    again = runner.invoke(app, ["sample", "run/best.pt", "--tunes", "1", "--keep-invalid", "--seed", "2", "--out", "tunes"])
    assert again.exit_code == 1 and "already holds tunes of an earlier batch" in again.stderr
    assert {p.name: p.read_bytes() for p in (in_tmp / "tunes").iterdir()} == before
    replaced = runner.invoke(app, ["sample", "run/best.pt", "--tunes", "1", "--keep-invalid", "--seed", "2",
                                   "--out", "tunes", "--overwrite"])
    assert replaced.exit_code == 0 and {p.name[:3] for p in (in_tmp / "tunes").glob("*.abc")} == {"001"}


def test_no_valid_tune_is_a_failure_with_a_hint(in_tmp):
    assert runner.invoke(app, ["train", "builtin:folk", *TINY, "--max-steps", "1", "--out", "run"]).exit_code == 0
    result = runner.invoke(app, ["sample", "run/best.pt", "--tunes", "2", "--out", "tunes"])
    assert result.exit_code == 1, result.stderr
    assert "none of the 10 tunes drawn passed its check" in result.stderr and "--keep-invalid" in result.stderr
    assert not list((in_tmp / "tunes").glob("*.abc"))
    kept = runner.invoke(app, ["sample", "run/best.pt", "--tunes", "2", "--out", "kept", "--keep-invalid"])
    assert kept.exit_code == 0 and len(list((in_tmp / "kept").glob("*-invalid.abc"))) == 2


def test_export_counts_truly_and_never_overwrites(tmp_path):
    for folder in ("a", "b"):  # two files of the same name, tunes of the same title
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "t.abc").write_text(RAW)
    args = ["export", str(tmp_path / "a" / "t.abc"), str(tmp_path / "b" / "t.abc"), "--out", str(tmp_path / "midi")]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.stderr
    assert sorted(p.name for p in (tmp_path / "midi").iterdir()) == ["t-0001-the-test-reel.mid",
                                                                     "t-2-0001-the-test-reel.mid"]
    assert re.search(r"MIDI files written.*│\s+2 │", result.stdout)
    again = runner.invoke(app, args)
    assert again.exit_code == 1 and "exists" in again.stderr and "--overwrite" in again.stderr
    assert runner.invoke(app, [*args, "--overwrite"]).exit_code == 0


def test_export_that_writes_nothing_fails(tmp_path):
    (tmp_path / "bad.abc").write_text("X:1\nT:Broken\nM:4/4\nK:C\nA/0 B [[[[\n")
    result = runner.invoke(app, ["export", str(tmp_path / "bad.abc"), "--out", str(tmp_path / "midi")])
    assert result.exit_code == 1 and "no MIDI file was written" in result.stderr
