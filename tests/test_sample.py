import json

import pytest
import torch

from seqgen.training import checkpoint
from seqgen.config import SampleConfig
from seqgen.errors import SeqgenWarning, UsageError
from seqgen.models.rnn import RNNLM
from seqgen.models.rnn_config import ModelConfig
from seqgen.hardware.device import threads_for_sampling
from seqgen.sample import pick_tokens, filter_logits, for_sampling, generate, prime_ids
from seqgen.data.vocab import Vocab

from .helpers import assert_one_line_error, run


@pytest.fixture(scope="module")
def char_model(char_run):
    return checkpoint.load_model(checkpoint.load(char_run.best_path))


def test_same_seed_same_text(char_model):
    model, vocab = char_model
    cfg = SampleConfig(length=80, temperature=1.0, seed=3, num_samples=2)
    first, second = generate(model, vocab, cfg), generate(model, vocab, cfg)
    assert first == second
    assert first[0] != first[1]  # the samples of one batch differ from each other
    assert generate(model, vocab, SampleConfig(length=80, temperature=1.0, seed=4)) != first[:1]


def test_prime_starts_every_sample_and_length_counts_tokens(char_model):
    model, vocab = char_model
    texts = generate(model, vocab, SampleConfig(length=50, prime="def ", seed=1, num_samples=3))
    assert all(t.startswith("def ") and len(t) == 54 for t in texts)


def test_streaming_gives_the_same_text(char_model):
    model, vocab = char_model
    pieces = []
    text = generate(model, vocab, SampleConfig(length=40, seed=5), on_text=lambda i, t: pieces.append(t))[0]
    assert "".join(pieces) == text


def test_greedy_is_top_k_one(char_model):
    model, vocab = char_model
    greedy = generate(model, vocab, SampleConfig(length=40, temperature=0, prime="The "))
    top1 = generate(model, vocab, SampleConfig(length=40, temperature=1.0, top_k=1, prime="The ", seed=9))
    assert greedy == top1


def test_filter_logits_top_k_and_top_p():
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]]))
    kept = torch.isfinite(filter_logits(logits, top_k=2, top_p=1.0))
    assert kept.tolist() == [[True, True, False, False]]
    kept = torch.isfinite(filter_logits(logits, top_k=None, top_p=0.7))
    assert kept.tolist() == [[True, True, False, False]]  # 0.5 < 0.7, 0.5 + 0.3 reaches it
    kept = torch.isfinite(filter_logits(logits, top_k=None, top_p=0.4))
    assert kept.tolist() == [[True, False, False, False]]


def test_draws_follow_the_distribution_and_never_pick_what_was_cut():
    probs = torch.tensor([0.0, 0.5, 0.3, 0.0, 0.15, 0.05])
    logits = torch.log(probs).expand(20_000, -1)  # one row per draw
    gen = torch.Generator().manual_seed(0)
    drawn = pick_tokens(logits, SampleConfig(temperature=1.0), gen)
    freq = torch.bincount(drawn, minlength=6) / len(drawn)
    assert torch.allclose(freq, probs, atol=0.01) and freq[0] == freq[3] == 0
    cut = pick_tokens(logits, SampleConfig(temperature=1.0, top_k=2), gen)
    assert set(cut.tolist()) == {1, 2}
    assert pick_tokens(logits[:3], SampleConfig(temperature=0), gen).tolist() == [1, 1, 1]


def test_a_draw_at_the_very_top_takes_the_last_token_that_has_probability(monkeypatch):
    # A uniform number times the total can round up to the total in float32: then every CDF step
    # is at or below it, those of the trailing tokens of probability 0 (and, where they add
    # nothing in float32, of tokens too unlikely to count) among them.
    probs = torch.tensor([[0.0, 0.6, 0.4, 0.0, 0.0], [0.5, 0.5, 1e-12, 0.0, 0.0]])
    monkeypatch.setattr(torch, "rand", lambda rows, cols, generator=None: torch.ones(rows, cols))
    drawn = pick_tokens(torch.log(probs), SampleConfig(temperature=1.0), torch.Generator()).tolist()
    assert drawn[0] == 2 and drawn[1] in (1, 2), drawn  # never a token of probability 0


def test_unknown_prime_symbols_are_reported_not_fatal(char_model):
    model, vocab = char_model
    ids, unknown = prime_ids(vocab, "The ☃ snowman")
    assert unknown == ["☃"] and len(ids) == len("The ☃ snowman")
    text = generate(model, vocab, SampleConfig(length=10, prime="The ☃ snowman", seed=1))[0]
    assert text.startswith("The ☃ snowman")
    with pytest.raises(UsageError, match="never saw"):
        prime_ids(vocab, "☃☃☃")


def test_word_samples_are_readable_text(word_run):
    model, vocab = checkpoint.load_model(checkpoint.load(word_run.best_path))
    text = generate(model, vocab, SampleConfig(length=60, prime="The", seed=2))[0]
    assert text.startswith("The ")
    assert " ," not in text and " ." not in text and "<eos>" not in text


@pytest.mark.parametrize("bad", [dict(temperature=-1), dict(temperature=float("nan")), dict(top_p=0),
                                 dict(top_p=1.5), dict(top_k=0), dict(length=0), dict(num_samples=0)])
def test_bad_sample_settings(bad):
    with pytest.raises(UsageError):
        SampleConfig(**bad).validate()


def test_int8_sampling_copy_predicts_like_the_model(char_run):
    payload = checkpoint.load(char_run.best_path)
    model, vocab = checkpoint.load_model(payload)
    fast = for_sampling(model, "int8")
    assert "quantized" in type(fast.rnn).__module__ and for_sampling(model, "fp32") is model
    ids = payload["data"]["val_ids"].numpy()[:4000]
    exact, quick = model.score(ids).cross_entropy, fast.score(ids).cross_entropy
    assert abs(quick - exact) < 0.005 * exact, (quick, exact)  # within half a percent
    cfg = SampleConfig(length=60, seed=11, num_samples=2)
    assert generate(fast, vocab, cfg) == generate(fast, vocab, cfg)  # still reproducible


@pytest.mark.parametrize("vocab_size, layers, hidden, cell, tie, weights", [
    # Hand counts: weight_ih and weight_hh of each layer (4 gates for an LSTM, 3 for a GRU) and the
    # output layer's H x V (a tied one's is the embedding, copied to int8 all the same).
    (67, 1, 64, "lstm", False, 4 * 64 * 64 * 2 + 64 * 67),
    (67, 1, 192, "lstm", False, 4 * 192 * 192 * 2 + 192 * 67),  # 307,776: fp32
    (67, 1, 224, "lstm", False, 4 * 224 * 224 * 2 + 224 * 67),  # 416,416: int8
    (67, 2, 512, "lstm", False, 4 * 512 * 512 * 4 + 512 * 67),
    (67, 2, 256, "gru", False, 3 * 256 * 256 * 4 + 256 * 67),
    (10_000, 1, 32, "lstm", True, 4 * 32 * 32 * 2 + 32 * 10_000),  # 328,192: fp32
    (10_000, 1, 64, "lstm", True, 4 * 64 * 64 * 2 + 64 * 10_000),  # 672,768: int8
])
def test_auto_samples_with_int8_weights_only_a_model_big_enough_to_gain_from_them(vocab_size, layers, hidden, cell,
                                                                                   tie, weights):
    from seqgen.hardware import INT8_FROM

    model = RNNLM(ModelConfig(vocab_size=vocab_size, layers=layers, hidden=hidden, cell=cell, tie=tie, softmax="full"))
    assert model.int8_weights() == weights
    auto = for_sampling(model)
    if weights >= INT8_FROM:
        assert auto is not model and "quantized" in type(auto.rnn).__module__
    else:
        assert auto is model  # as it is: faster than an int8 copy at this size
    assert "quantized" in type(for_sampling(model, "int8").rnn).__module__  # asked for, int8 whatever the size


def test_without_int8_kernels_sampling_uses_the_model_itself(char_run, monkeypatch):
    model = RNNLM(ModelConfig(vocab_size=67, layers=2, hidden=256))  # big enough for auto to take int8

    def no_int8(*args, **kwargs):
        raise RuntimeError("Didn't find engine for operation quantized::linear_prepack NoQEngine")

    monkeypatch.setattr(torch.ao.quantization, "quantize_dynamic", no_int8)
    with pytest.warns(SeqgenWarning, match="int8 sampling is not available here .*NoQEngine.* sampling in fp32"):
        assert for_sampling(model) is model
    # Asked for by name, int8 is refused in one line rather than quietly replaced.
    with pytest.raises(UsageError, match="--precision int8 cannot run here.*NoQEngine.*pass --precision fp32 or auto"):
        for_sampling(model, "int8")
    assert_one_line_error(run("sample", char_run.best_path, "--length", "5", "--precision", "int8"), 2, "int8")


def test_sampling_precision_is_checked():
    with pytest.raises(UsageError, match="--precision"):
        SampleConfig(precision="fp8").validate()


def threads_seen(model):
    """Record torch's thread count at each step ``model`` takes."""
    seen, real = [], model.next_scores
    model.next_scores = lambda *a: (seen.append(torch.get_num_threads()), real(*a))[1]
    return seen


@pytest.fixture
def two_threads(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


def test_sampling_runs_on_one_thread_and_gives_the_count_back(two_threads):
    # One step is too little work to share: a second thread only waits (see device.sampling_threads).
    model = RNNLM(ModelConfig(vocab_size=10, hidden=8, layers=1))
    vocab = Vocab(["<unk>", "<eos>"] + list("abcdefgh"), "char")
    seen = threads_seen(model)
    generate(model, vocab, SampleConfig(length=5, seed=1, num_samples=64))
    # the warm-up read, then each drawn token read but the last (nothing is drawn after it)
    assert set(seen) == {1} and len(seen) == 5 and torch.get_num_threads() == 2


def test_overlapping_samplings_share_the_setting_and_the_last_restores_it(two_threads):
    # As the studio's threads overlap: the first to start is not the last to end. (The contexts
    # themselves, not two streams in one thread: those would also interleave inference mode.)
    first, second = threads_for_sampling(), threads_for_sampling()
    first.__enter__(), second.__enter__()
    first.__exit__(None, None, None)
    assert torch.get_num_threads() == 1  # the second is still drawing
    second.__exit__(None, None, None)
    assert torch.get_num_threads() == 2


def test_an_explicit_omp_num_threads_is_kept(two_threads, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    model = RNNLM(ModelConfig(vocab_size=10, hidden=8, layers=1))
    seen = threads_seen(model)
    generate(model, Vocab(["<unk>", "<eos>"] + list("abcdefgh"), "char"), SampleConfig(length=3, seed=1))
    assert set(seen) == {2}


@pytest.mark.parametrize("given, seen", [
    ({}, {"GOMP_SPINCOUNT": "300", "KMP_BLOCKTIME": "0", "OMP_WAIT_POLICY": None}),
    ({"OMP_WAIT_POLICY": "ACTIVE"}, {"GOMP_SPINCOUNT": None, "KMP_BLOCKTIME": None, "OMP_WAIT_POLICY": "ACTIVE"}),
    ({"GOMP_SPINCOUNT": "5000"}, {"GOMP_SPINCOUNT": "5000", "KMP_BLOCKTIME": "0", "OMP_WAIT_POLICY": None}),
])
def test_torchs_threads_spin_briefly_then_sleep_unless_the_user_says_otherwise(given, seen):
    # Spinning threads take the cores that working ones need on a busy machine (seqgen/__init__.py).
    # It must be in the environment before torch loads, so a fresh process imports seqgen, then torch.
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k not in seen} | given
    code = ("import json, sys, os, seqgen; assert 'torch' not in sys.modules; import torch; "
            f"print(json.dumps({{k: os.environ.get(k) for k in {sorted(seen)!r}}}))")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert json.loads(out) == seen


# -- a list of temperatures: one configuration per temperature, the seed shared ----------------------

def test_one_temperature_is_the_configuration_itself():
    cfg = SampleConfig(temperature=0.7).validate()
    assert cfg.temperatures == [0.7] and cfg.at_each_temperature()[0] is cfg and cfg.seed is None


def test_a_list_of_temperatures_shares_one_seed():
    given = SampleConfig(temperature=[0.5, 1], seed=9).validate()
    assert given.temperature == [0.5, 1.0] and all(type(t) is float for t in given.temperature)
    assert [(c.temperature, c.seed) for c in given.at_each_temperature()] == [(0.5, 9), (1.0, 9)]
    chosen = SampleConfig(temperature=(0.5, 1.0)).validate().at_each_temperature()  # no seed: one for all
    assert chosen[0].seed is not None and chosen[0].seed == chosen[1].seed


@pytest.mark.parametrize("bad, words", [
    ([0.5, -1.0], "--temperature must be 0 (greedy) or positive (got -1.0)"),
    ([0.5, float("inf")], "--temperature must be 0 (greedy) or positive (got inf)"),
    ([0.5, "0.8"], "--temperature must be a number"),
    ([], "--temperature is an empty list"),
    ([0.5, 0.5], "--temperature gives 0.5 twice"),
    ("0.5,0.8", "--temperature must be a number or a list of numbers (got str"),
])
def test_each_temperature_of_a_list_is_checked(bad, words):
    with pytest.raises(UsageError) as caught:
        SampleConfig(temperature=bad).validate()
    assert words in str(caught.value)


def test_one_drawing_refuses_a_list_of_temperatures(char_model):
    model, vocab = char_model
    with pytest.raises(UsageError, match="one drawing has one temperature"):
        generate(model, vocab, SampleConfig(length=5, temperature=[0.5, 1.0], seed=1))


@pytest.mark.parametrize("text, value", [("0.5", 0.5), ("1", 1.0), (" 0.5, 0.8,1.0", [0.5, 0.8, 1.0]), ("nan", "nan")])
def test_the_command_lines_text_of_a_list_is_one_value_or_several(text, value):
    from seqgen.options import read_several

    read = read_several(text, "float")
    assert repr(read) == repr(float(value) if value == "nan" else value)
    with pytest.raises(ValueError, match="'x' is not a number; give one .0.8. or several separated by commas"):
        read_several("0.5,x", "float")
