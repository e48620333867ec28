"""The bar guide: which symbols it rules out as a tune is written, bar by bar, and that tunes drawn
with it pass the bar check more often than without it, copying no more."""

from __future__ import annotations

import string
from fractions import Fraction

import pytest
import torch

from seqgen.music.bar_guide import BarGuide, BarReader, note_length
from seqgen.data.vocab import EOS_ID, UNK_ID, Vocab

VOCAB = Vocab.build([string.printable], "char")
HEAD = "X:1\nT:t\nM:6/8\nL:1/8\nK:D\n"


def _ruled_out(text: str) -> set[str]:
    """The symbols the guide rules out right after ``text``."""
    guide = BarGuide(VOCAB, "", 1)
    for ch in text:
        guide.advance(torch.tensor([VOCAB.index[ch]]))
    scores = guide.restrict(torch.zeros(1, len(VOCAB)))
    return {"<eos>" if i == EOS_ID else VOCAB.tokens[i] for i in torch.nonzero(torch.isinf(scores[0])).flatten().tolist()}


def test_a_full_bar_takes_only_a_bar_line():
    out = _ruled_out(HEAD + "A|d2A F2A")
    assert {"d", "z", "^", "(", "{", '"', "2", "/", ">"} <= out
    assert not {"|", ":", " ", ")", "-", "\n", "<eos>"} & out


def test_a_short_bar_cannot_be_closed_or_ended_mid_section():
    out = _ruled_out(HEAD + "A|d2A F2A|d2")
    assert {"|", ":", "<eos>", "2"} <= out and not {"d", " ", "/"} & out  # d22 would be 22 eighths


def test_a_tune_that_has_ended_is_held_to_nothing_and_the_others_still_are():
    # Two rows in one full bar; the first ends its tune there. A sampler that stops at <eos> goes
    # on drawing for that row while others are drawn: those draws are no part of its tune.
    guide = BarGuide(VOCAB, "", 2)
    for ch in HEAD + "A|d2A F2A":
        guide.advance(torch.tensor([VOCAB.index[ch]] * 2))
    guide.advance(torch.tensor([EOS_ID, VOCAB.index[" "]]))
    for ch in "|d2A F2A":  # for each row, a full bar more
        guide.advance(torch.tensor([VOCAB.index[ch]] * 2))
    scores = guide.restrict(torch.zeros(2, len(VOCAB)))
    assert not torch.isinf(scores[0]).any()  # ended: free
    assert torch.isinf(scores[1, VOCAB.index["d"]]) and not torch.isinf(scores[1, VOCAB.index["|"]])  # a full bar


def test_what_the_check_lets_through_the_guide_lets_through():
    assert "|" not in _ruled_out(HEAD + "A")  # the first bar: a pick-up
    assert "|" not in _ruled_out(HEAD + "A|d2A F2A|d2A F2:|fg")  # a section's pick-up
    assert "|" not in _ruled_out(HEAD + "A|d2A F2A|d2A F2")  # with the tune's pick-up, a whole bar
    assert _ruled_out(HEAD + "A|d2A F2A|d2A F2|") >= {"d", " ", "\n", "<eos>"} - {"|", "]"}  # ... ending a section
    assert not {"|", "]"} & _ruled_out(HEAD + "A|d2A F2A|d2A F2|")


def test_a_bar_line_ending_a_line_and_one_opening_the_next_are_no_double_bar():
    # "|" then "|" on the next line are two bar lines (as music21's tokenizer and abc2abc read
    # them), so the bar after them is no section's pick-up: short, it must end a section.
    split = HEAD + "A|d2A F2A|\n|d2A F2|"
    assert not {"|", "]"} & _ruled_out(split) and {" ", "d", "\n"} <= _ruled_out(split)
    assert "|" in _ruled_out(HEAD + "A|d2A F2A|\n|d2")  # short in the middle: no bar line yet


def test_a_tuplet_is_finished_before_its_bar_line():
    assert {"|", ":", "<eos>"} <= _ruled_out(HEAD + "A|c>AA A2 (3A/B")  # two of three notes: 6/8 by count
    assert "|" not in _ruled_out(HEAD + "A|c>AA A2 (3A/A/A/")  # three sixteenths in the time of two: full


def test_a_length_cannot_overrun_the_bar():
    out = _ruled_out(HEAD + "A|d2A F2A|d2A FG")  # one eighth left after G: G2 fills the bar, G3 overruns it
    assert {"3", "4"} <= out and not {"2", "/", ">"} & out
    overrun = _ruled_out(HEAD + "A|d2A F2A|d2A F2G/G")  # G overruns by a sixteenth: only G/ fits
    assert overrun == {t for t in VOCAB.tokens if len(t) == 1} - {"/"}
    assert "2" not in _ruled_out(HEAD + "A|d2A F2A|d2A ")  # a new note may still be anything


def test_a_tune_near_the_length_limit_ends_at_its_next_bar_line():
    guide = BarGuide(VOCAB, "", 1, ending_at=len(HEAD) + 20)
    text = HEAD + "A|d2A F2A|d2A F2A|d2A F2A|d2A F2"
    for ch in text:
        guide.advance(torch.tensor([VOCAB.index[ch]]))
    for want in ("A", "|", "]"):  # the bar is finished, then closed, then the tune
        allowed = torch.nonzero(~torch.isinf(guide.restrict(torch.zeros(1, len(VOCAB)))[0])).flatten().tolist()
        assert VOCAB.index[want] in allowed
        guide.advance(torch.tensor([VOCAB.index[want]]))
    left = torch.nonzero(~torch.isinf(guide.restrict(torch.zeros(1, len(VOCAB)))[0])).flatten().tolist()
    assert set(left) - {UNK_ID} == {EOS_ID}  # (the sampler never draws <unk>)


def test_free_meter_and_text_models_are_left_alone():
    assert _ruled_out("X:1\nM:none\nL:1/8\nK:D\nd2A F2A d2A F2A d2") == set()
    words = Vocab(["<unk>", "<eos>", "a", "b"], "word")
    assert not BarGuide(words, "", 1).active


@pytest.mark.parametrize("text, length", [("2", 2), ("/", Fraction(1, 2)), ("//", Fraction(1, 4)),
                                          ("3/2", Fraction(3, 2)), ("/4", Fraction(1, 4)), ("", 1)])
def test_note_lengths(text, length):
    assert note_length(text) == length


@pytest.mark.parametrize("bar, eighths", [("(3abc d2", 4), ("e>f g<a", 4), ("[CEG]2 [C2E2]", 4),
                                          ("{ag}f3 z2 x", 6), ('A "Am"B2 !trill!c', 4)])
def test_the_reader_counts_as_the_check_does(bar, eighths):
    from seqgen.music.bars import written_bars
    from seqgen.music.validate import judge_bars

    assert BarReader(Fraction(1, 8), compound=False).read(bar)[0] == Fraction(eighths, 8)
    bars = judge_bars(written_bars(f"X:1\nM:4/4\nL:1/8\nK:C\n{bar}|\n"))  # the verdict's own reading agrees
    assert bars[0].bar.length == Fraction(eighths, 8)


@pytest.mark.slow
def test_guided_tunes_pass_the_check_more_often_without_copying_more(music_run):
    from seqgen.api import load
    from seqgen.music.tunes import TUNE_TOP_P, sample_tunes
    from seqgen.music.validate import copied_share

    model = load(music_run.best_path)
    cfg = model.sample_config("", 1, 0.8, None, TUNE_TOP_P, 5, 1, "auto")
    plain, guided = (sample_tunes(model.sampler(), model.vocab, 60, cfg, 1, warmup=model.warmup, guide=g)
                     for g in (False, True))
    assert guided.first_try_valid > plain.first_try_valid
    bar_errors = [b.reasons["a bar has the wrong length"] for b in (plain, guided)]
    assert bar_errors[1] < bar_errors[0]
    from seqgen.formats import read_corpus

    training = read_corpus(["builtin:folk"]).documents
    texts = [[t for t, _ in b.valid + b.invalid] for b in (plain, guided)]
    assert copied_share(texts[1], training) <= copied_share(texts[0], training) + 0.02
