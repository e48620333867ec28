"""Whole tunes are drawn with a meter line before the key line; the sampler keeps to constraints."""

import pytest
import torch

from seqgen.config import SampleConfig
from seqgen.models.rnn_config import ModelConfig
from seqgen.models.rnn import RNNLM
from seqgen.music.tunes import HeaderOrder
from seqgen.sample import generate
from seqgen.data.vocab import Vocab

VOCAB = Vocab.build(["X:1\nT:Reel\nM:6/8\nL:1/8\nK:G\nabc|\n"], "char")


def key_allowed_after(prime: str, written: str) -> bool:
    """Whether a key line may start after the prime and ``written`` (one row)."""
    order = HeaderOrder(VOCAB, prime, rows=1)
    for ch in written:
        order.advance(torch.tensor([VOCAB.index[ch]]))
    scores = order.restrict(torch.zeros(1, len(VOCAB)))
    assert torch.isfinite(scores[0, [i for i in range(len(VOCAB)) if i != VOCAB.index["K"]]]).all()
    return bool(torch.isfinite(scores[0, VOCAB.index["K"]]))


def test_the_key_line_waits_for_a_meter_line():
    assert not key_allowed_after("X:1\n", "")
    assert not key_allowed_after("X:1\n", "T:Reel\n")  # a title is not a meter
    assert not key_allowed_after("X:1\n", "T:M:6/8\n")  # nor "M:" inside a line
    assert key_allowed_after("X:1\n", "T:Reel\nM:6/8\n")
    assert key_allowed_after("X:1\n", "T:Reel\nM:6/8\nL:1/8\n")
    assert key_allowed_after("X:1\n", "T:Reel")  # only the start of a line is held to it
    assert key_allowed_after("X:1\nT:a\nM:3/4\n", "L:1/8\n")  # a prime's own meter counts
    assert key_allowed_after("X:1\nT:a\nM", ":6/8\n")  # also when the prime ends inside it


def test_rows_are_held_to_it_each_on_its_own():
    order = HeaderOrder(VOCAB, "X:1\n", rows=2)
    for a, b in zip("M:6/8\n", "T:Reel"):
        order.advance(torch.tensor([VOCAB.index[a], VOCAB.index[b]]))
    order.advance(torch.tensor([VOCAB.index["L"], VOCAB.index["\n"]]))
    order.advance(torch.tensor([VOCAB.index["\n"], VOCAB.index["\n"]]))
    key = order.restrict(torch.zeros(2, len(VOCAB)))[:, VOCAB.index["K"]]
    assert torch.isfinite(key).tolist() == [True, False]


def test_sampling_keeps_to_a_constraint_and_reports_each_draw():
    class OnlyA:
        def __init__(self):
            self.drawn = []

        def restrict(self, scores):
            kept = torch.full_like(scores, float("-inf"))
            kept[:, VOCAB.index["a"]] = 0.0
            return kept

        def advance(self, drawn):
            self.drawn.append(drawn.tolist())

    model = RNNLM(ModelConfig(vocab_size=len(VOCAB), hidden=16, layers=1))
    only_a = OnlyA()
    texts = generate(model, VOCAB, SampleConfig(length=12, temperature=1.0, num_samples=3, seed=0, prime="X"),
                     constraint=only_a)
    assert texts == ["X" + "a" * 12] * 3 and len(only_a.drawn) == 12


def test_sample_without_tunes_prints_as_many_tunes_as_asked(music_run):
    from .helpers import run

    done = run("sample", music_run.best_path, "--num-samples", "3", "--length", "400", "--seed", "2")
    assert done.exit_code == 0, done.stderr
    assert done.stdout.count("X:1\n") == 3, done.stdout


@pytest.mark.parametrize("args, words", [
    (["--prime", "T:My \u20ac"], ["--prime does not apply to --tunes", "--prime-abc"]),  # no warning about its symbols
    (["--length", "0"], ["--length does not apply to --tunes"]),  # not "--length must be at least 1"
    (["--num-samples", "0"], ["--num-samples does not apply to --tunes"]),
    (["--tunes", "100000000"], ["--tunes must be from 1 to 5,000", "2,000 tokens"]),  # not --length x --num-samples
])
def test_an_option_tunes_cannot_use_is_refused_in_one_line_naming_it(music_run, in_tmp, args, words):
    from .helpers import assert_one_line_error, run

    tunes = [] if "--tunes" in args else ["--tunes", "1"]
    result = run("sample", music_run.best_path, *tunes, *args, "--out", "t")
    assert_one_line_error(result, 2, *words)
    assert "--length x --num-samples" not in result.stderr and not (in_tmp / "t").exists()


def test_every_drawn_tune_has_a_header_of_fields_with_a_meter_and_a_key(music_run):
    # A small model often went from a title or rhythm line straight into its music (no M:, no K:),
    # or began the music at once; the header now keeps its shape until its key line.
    import re

    from seqgen.api import load
    from seqgen.music.tunes import draw_tunes

    model = load(music_run.best_path)
    cfg = model.sample_config(length=600, num_samples=60, seed=3)
    tunes = draw_tunes(model.sampler(cfg.precision), model.vocab, cfg, model.warmup)
    for tune in tunes:
        head, found, _ = tune.partition("\nK:")
        assert found, tune[:200]
        assert all(re.fullmatch(r"[A-Z]:.*", line) for line in head.splitlines()), head
        assert re.search(r"(?m)^M:", head), head


def test_tunes_come_as_they_end_with_the_draws_of_the_whole_batch(music_run):
    from seqgen.api import load
    from seqgen.music.tunes import draw_tunes, finished_tunes, in_row_order

    model = load(music_run.best_path)
    cfg = model.sample_config(length=600, num_samples=12, seed=5)
    ended = list(finished_tunes(model.sampler(cfg.precision), model.vocab, cfg, model.warmup))
    rows = [row for row, _ in ended]
    assert sorted(rows) == list(range(12)) and rows != sorted(rows)  # short tunes end first
    assert list(in_row_order(ended)) == draw_tunes(model.sampler(cfg.precision), model.vocab, cfg, model.warmup)


def test_rows_that_never_came_leave_the_others_in_row_order():
    from seqgen.music.tunes import in_row_order

    assert list(in_row_order([(2, "c"), (0, "a"), (1, "b")])) == ["a", "b", "c"]
    assert list(in_row_order([(3, "d"), (0, "a"), (2, "c")])) == ["a", "c", "d"]  # row 1 was stopped


def test_a_stopped_batch_keeps_the_tunes_that_had_ended_numbered_as_in_the_whole_batch(music_run):
    import threading

    from seqgen.api import load

    model = load(music_run.best_path)
    whole_seen, seen, stop = [], [], threading.Event()
    whole = model.tunes(20, seed=4, max_rounds=1, on_tune=lambda text, check: whole_seen.append(text))

    def keep(text, check):
        seen.append(text)
        if len(seen) == 2:
            stop.set()

    stopped = model.tunes(20, seed=4, max_rounds=1, on_tune=keep, stop=stop)
    every = [text for text, _ in whole.valid]
    kept = [text for text, _ in stopped.valid]
    assert whole_seen == every and len(every) >= 3 and not whole.stopped
    assert seen == kept and stopped.stopped and stopped.attempts < whole.attempts
    assert kept[:2] == every[:2]  # the first tunes, as the whole batch numbers them
    later = iter(every)
    assert all(text in later for text in kept)  # the rest in the order of the whole batch
    assert len(stopped.valid) + len(stopped.invalid) <= 20
