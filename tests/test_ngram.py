"""The Kneser-Ney baseline: normalised, matches hand-worked values, saves safely, samples, compares."""

import json

import numpy as np
import pytest
import torch

from seqgen.cli import app
from seqgen.errors import UsageError
from seqgen.models.ngram import KneserNeyLM
from seqgen.data.vocab import Vocab

from .helpers import runner



@pytest.fixture(scope="module")
def char_data(prose):
    vocab = Vocab.build([prose], "char")
    ids = vocab.encode(prose)
    cut = int(len(ids) * 0.9)
    return vocab, ids[:cut], ids[cut:]


@pytest.fixture(scope="module", params=["char", "word"])
def any_level_data(prose, request):
    vocab = Vocab.build([prose], request.param)
    return vocab, vocab.encode(prose)


@pytest.mark.parametrize("order", [1, 2, 3, 5, 7])
def test_probabilities_sum_to_one(any_level_data, order):
    vocab, train = any_level_data
    model = KneserNeyLM.fit(train, len(vocab), order)
    rng = np.random.default_rng(order)
    contexts = [train[i:i + order - 1] for i in rng.integers(0, len(train) - 10, 20)]  # seen
    contexts += [rng.integers(0, len(vocab), order - 1) for _ in range(20)]  # mostly unseen
    for ctx in contexts:
        assert np.exp(model.next_log_probs(ctx)).sum() == pytest.approx(1.0, abs=1e-9)


def test_hand_worked_bigram():
    # Corpus 0 1 0 1 0 2 over V = 4 (token 3 never seen), order 2.
    # Unigrams use continuation counts: 0, 1 and 2 each follow one distinct token -> 1, 1, 1.
    #   n1 = 3, n2 = 0: too few counts to estimate, so D = (0.5, 1, 1.5). total 3.
    #   gamma = 0.5 * 3 / 3 = 0.5;  p1(0|1|2) = (1 - 0.5) / 3 + 0.5 / 4 = 7/24;  p1(3) = 0.5 / 4 = 3/24
    # Bigrams (raw counts): (0,1) x2, (0,2) x1, (1,0) x2 -> n1 = 1, n2 = 2, n3 = n4 = 0
    #   Y = 1 / (1 + 2*2) = 0.2;  D1 = 1 - 2*0.2*2/1 = 0.2;  D2 = 2 - 0 = 2, kept below 2 as 1.95
    #   context 0: total 3, gamma = (0.2*1 + 1.95*1) / 3 = 2.15/3
    #     p(1|0) = (2 - 1.95)/3 + 2.15/3 * 7/24 = 0.225694...;  p(3|0) = 2.15/3 * 3/24 = 0.0895833...
    #   context 1: total 2, gamma = 1.95/2;  p(0|1) = (2 - 1.95)/2 + 0.975 * 7/24 = 0.309375
    model = KneserNeyLM.fit(np.array([0, 1, 0, 1, 0, 2]), 4, 2)
    p0, p1 = np.exp(model.next_log_probs([0])), np.exp(model.next_log_probs([1]))
    assert p0[1] == pytest.approx(0.05 / 3 + 2.15 / 3 * 7 / 24)
    assert p0[3] == pytest.approx(2.15 / 3 * 3 / 24)
    assert p1[0] == pytest.approx(0.309375)
    assert np.exp(model.next_log_probs([3])) == pytest.approx([7 / 24, 7 / 24, 7 / 24, 3 / 24])  # unseen context


def test_nll_matches_token_by_token(char_data):
    vocab, train, val = char_data
    model = KneserNeyLM.fit(train, len(vocab), 4)
    piece = val[:60]
    by_hand = -sum(model.next_log_probs(piece[:i])[piece[i]] for i in range(1, len(piece)))
    total, count = model.nll(piece)
    assert count == 59 and total == pytest.approx(by_hand, rel=1e-9)


def test_more_context_predicts_better(char_data):
    vocab, train, val = char_data
    ce = {k: np.divide(*KneserNeyLM.fit(train, len(vocab), k).nll(val)) for k in (1, 3, 5)}
    assert ce[5] < ce[3] < ce[1] - 1.0


def test_state_survives_a_safe_checkpoint(char_data, tmp_path):
    vocab, train, val = char_data
    model = KneserNeyLM.fit(train, len(vocab), 3)
    torch.save({"config": model.config_dict(), "state": model.state()}, tmp_path / "ngram.pt")
    loaded = torch.load(tmp_path / "ngram.pt", weights_only=True)
    again = KneserNeyLM.from_state(loaded["config"], loaded["state"], len(vocab))
    assert again.nll(val[:500]) == model.nll(val[:500])
    with pytest.raises(ValueError, match="vocabulary"):
        KneserNeyLM.from_state(loaded["config"], loaded["state"], len(vocab) + 1)


def test_the_sampler_draws_from_it_seeded_and_greedy(char_data):
    from seqgen.config import SampleConfig
    from seqgen.sample import generate

    vocab, train, _ = char_data
    model = KneserNeyLM.fit(train, len(vocab), 3)
    draw = lambda **kw: generate(model, vocab, SampleConfig(prime="The ", length=50, **kw))[0]  # noqa: E731
    assert draw(seed=1, temperature=1.0) == draw(seed=1, temperature=1.0) != draw(seed=2, temperature=1.0)
    greedy = draw(temperature=0)
    history = list(vocab.encode("The "))
    for ch in greedy[4:]:
        tok = vocab.index[ch]
        assert tok == int(np.argmax(model.next_log_probs(history)[2:])) + 2  # <unk> and <eos> aside
        history.append(tok)


def test_bad_order():
    with pytest.raises(UsageError, match="--order"):
        KneserNeyLM.fit(np.arange(10), 10, 8)


def test_side_by_side_eval_through_cli(in_tmp, prose_file):
    tiny = ["--hidden", "32", "--layers", "1", "--seq-len", "16", "--batch-size", "8", "--max-steps", "6"]
    assert runner.invoke(app, ["train", str(prose_file), *tiny, "--out", "lstm"]).exit_code == 0
    result = runner.invoke(app, ["train", str(prose_file), "--model", "ngram", "--order", "5", "--out", "kn"])
    assert result.exit_code == 0, result.stderr
    sample = runner.invoke(app, ["sample", "kn/best.pt", "--prime", "The ", "--length", "40", "--seed", "1"])
    assert sample.exit_code == 0 and sample.stdout.startswith("The ")
    table = runner.invoke(app, ["eval", "lstm/best.pt", "kn/best.pt", str(prose_file)])
    assert table.exit_code == 0 and "kneser-ney 5-gram" in table.stdout and "lstm 1x32" in table.stdout
    rows = json.loads(runner.invoke(app, ["eval", "lstm/best.pt", "kn/best.pt", str(prose_file), "--json"]).stdout)
    assert [r["tokens"] for r in rows][0] == rows[1]["tokens"] > 100_000  # same text, same tokens counted
    assert rows[1]["cross_entropy"] < rows[0]["cross_entropy"]  # 6 LSTM steps lose to a 5-gram
    bad = runner.invoke(app, ["train", str(prose_file), "--model", "ngram", "--order", "9"])
    assert bad.exit_code == 2 and "--order" in bad.stderr
