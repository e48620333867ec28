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
    starts = documents(ids, vocab, fmt)
    rng = np.random.default_rng([seed, _FIM_STREAM])
    chosen = np.flatnonzero(rng.random(len(starts) - 1) < rate)
    first, last = starts[chosen], starts[chosen + 1]
    closed = (last > first) & (np.asarray(ids)[np.maximum(last - 1, 0)] == EOS_ID)
    ends = last - closed  # a document's closing <eos> stays after it
    cuts = cut_points(ids, first, ends, vocab, fmt, rng)
    return _assembled(ids, first, cuts, ends, last, fim_ids(vocab), vocab.id_dtype)


def documents(ids: np.ndarray, vocab: Vocab, fmt=None) -> np.ndarray:
    """(D + 1,) where each document of the training ``ids`` starts, and their end: the format's
    documents, else windows of ``WINDOW`` tokens."""
    named = getattr(fmt, "fill_documents", None)
    starts = named(ids, vocab) if named else None
    if starts is None:
        starts = np.append(np.arange(0, len(ids), WINDOW), len(ids))
    return np.asarray(starts, dtype=np.int64)


def cut_points(ids: np.ndarray, first: np.ndarray, ends: np.ndarray, vocab: Vocab, fmt,
               rng: np.random.Generator) -> np.ndarray:
    """(n, 2) where the middle of each document ``ids[first:ends]`` begins and ends: anywhere,
    or, for half the documents that have two bar lines or more, just after one bar line and just
    before a later one."""
    cuts = np.sort(rng.integers(0, (ends - first)[:, None] + 1, size=(len(first), 2)), axis=1)
    find_bars = getattr(fmt, "bar_lines", None)
    if find_bars:
        for d in np.flatnonzero(rng.random(len(first)) < 0.5).tolist():
            bars = find_bars(ids[first[d]:ends[d]], vocab)
            if bars is not None and len(bars) >= 2:
                k, m = np.sort(rng.choice(len(bars), 2, replace=False))
                cuts[d] = bars[k, 1], bars[m, 0]
    return cuts + first[:, None]


def _assembled(ids: np.ndarray, first: np.ndarray, cuts: np.ndarray, ends: np.ndarray, last: np.ndarray,
               fim: list[int], dtype: np.dtype) -> np.ndarray:
    """``ids`` with each document ``[first, last)`` cut at ``cuts`` written in FIM order."""
    pre, suf, mid, end = fim
    out = np.empty(len(ids) + 4 * len(first), dtype=dtype)
    at = done = 0
    for a, (i, j), e, b in zip(first.tolist(), cuts.tolist(), ends.tolist(), last.tolist()):
        for piece in (ids[done:a], (pre,), ids[a:i], (suf,), ids[j:e], (mid,), ids[i:j], (end,), ids[e:b]):
            out[at:at + len(piece)] = piece
            at += len(piece)
        done = b
    out[at:] = ids[done:]
    return out
