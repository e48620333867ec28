"""The log-probability a model gives each of several continuations after one context.

    context  c0 c1 ... cT          read once per row; its last scores predict x0
    row i    x0 x1 ... x(Li-1)     fed one step at a time; step t's scores predict x(t+1)

Rows of different lengths are run side by side, each summed up to its own end: a recurrent
model reads left to right, so what comes after a row's end never changes what came before it.
Steps go through ``next_scores``, so every model type (the n-gram baseline too) scores here.
"""

from __future__ import annotations

import numpy as np
import torch

from ..hardware.device import threads_for_sampling


def continuation_logprobs(network, context: np.ndarray, rows: list[list[int]]) -> list[np.ndarray]:
    """For each row, the log-probability (nats) of each of its tokens after ``context`` (T,)
    and the row's tokens before it."""
    if not rows:
        return []
    n, longest = len(rows), max(len(r) for r in rows)
    ids = np.zeros((n, max(longest, 1)), dtype=np.int64)
    for i, r in enumerate(rows):
        ids[i, :len(r)] = r
    out = np.zeros((n, longest), dtype=np.float64)
    if hasattr(network, "eval"):
        network.eval()
    with threads_for_sampling(), torch.inference_mode():
        start = torch.from_numpy(np.tile(context.astype(np.int64), (n, 1)))
        scores, state = network.next_scores(start, None)
        for t in range(longest):
            logp = torch.log_softmax(scores.float(), -1)  # (n, V)
            out[:, t] = logp.gather(1, torch.from_numpy(ids[:, t:t + 1])).squeeze(1).double().numpy()
            if t + 1 < longest:
                scores, state = network.next_scores(torch.from_numpy(ids[:, t:t + 1]), state)
    return [out[i, :len(r)] for i, r in enumerate(rows)]
