"""Repeats played as a musician reads them: the notes of the MIDI file written, counted, against
counts made by hand from the ABC and, where abc2midi is installed, against abc2midi's."""

import shutil
import subprocess

import pytest

from seqgen.music.export import tune_to_midi
from seqgen.music.m21 import parse_abc
from seqgen.music.midi_events import read_midi
from seqgen.music.repeats import played_abc

HEAD = "X:1\nT:Counted\nM:4/4\nL:1/8\nK:C\n"
# Bars whose notes are easy to count by hand, each a different number of notes.
A, B, C, D, E = "CDEF GABc", "c4 G4", "E2G2 c4", "C8", "G2A2 B2c2"  # 8, 2, 3, 1, 4 notes

# (what it is, the body, the notes a musician plays, counted by hand)
CASES = [
    ("well-formed |: :|", f"|: {A} | {B} :| {C} | {D} |]", 8 + 2 + 8 + 2 + 3 + 1),
    ("endings [1 [2", f"|: {A} | {B} |[1 {C} :|[2 {D} |]", 8 + 2 + 3 + 8 + 2 + 1),
    ("endings |1 :|2", f"|: {A} | {B} |1 {C} :|2 {D} |]", 8 + 2 + 3 + 8 + 2 + 1),
    ("a bare :|", f"{A} | {B} :| {E} | {D} |]", 8 + 2 + 8 + 2 + 4 + 1),
    ("|: closed by ||", f"|: {A} | {B} || {E} | {D} |]", 8 + 2 + 8 + 2 + 4 + 1),
    ("|: closed by |]", f"|: {A} | {B} | {C} |]", 8 + 2 + 3 + 8 + 2 + 3),
    ("|: never closed", f"|: {A} | {B} | {C} |", 8 + 2 + 3 + 8 + 2 + 3),
    ("|: never closed, no last bar line", f"|: {A} | {B} | {C}", 8 + 2 + 3 + 8 + 2 + 3),
    ("[2 without :| before it", f"|: {A} | {B} |1 {C} |2 {D} |]", 8 + 2 + 3 + 8 + 2 + 1),
    ("| [2 without :| before it", f"|: {A} | {B} | [1 {C} | [2 {D} |]", 8 + 2 + 3 + 8 + 2 + 1),
    ("a second |: before the first closed", f"|: {A} | {B} |: {C} | {D} :|", 8 + 2 + 8 + 2 + 3 + 1 + 3 + 1),
    ("a bare :| after a double bar", f"{A} | {E} || {B} | {C} :| {D} |]", 8 + 4 + 2 + 3 + 2 + 3 + 1),
    ("parts A:| B:|", f"{A} | {B} :| {C} | {D} :| {E} |]", 8 + 2 + 8 + 2 + 3 + 1 + 3 + 1 + 4),
]
WELL_FORMED = {"well-formed |: :|", "endings [1 [2", "endings |1 :|2"}


def midi_note_count(text: str, tmp_path) -> int:
    result = tune_to_midi(text, tmp_path / "t.mid")
    assert result.path is not None and result.mismatch == ""
    return len(read_midi(result.path).sounding())


@pytest.mark.parametrize("what, body, by_hand", CASES, ids=[c[0] for c in CASES])
def test_the_midi_plays_repeats_as_a_musician_reads_them(tmp_path, what, body, by_hand):
    assert midi_note_count(HEAD + body + "\n", tmp_path) == by_hand


@pytest.mark.parametrize("what, body, by_hand", CASES, ids=[c[0] for c in CASES])
def test_only_ill_formed_signs_are_rewritten_and_each_gets_a_note(what, body, by_hand):
    played, notes = played_abc(HEAD + body + "\n")
    if what in WELL_FORMED:
        assert (played, notes) == (HEAD + body + "\n", [])
    else:
        assert played != HEAD + body + "\n" and notes and all("\n" not in n for n in notes)


def test_the_notes_say_which_sign_was_read_how():
    _, notes = played_abc(HEAD + f"|: {A} | {B} || {E} | {D} |]\n")
    assert notes == ["the |: before bar 1 was not closed before the || after bar 2: played twice up to there"]
    _, notes = played_abc(HEAD + f"{A} | {B} :| {E} |]\n")
    assert notes == ["the :| after bar 2 had no |: before it: repeated from the start of the tune"]
    _, notes = played_abc(HEAD + f"{A} || {B} :|\n")
    assert notes == ["the :| after bar 2 had no |: before it: repeated from the double bar after bar 1"]
    played, notes = played_abc(HEAD + f"{A} | {B} :| {C} | {D} :|\n")  # the second goes back to the first
    assert played == HEAD + f"|:{A} | {B} :| {C} | {D} :|\n"  # as the score sends it (notes.played_out)
    assert notes[1] == "the :| after bar 4 had no |: before it: repeated from just after the :| before it"


def test_a_tune_too_short_for_music21_to_play_out_says_so(tmp_path):
    # music21 makes bars only of a tune with two plain bar lines or more; without bars it plays
    # no repeat, and the note says so.
    result = tune_to_midi(HEAD + f"|: {A} | {B} :|\n", tmp_path / "t.mid")
    assert len(read_midi(result.path).sounding()) == 8 + 2
    assert result.repeat_notes[-1].startswith("music21 could not play the repeats out (plain: StreamException")


def test_signs_inside_chord_names_and_decorations_are_not_bar_lines():
    text = HEAD + f'|: "A:|"{A} | !D.C.!{B} :|\n'
    assert played_abc(text) == (text, [])


def test_a_tune_of_several_voices_is_left_as_written():
    text = "X:1\nM:4/4\nL:1/8\nK:C\nV:1\n|: CDEF GABc ||\nV:2\n|: C8 ||\n"
    assert played_abc(text) == (text, [])


def test_an_opening_repeat_closed_by_a_double_bar_was_played_once_and_now_twice(tmp_path):
    # The tester's case, written afresh: a jig whose A part opens with |: and ends at ||.
    tune = ("X:1\nT:The Green Field Again\nM:6/8\nL:1/8\nR:jig\nK:G\n"
            "|: GAG GBd | cBc AGF | GAG GBd | cAF G3 ||\n"
            "|: gfg ede | gfg a3 | gfg edB | cAF G3 :|\n")
    a_part = 6 + 6 + 6 + 4  # by hand, bar by bar ("G3" is one note)
    b_part = 6 + 4 + 6 + 4
    assert midi_note_count(tune, tmp_path) == 2 * a_part + 2 * b_part == 84
    # The score alone, signs unrepaired: music21 cannot pair them up, and every bar plays once.
    once = tune_to_midi(parse_abc(tune), tmp_path / "as-written.mid")
    assert once.method == "repeats-unexpanded" and len(read_midi(once.path).sounding()) == a_part + b_part


def test_a_tune_music21_cannot_play_out_says_so(tmp_path, monkeypatch):
    from seqgen.music import export

    monkeypatch.setitem(export.EXPANDS_REPEATS, "plain", True)
    monkeypatch.setattr(export, "played_out", lambda score: (_ for _ in ()).throw(ValueError("x")))
    monkeypatch.setattr(export, "music21_failure", lambda exc: True)
    result = tune_to_midi(HEAD + f"|: {A} | {B} | {C} :|\n", tmp_path / "t.mid")
    assert result.method == "repeats-unexpanded"
    assert result.repeat_notes == ["music21 could not play the repeats out (plain: ValueError: x): "
                                   "each written bar is played once"]


needs_abc2midi = pytest.mark.skipif(shutil.which("abc2midi") is None,
                                    reason="abc2midi is not installed here (apt-get install abcmidi)")


@needs_abc2midi
@pytest.mark.parametrize("what, body, by_hand", CASES, ids=[c[0] for c in CASES])
def test_abc2midi_plays_the_repaired_signs_as_seqgen_does(tmp_path, what, body, by_hand):
    # abc2midi (abcmidi) expands well-formed repeats on its own: given the text as played, it
    # plays the notes seqgen's MIDI file holds.
    played, _ = played_abc(HEAD + body + "\n")
    (tmp_path / "t.abc").write_text(played)
    subprocess.run(["abc2midi", str(tmp_path / "t.abc"), "-o", str(tmp_path / "abc2midi.mid")],
                   capture_output=True, timeout=60, check=True)
    theirs = [n.key for n in read_midi(tmp_path / "abc2midi.mid").sounding()]
    ours = [n.key for n in read_midi(tune_to_midi(HEAD + body + "\n", tmp_path / "t.mid").path).sounding()]
    assert len(theirs) == by_hand and theirs == ours
