"""Fill in the middle (Bavarian et al. 2022, "Efficient Training of Language Models to Fill in
the Middle"): a left-to-right model trained on documents of which a share is rearranged as

    <fim-prefix> prefix <fim-suffix> suffix <fim-middle> middle <fim-end>

reads both sides of a gap before it writes the middle. The four tokens are special, as <unk> and
<eos> are: they come after a vocabulary's other tokens (so the ids of the text stay what the
token cache holds), and no text encodes to them, at either level, so a user can never type one.
``arrange.py`` rearranges the training text; drawing a fill reads ``fim_context`` and stops at
``end_id``.
"""

from __future__ import annotations

import numpy as np

from ..errors import UsageError
from .vocab import Vocab

FIM_TOKENS = ("<fim-prefix>", "<fim-suffix>", "<fim-middle>", "<fim-end>")


def can_fill(vocab: Vocab) -> bool:
    """Whether ``vocab`` has the four FIM tokens: its model was trained with --fill-rate."""
    return all(token in vocab.index for token in FIM_TOKENS)


def with_fim_tokens(vocab: Vocab) -> Vocab:
    """``vocab`` with the four FIM tokens after its own (itself when it has them)."""
    return vocab if can_fill(vocab) else Vocab([*vocab.tokens, *FIM_TOKENS], vocab.level)


def fim_ids(vocab: Vocab) -> list[int]:
    """The ids of the FIM tokens ``vocab`` has (none, or all four in ``FIM_TOKENS``' order)."""
    return [vocab.index[t] for t in FIM_TOKENS if t in vocab.index]


def end_id(vocab: Vocab) -> int:
    """The id of ``<fim-end>``, which ends a drawn middle."""
    _check_can_fill(vocab)
    return vocab.index[FIM_TOKENS[3]]


def fim_context(vocab: Vocab, prefix: str, suffix: str) -> np.ndarray:
    """The ids a model trained to fill reads before it writes the middle of ``prefix`` [gap]
    ``suffix``: ``<fim-prefix> prefix <fim-suffix> suffix <fim-middle>``. Word by word, a piece
    that does not end with a newline does not end its line (the text goes on in the gap)."""
    _check_can_fill(vocab)
    pre, suf, mid, _ = (np.array([vocab.index[t]], dtype=np.int64) for t in FIM_TOKENS)
    return np.concatenate([pre, vocab.encode_piece(prefix), suf, vocab.encode_piece(suffix), mid]).astype(np.int64)


def _check_can_fill(vocab: Vocab) -> None:
    if not can_fill(vocab):
        raise UsageError("this model was not trained to fill in the middle (no FIM tokens in its vocabulary); "
                         "train one with --fill-rate 0.5, or fill with a forward and a backward model")
