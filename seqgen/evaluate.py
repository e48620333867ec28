"""Cross-entropy, perplexity and bits per character: the one implementation used everywhere.

Perplexity is exp of the token-weighted mean negative log-likelihood. A text of n tokens yields
n - 1 predictions (the first token has nothing before it), whatever model scores it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from .device import autocast
from .model import IGNORE, RNNLM

MIN_ROW_TOKENS = 1024  # each row of an evaluation batch starts cold: keep rows long


@dataclass
class Score:
    nll: float  # total negative log-likelihood, nats
    tokens: int  # predictions scored

    @property
    def cross_entropy(self) -> float:
        return self.nll / self.tokens if self.tokens else float("nan")

    @property
    def perplexity(self) -> float:
        return math.exp(min(self.cross_entropy, 700.0))

    @property
    def bits_per_token(self) -> float:
        return self.cross_entropy / math.log(2)

    def as_dict(self, level: str) -> dict:
        out = {"cross_entropy": self.cross_entropy, "perplexity": self.perplexity, "tokens": self.tokens}
        if level == "char":
            out["bits_per_char"] = self.bits_per_token
        return out


@torch.no_grad()
def score_rnn(model: RNNLM, ids: np.ndarray, device: torch.device | str = "cpu", precision: str = "fp32",
              rows: int = 64, seq_len: int = 256) -> Score:
    """Score every prediction in ``ids`` with the recurrent model.

    The text is cut into up to ``rows`` contiguous pieces of at least MIN_ROW_TOKENS read side
    by side (as in training; each starts from a zero state, so pieces are kept long); the last
    piece is padded and the padding ignored, so exactly len(ids) - 1 predictions are counted.
    """
    n = len(ids) - 1
    if n < 1:
        return Score(0.0, 0)
    was_training = model.training
    model.eval()
    device = torch.device(device)
    rows = max(1, min(rows, n // MIN_ROW_TOKENS))
    row_len = math.ceil(n / rows)
    x = np.zeros(rows * row_len, dtype=np.int64)
    y = np.full(rows * row_len, IGNORE, dtype=np.int64)
    x[:n], y[:n] = ids[:-1], ids[1:]
    x_t = torch.from_numpy(x).view(rows, row_len).to(device)
    y_t = torch.from_numpy(y).view(rows, row_len).to(device)
    total, hidden = 0.0, None
    with autocast(device, precision):
        for start in range(0, row_len, seq_len):
            nll, hidden = model.loss(x_t[:, start:start + seq_len], y_t[:, start:start + seq_len], hidden,
                                     reduction="sum")
            total += float(nll)
    model.train(was_training)
    return Score(total, n)
