"""The token ids a model trains on, made from the cached ids as the run's settings say: read
forward, or backward (the whole stream reversed, training and held-out text alike); and with a
share of the training documents rearranged to fill in the middle (``fim.py``).

    cache (ids, as read) --split_ids--> train | held-out --as_trained--> what the model reads

The cache and the checkpoint's record of the held-out ids keep the text as it was read, so one
cache entry serves every direction, and a backward run holds out exactly the text a forward run
with the same seed holds out, reversed. The held-out text is never rearranged: a model trained to
fill is measured on plain text, as a plain model is.

A rearranged document (its closing <eos>, if any, stays after it, so documents stay apart)::

    a b c d e f g <eos>   cut at 2 and 5  ->   <fim-prefix> a b <fim-suffix> f g <fim-middle> c d e <fim-end> <eos>

The documents are the format's (``fill_documents``: tunes, for ABC), else windows of ``WINDOW``
tokens of the stream; the cut points fall anywhere, drawn uniformly, or, for half the documents
of a format that names its bar lines (``bar_lines``), on two bar lines, so that the middle is one
or more whole bars. The draws are seeded by the run's seed: a run, and its resumption, trains on
the same arrangement (drawn once for the run, not again each epoch).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from .fim import fim_ids, with_fim_tokens
from .tokens import TokenizedCorpus, TokenSplit
from .vocab import EOS_ID, Vocab

WINDOW = 256  # plain text: tokens of the stream taken as one document to rearrange
_FIM_STREAM = 0x46494D  # the random stream of the cut points, apart from the run's others


def for_filling(data: TokenizedCorpus, fill_rate: float) -> TokenizedCorpus:
    """``data`` with the FIM tokens in its vocabulary when the run trains to fill (``fill_rate``
    above 0); as it is otherwise. The ids of its text do not change: the tokens come last."""
    return replace(data, vocab=with_fim_tokens(data.vocab)) if fill_rate > 0 else data


def as_read(ids: np.ndarray, direction: str) -> np.ndarray:
    """``ids`` in the order a model of ``direction`` reads them (a view: nothing is copied, so a
    memory-mapped stream stays on disk)."""
    return ids[::-1] if direction == "backward" else ids


def as_trained(split: TokenSplit, direction: str, fill_rate: float = 0.0, seed: int = 0,
               vocab: Vocab | None = None, fmt=None) -> TokenSplit:
    """The training and held-out ids of ``split`` as a model of ``direction`` reads them, with
    ``fill_rate`` of the training documents rearranged (``vocab`` has the FIM tokens; ``fmt`` is
    the corpus's format, which may name its documents and bar lines)."""
    if fill_rate > 0:
        split = TokenSplit(rearranged(split.train, vocab, fill_rate, seed, fmt), split.val)
    if direction == "forward":
        return split
    return TokenSplit(as_read(split.train, direction), as_read(split.val, direction))


def rearranged(ids: np.ndarray, vocab: Vocab, rate: float, seed: int, fmt=None) -> np.ndarray:
    """``ids`` with a share ``rate`` of its documents rearranged as prefix, suffix, middle (a new
    array; ``ids`` itself when ``rate`` is 0)."""
    if rate <= 0:
        return ids
    pre, suf, mid, end = fim_ids(vocab)
    starts = documents(ids, vocab, fmt)
    rng = np.random.default_rng([seed, _FIM_STREAM])
    chosen = np.flatnonzero(rng.random(len(starts) - 1) < rate)
    parts, done = [], 0
    for d in chosen.tolist():
        first, last = int(starts[d]), int(starts[d + 1])
        doc = ids[first:last]
        closing = 1 if len(doc) and doc[-1] == EOS_ID else 0
        body = doc[:len(doc) - closing]
        i, j = cut_points(body, vocab, fmt, rng)
        parts += [ids[done:first], [pre], body[:i], [suf], body[j:], [mid], body[i:j], [end], doc[len(body):]]
        done = last
    parts.append(ids[done:])
    return np.concatenate([np.asarray(p, dtype=vocab.id_dtype) for p in parts])


def documents(ids: np.ndarray, vocab: Vocab, fmt=None) -> np.ndarray:
    """(D + 1,) where each document of the training ``ids`` starts, and their end: the format's
    documents, else windows of ``WINDOW`` tokens."""
    named = getattr(fmt, "fill_documents", None)
    starts = named(ids, vocab) if named else None
    if starts is None:
        starts = np.append(np.arange(0, len(ids), WINDOW), len(ids))
    return starts


def cut_points(body: np.ndarray, vocab: Vocab, fmt, rng: np.random.Generator) -> tuple[int, int]:
    """Where the middle of a document ``body`` begins and ends: just after one bar line and just
    before a later one for half the documents with two bar lines or more, else anywhere."""
    named = getattr(fmt, "bar_lines", None)
    bars = named(body, vocab) if named else None
    if bars is not None and len(bars) >= 2 and rng.random() < 0.5:
        k, m = sorted(rng.choice(len(bars), 2, replace=False).tolist())
        return int(bars[k][1]), int(bars[m][0])
    i, j = sorted(rng.integers(0, len(body) + 1, 2).tolist())
    return i, j
