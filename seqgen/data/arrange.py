"""The token ids a model trains on, made from the cached ids as the run's settings say: read
forward, or backward (the whole stream reversed, training and held-out text alike).

    cache (ids, as read) --split_ids--> train | held-out --as_trained--> what the model reads

The cache and the checkpoint's record of the held-out ids keep the text as it was read, so one
cache entry serves every direction, and a backward run holds out exactly the text a forward run
with the same seed holds out, reversed.
"""

from __future__ import annotations

import numpy as np

from .tokens import TokenSplit


def as_read(ids: np.ndarray, direction: str) -> np.ndarray:
    """``ids`` in the order a model of ``direction`` reads them (a view: nothing is copied, so a
    memory-mapped stream stays on disk)."""
    return ids[::-1] if direction == "backward" else ids


def as_trained(split: TokenSplit, direction: str) -> TokenSplit:
    """The training and held-out ids of ``split`` as a model of ``direction`` reads them."""
    if direction == "forward":
        return split
    return TokenSplit(as_read(split.train, direction), as_read(split.val, direction))
