"""How each way of filling rates candidate fills of one gap (higher is better), all in nats.

    left      log p(fill, end of gap | before)                    the forward model alone
    pair      log p(fill, after | before)                         the forward model, reading on
              + log p(reversed fill, reversed before | reversed after)   the backward model, if given
    fim       log p(fill, <fim-end> | <fim-prefix> before <fim-suffix> after <fim-middle>)

``after`` and ``before`` are read up to ``WINDOW`` tokens from the gap: far text says little about
one bar or word, and every candidate is judged on the same stretch.
"""

from __future__ import annotations

import numpy as np

from ..data import fim
from ..data.vocab import EOS_ID
from .score import continuation_logprobs

WINDOW = 200
REACH = 2000  # tokens read on each side of the gap, at most: a recurrent state forgets far text anyway
def text_ids(vocab, text: str) -> list[int]:
    """``text`` as ids, a piece of a line (``Vocab.encode_piece``), as a list to join rows with."""
    return vocab.encode_piece(text).tolist()


def scoring_context(model, ids: list[int]) -> np.ndarray:
    """The same held-out lead-in for every candidate (the first boundary's), then ``ids``."""
    lead = model.warmup.contexts(1, 0)
    lead = lead[0] if lead is not None else np.array([EOS_ID])
    return np.concatenate([lead, np.asarray(ids, dtype=np.int64)]).astype(np.int64)


def judge(model, before: str, after: str, fills: list[str], backward=None) -> dict[str, np.ndarray]:
    """Each way's rating of each of ``fills`` in the gap between ``before`` and ``after``; also
    ``fill_logp`` (the forward model's log p of the fill alone) and ``tokens`` (each fill's)."""
    vocab = model.vocab
    before_ids, after_ids = text_ids(vocab, before)[-REACH:], text_ids(vocab, after)[:REACH]
    fill_ids = [text_ids(vocab, f) for f in fills]
    window = after_ids[:WINDOW]
    forward = continuation_logprobs(model.network, scoring_context(model, before_ids), [f + window for f in fill_ids])
    end_of_gap = [len(f) + min(1, len(window)) for f in fill_ids]
    rated = {
        "fill_logp": np.array([lp[:len(f)].sum() for lp, f in zip(forward, fill_ids)]),
        "left": np.array([lp[:k].sum() for lp, k in zip(forward, end_of_gap)]),
        "pair": np.array([lp.sum() for lp in forward]),
        "tokens": np.array([len(f) for f in fill_ids]),
    }
    if backward is not None:
        back_ids = [text_ids(backward.vocab, f)[::-1] for f in fills]
        lead = scoring_context(backward, text_ids(backward.vocab, after)[:REACH][::-1])
        behind = text_ids(backward.vocab, before)[::-1][:WINDOW]
        back = continuation_logprobs(backward.network, lead, [b + behind for b in back_ids])
        rated["backward"] = np.array([lp.sum() for lp in back])
        rated["backward_fill"] = np.array([lp[:len(b)].sum() for lp, b in zip(back, back_ids)])
        rated["pair"] = rated["pair"] + rated["backward"]
    if fim.can_fill(vocab):
        context = np.concatenate([[EOS_ID], fim.fim_context(vocab, before, after)]).astype(np.int64)
        end = fim.end_id(vocab)
        rated["fim"] = np.array([lp.sum() for lp in continuation_logprobs(model.network, context,
                                                                          [f + [end] for f in fill_ids])])
    return rated
