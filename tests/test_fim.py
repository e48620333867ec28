"""Fill-in-the-middle training: documents rearranged as prefix, suffix, middle; the FIM tokens."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from seqgen import api
from seqgen.data.arrange import WINDOW, as_trained, rearranged
from seqgen.data.fim import FIM_TOKENS, can_fill, end_id, fim_context, fim_ids, with_fim_tokens
from seqgen.data.tokens import TokenSplit, encode_document
from seqgen.data.vocab import EOS_ID, Vocab
from seqgen.errors import UsageError
from seqgen.music.abc import read_tunes
from seqgen.music.abc_format import AbcFormat
from seqgen.music.fill_units import bar_line_spans

from .helpers import PROSE, TINY, assert_one_line_error, run


def text_stream(level: str = "char", chars: int = 20_000) -> tuple[np.ndarray, Vocab]:
    text = PROSE[:chars]
    vocab = with_fim_tokens(Vocab.build([text], level))
    return encode_document(vocab, text), vocab


@pytest.fixture(scope="module")
def tunes():
    """O'Neill's tunes as training reads them: each tune's ids, then <eos>, back to back."""
    found = read_tunes(["builtin:oneills"], check=False).tunes[:300]
    vocab = with_fim_tokens(Vocab.build(found, "char"))
    return np.concatenate([encode_document(vocab, t) for t in found]), vocab, found


def pieces(out: np.ndarray, vocab: Vocab) -> list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """Each rearranged document of ``out`` as (prefix, suffix, middle, what follows <fim-end>
    up to the next document), checking that it has each FIM token once, in order."""
    pre, suf, mid, end = fim_ids(vocab)
    starts = np.flatnonzero(out == pre).tolist() + [len(out)]
    found = []
    for a, b in zip(starts, starts[1:]):
        doc = out[a:b]
        assert [int((doc == t).sum()) for t in (pre, suf, mid, end)] == [1, 1, 1, 1]
        i, j, k = (int(np.flatnonzero(doc == t)[0]) for t in (suf, mid, end))
        assert 0 < i < j < k
        found.append((doc[1:i], doc[i + 1:j], doc[j + 1:k], doc[k + 1:]))
    return found


def test_rate_zero_is_the_plain_data():
    ids, vocab = text_stream()
    assert rearranged(ids, vocab, 0.0, seed=1) is ids
    split = TokenSplit(ids[:-100], ids[-100:])
    assert as_trained(split, "forward", 0.0, 1, vocab) is split


@pytest.mark.parametrize("level", ["char", "word"])
def test_rate_one_rearranges_every_window_of_text_and_keeps_its_tokens(level):
    ids, vocab = text_stream(level)
    out = rearranged(ids, vocab, 1.0, seed=3)
    found = pieces(out, vocab)
    windows = [ids[a:a + WINDOW] for a in range(0, len(ids), WINDOW)]
    assert len(found) == len(windows) and len(out) == len(ids) + 4 * len(windows)
    for (prefix, suffix, middle, after), window in zip(found, windows):
        assert Counter(np.concatenate([prefix, suffix, middle, after]).tolist()) == Counter(window.tolist())
        assert np.array_equal(np.concatenate([prefix, middle, suffix, after]), window)  # put back, it is the text
    assert out.dtype == vocab.id_dtype


def test_tunes_are_the_documents_and_half_the_middles_are_whole_bars(tunes):
    ids, vocab, texts = tunes
    out = rearranged(ids, vocab, 1.0, seed=5, fmt=AbcFormat())
    found = pieces(out, vocab)
    assert len(found) == len(texts)
    whole_bars = 0
    for (prefix, suffix, middle, after), text in zip(found, texts):
        assert after.tolist() == [EOS_ID]  # each tune's <eos> stays after it: tunes stay apart
        assert vocab.decode(np.concatenate([prefix, middle, suffix])) == text
        bars = bar_line_spans(np.concatenate([prefix, middle, suffix]), vocab)
        whole_bars += (len(prefix) in bars[:, 1]) and (len(prefix) + len(middle) in bars[:, 0]) and len(middle) > 0
    assert 0.35 < whole_bars / len(texts) < 0.65  # half on bar lines (the others only by chance)


def test_bar_lines_are_found_in_the_body_only():
    vocab = Vocab.build(['X:1\nT:A|B\nK:G\n|:"D|7"d2B !trill|!AFD|EFG [K:D]A2B:|2 abc||\n'], "char")
    tune = 'X:1\nT:A|B\nK:G\n|:"D|7"d2B !trill|!AFD|EFG [K:D]A2B:|2 abc||\n'
    spans = bar_line_spans(vocab.encode(tune), vocab)
    assert [tune[a:b] for a, b in spans.tolist()] == ["|:", "|", ":|2", "||"]


def test_the_arrangement_is_seeded():
    ids, vocab = text_stream()
    same = rearranged(ids, vocab, 0.5, seed=9)
    assert np.array_equal(same, rearranged(ids, vocab, 0.5, seed=9))
    assert not np.array_equal(same, rearranged(ids, vocab, 0.5, seed=10))
    share = len(pieces(same, vocab)) / len(range(0, len(ids), WINDOW))
    assert 0.3 < share < 0.7


@pytest.mark.parametrize("level", ["char", "word"])
def test_no_text_encodes_to_a_fim_token(level):
    vocab = with_fim_tokens(Vocab.build(["a b c <fim-prefix> d\n"], level))
    assert vocab.tokens[-4:] == list(FIM_TOKENS) and can_fill(vocab)
    assert not set(fim_ids(vocab)) & set(vocab.encode(" ".join(FIM_TOKENS) + "\n").tolist())
    assert with_fim_tokens(vocab) is vocab


@pytest.fixture(scope="module")
def fill_run(tmp_path_factory, prose_file):
    out = tmp_path_factory.mktemp("fill")
    plain, fill = out / "plain", out / "fill"
    for folder, extra in ((plain, []), (fill, ["--fill-rate", "0.5"])):
        result = run("train", prose_file, *TINY, "--eval-tokens", "0", "--precision", "fp32", "--out", folder, *extra)
        assert result.exit_code == 0, result.output
    return api.Model.load(plain / "best.pt"), api.Model.load(fill / "best.pt"), fill


def test_a_fill_model_is_measured_on_the_plain_held_out_text(fill_run):
    plain, fill, _ = fill_run
    assert can_fill(fill.vocab) and not can_fill(plain.vocab)
    assert fill.vocab.tokens[:-4] == plain.vocab.tokens
    assert np.array_equal(fill.data["val_ids"].numpy(), plain.data["val_ids"].numpy())
    assert fill.payload["train_config"]["fill_rate"] == 0.5
    # Training's validation read the plain held-out text: its best loss is that text's score.
    assert fill.held_out.cross_entropy == pytest.approx(fill.score().cross_entropy, rel=1e-4)


def test_a_fill_model_samples_no_fim_token(fill_run):
    _, fill, _ = fill_run
    texts = fill.generate_many(4, length=1500, temperature=5.0, seed=2)  # every token likely
    assert not any(t in text for text in texts for t in FIM_TOKENS)
    assert len(set("".join(texts))) > 20


def test_fim_context_and_end_id_on_a_fill_models_vocabulary(fill_run):
    plain, fill, _ = fill_run
    vocab = fill.vocab
    ids = fim_context(vocab, "The cat ", " on the mat.")
    pre, suf, mid, end = fim_ids(vocab)
    assert ids[0] == pre and ids[-1] == mid and end_id(vocab) == end == vocab.index["<fim-end>"]
    i = int(np.flatnonzero(ids == suf)[0])
    assert vocab.decode(ids[1:i]) == "The cat " and vocab.decode(ids[i + 1:-1]) == " on the mat."
    score = fill.network.score(np.append(ids, [vocab.encode("sat")[0], end]))  # the model reads it
    assert np.isfinite(score.cross_entropy)
    with pytest.raises(UsageError, match="--fill-rate"):
        fim_context(plain.vocab, "a", "b")
    with pytest.raises(UsageError, match="not trained to fill"):
        end_id(plain.vocab)


def test_a_word_fim_context_leaves_lines_open():
    vocab = with_fim_tokens(Vocab.build(["the cat sat on the mat\nand then\n"], "word"))
    ids = fim_context(vocab, "the cat", "the mat\nand")
    words = [vocab.tokens[i] for i in ids]
    assert words == ["<fim-prefix>", "the", "cat", "<fim-suffix>", "the", "mat", "<eos>", "and", "<fim-middle>"]


def test_a_fill_run_resumes_on_the_same_arrangement(fill_run, tmp_path):
    from seqgen.training.run import resume_run

    _, _, folder = fill_run
    resumed = resume_run(folder / "last.pt", {"max_steps": 9}, out_dir=tmp_path / "more")
    assert resumed.step == 9


def test_a_fill_run_trains_on_the_rearranged_text(prose_file, tmp_path):
    from seqgen.training.run import new_run

    from .helpers import tiny_model, tiny_train

    told = {}
    for rate in (0.0, 1.0):
        new_run([str(prose_file)], tiny_model(hidden=16), tiny_train(max_steps=1, fill_rate=rate),
                out_dir=tmp_path / str(rate), on_event=lambda kind, info: told.setdefault(rate, info) if kind == "start" else None)
    windows = len(range(0, told[0.0]["train_tokens"], WINDOW))
    assert told[1.0]["train_tokens"] == told[0.0]["train_tokens"] + 4 * windows  # four tokens more a window
    assert told[1.0]["val_tokens"] == told[0.0]["val_tokens"] and told[1.0]["vocab"] == told[0.0]["vocab"] + 4


def test_fill_rate_is_checked(prose_file, tmp_path):
    result = run("train", prose_file, *TINY, "--fill-rate", "1.5", "--out", tmp_path / "a")
    assert_one_line_error(result, 2, "--fill-rate must be from 0 to 1")
    result = run("train", prose_file, *TINY, "--fill-rate", "0.5", "--direction", "backward", "--out", tmp_path / "b")
    assert_one_line_error(result, 2, "--fill-rate", "backward")
