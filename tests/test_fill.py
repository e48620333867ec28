"""Filling gaps: where they are, what a fill must be, and fills from real (tiny) models, held
against a hand count, abc2abc and a second way to score a text."""

import numpy as np
import pytest
import torch

from seqgen import api
from seqgen.errors import UsageError
from seqgen.fill.checks import bar_problem, fill_problem
from seqgen.fill.gaps import split_gaps
from seqgen.fill.judge import text_ids
from seqgen.fill.score import continuation_logprobs
from seqgen.music.bars import written_bars

from . import abc2abc
from .helpers import app, assert_one_line_error, run, runner

HEAD = "X:1\nT:Gap\nM:6/8\nL:1/8\nK:D\n"
TUNE = HEAD + "d2B AFD|EFG A2B|AFD D2E| ... |d2B AFD|EFG A2B|AFD D3|]\n"


# -- where the gaps are ------------------------------------------------------------------------

def test_a_bar_of_dots_is_a_gap_and_the_rest_is_kept_as_written():
    gapped = split_gaps(HEAD + "|:d2B AFD| ... |GFE D3|\n...|ABc def:|\n|1 ... :|2 d3 d3|]\n", music=True)
    assert gapped.units == ("bar", "bar", "bar")
    assert gapped.pieces[1] == "|GFE D3|\n" and gapped.pieces[2] == "|ABc def:|\n|1"
    assert gapped.joined(["X", "Y", "Z"]) == HEAD + "|:d2B AFD|X|GFE D3|\nY|ABc def:|\n|1Z:|2 d3 d3|]\n"


def test_dots_in_the_header_or_inside_a_bar_are_no_gap():
    with pytest.raises(UsageError, match="no gap to fill"):
        split_gaps("X:1\nT:Wait...\nM:6/8\nK:D\n|d2B A...|\n", music=True)
    with pytest.raises(UsageError, match="no K: field"):
        split_gaps("X:1\nM:6/8\n| ... |\n", music=True)


def test_in_text_a_gap_alone_on_its_line_is_a_line_else_a_word():
    gapped = split_gaps("To be or [...] to be.\n[...]\nThat is... the question.", music=False)
    assert gapped.units == ("word", "line")
    assert gapped.pieces == ("To be or ", " to be.\n", "\nThat is... the question.")
    with pytest.raises(UsageError, match=r"\[\.\.\.\]"):
        split_gaps("no gap... here", music=False)


# -- what a fill must be: a bar of the meter, counted by hand ----------------------------------

@pytest.mark.parametrize("fill, problem", [
    ("d2B AFD", None),  # 3 + 3 eighths
    ("d3 A3", None),
    ("(3def d2 A2", None),  # a triplet of three eighths lasts two: 2 + 2 + 2
    ("(3def d2B A2", "lasts 7/8, not 6/8"),  # its twin: 2 + 3 + 2
    ("d2B AF", "lasts 5/8, not 6/8"),  # the wrong twin: an eighth short
    ("d2B AFDE", "lasts 7/8, not 6/8"),
    ("[K:G]d2B AFD", "changes a field"),
    ('"G" ', "has no note or rest"),
    ("z6", None),
])
def test_a_bar_lasts_what_the_meter_says(fill, problem):
    found = bar_problem(HEAD + "d2B AFD|", fill)
    assert (found is None) if problem is None else (problem in found), found


def test_words_and_lines():
    assert fill_problem("word", "To be ", "not") is None
    assert fill_problem("word", "To be ", "not so") == "not one word"
    assert fill_problem("line", "", " ") == "empty"


# -- scores: the same as the model's own loss over the whole text ------------------------------

def test_continuation_scores_add_up_to_the_loss_of_the_whole_text(char_run):
    model = api.load(char_run.best_path)
    context = text_ids(model.vocab, "The cat ")
    rows = [text_ids(model.vocab, "sat on"), text_ids(model.vocab, "is")]
    got = continuation_logprobs(model.network, np.array(context), rows)
    for row, logp in zip(rows, got):
        ids = torch.tensor([context + row])
        with torch.no_grad():
            loss, _ = model.network.loss(ids[:, :-1], ids[:, 1:], reduction="sum")
            first, _ = model.network.loss(ids[:, :len(context) - 1], ids[:, 1:len(context)], reduction="sum")
        assert logp.sum() == pytest.approx(-(loss - first).item(), abs=1e-3)


# -- fills from real models ----------------------------------------------------------------------

def test_fills_of_a_tune_keep_every_other_byte_and_last_a_bar(music_run):
    model = api.load(music_run.best_path)
    filled = model.fill(TUNE, 3, seed=1, candidates=8)
    assert 1 <= len(filled) <= 3
    scores = [s for _, s in filled]
    assert scores == sorted(scores, reverse=True)
    before, after = TUNE.split(" ... ")
    for text, _ in filled:
        assert text.startswith(before) and text.endswith(after)
        bar = text[len(before): len(text) - len(after)]
        assert written_bars(text)[3].length == written_bars(TUNE.replace(" ... ", "d2B AFD"))[3].length, bar
    assert model.fill(TUNE, 3, seed=1, candidates=8) == filled  # the same seed, the same fills


@pytest.mark.skipif(not abc2abc.available(), reason="abc2abc not installed (apt-get install abcmidi): no oracle")
def test_abc2abc_finds_every_filled_bar_right(music_run, tmp_path):
    model = api.load(music_run.best_path)
    filled = [text for text, _ in model.fill(TUNE, 3, seed=2, candidates=8)]
    for reported in abc2abc.abc2abc_bars(filled, tmp_path):
        assert 4 not in reported, reported  # bar 4 in abc2abc's count: the filled one


def test_a_word_and_a_line_of_text(char_run):
    model = api.load(char_run.best_path)
    text = "The cat [...] on the mat.\n[...]\nAnd that was all.\n"
    filled = model.fill(text, 2, seed=3, candidates=6)
    for result, _ in filled:
        head, rest = result.split(" on the mat.\n", 1)
        assert head.startswith("The cat ") and " " not in head[len("The cat "):] and head[len("The cat "):]
        line, tail = rest.split("\n", 1)
        assert line.strip() and tail == "And that was all.\n"


def test_a_word_level_model_fills_one_word(word_run):
    model = api.load(word_run.best_path)
    (text, _), = model.fill("the [...] of the\n", 1, seed=1, candidates=4)
    assert text.startswith("the ") and text.endswith(" of the\n") and len(text.split()) == 4


def test_what_cannot_be_filled_says_what_to_do(char_run, music_run):
    with pytest.raises(UsageError, match="no gap to fill"):
        api.load(char_run.best_path).fill("nothing missing")
    with pytest.raises(UsageError, match="not trained to fill in the middle"):
        api.load(music_run.best_path).fill(TUNE, method="fim")
    with pytest.raises(UsageError, match="n must be at least 1"):
        api.load(music_run.best_path).fill(TUNE, 0)


# -- the command line ------------------------------------------------------------------------

def test_sample_fill_tunes_writes_checked_tunes(music_run, tmp_path):
    gapped = tmp_path / "tune.abc"
    gapped.write_text(TUNE, encoding="utf-8")
    result = run("sample", music_run.best_path, "--fill", gapped, "--tunes", "2", "--out", tmp_path / "out",
                 "--seed", "4", "--candidates", "8")
    assert result.exit_code == 0, result.stderr
    written = sorted((tmp_path / "out").glob("*.abc"))
    assert written and all(p.read_text().startswith(TUNE.split(" ... ")[0]) for p in written)
    assert all(p.with_suffix(".mid").exists() for p in written)


def test_sample_fill_reads_standard_input_and_prints(char_run):
    result = runner.invoke(app, ["sample", str(char_run.best_path), "--fill", "-", "--seed", "1", "--num-samples", "2"],
                           input="The [...] was here.\n")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.count("--- fill ") == 2 and result.stdout.count(" was here.\n") == 2


@pytest.mark.parametrize("extra, words", [
    (["--prime", "The"], ["--prime", "with --fill"]),
    (["--fill", "{gap}", "--fill-method", "fim"], ["not trained to fill in the middle"]),
    (["--backward", "x.pt"], ["--backward", "without --fill"]),
    (["--fill", "{nogap}"], ["no gap to fill"]),
])
def test_wrong_fill_options_are_one_line(char_run, tmp_path, extra, words):
    (tmp_path / "gap.txt").write_text("The [...] here.\n")
    (tmp_path / "nogap.txt").write_text("Nothing here.\n")
    extra = [e.format(gap=tmp_path / "gap.txt", nogap=tmp_path / "nogap.txt") for e in extra]
    if "--fill" not in extra:
        extra += ["--fill", str(tmp_path / "gap.txt")] if "--prime" in extra else []
    assert_one_line_error(run("sample", char_run.best_path, *extra), 2, *words)
