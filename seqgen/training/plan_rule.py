"""The plan's rule: the held-out loss a recurrent model of N parameters reaches after D training
tokens of a text of U tokens, fitted to measured runs.

    loss(N, D) = E + A / N**alpha + B / D_eff**beta

the form of compute-optimal scaling laws (Hoffmann et al., 2022). A text read more than once teaches
less each time: ``D_eff`` counts a repeated token as worth less (Muennighoff et al., 2023), so that
past the first epoch D_eff grows towards U * (1 + R) and a big model on a small text stops gaining.

The constants are the least-squares fit of ``fit`` to ``benchmarks/plan/grid.jsonl`` (runs of
``scripts/plan_grid.py``); ``scripts/fit_plan.py`` refits them and prints them for this file, and a
test checks that the two agree. Only where the plan chooses between shapes do E, A and B matter
relative to each other: E cancels, so a text harder than the grid's shifts every shape alike.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Rule:
    E: float
    A: float
    alpha: float
    B: float
    beta: float
    R: float  # how many epochs' worth a repeated text gives at most (on top of its first)

    def effective_tokens(self, tokens: float, unique: float) -> float:
        """Tokens read, counted as new ones: each epoch after the first worth less than the one before."""
        if tokens <= unique:
            return tokens
        return unique * (1 + self.R * (1 - math.exp(-(tokens / unique - 1) / self.R)))

    def loss(self, params: float, tokens: float, unique: float) -> float:
        """The held-out loss (nats per token) expected of ``params`` after ``tokens`` of ``unique``."""
        return self.E + self.A / params ** self.alpha + self.B / self.effective_tokens(tokens, unique) ** self.beta


# Fitted by scripts/fit_plan.py to benchmarks/plan/grid.jsonl.
RULE = Rule(E=1.0, A=30.0, alpha=0.3, B=200.0, beta=0.4, R=3.0)

ALPHAS = BETAS = tuple(round(0.05 + 0.025 * i, 3) for i in range(39))  # 0.05 .. 1.0
REPEATS = (0.5, 1.0, 2.0, 3.0, 5.0, 8.0, 13.0, 20.0, 50.0)


def recurrent_params(layers: int, hidden: int, vocab_size: int, embed: int = 0) -> int:
    """The parameters a token's step multiplies through: the LSTM's layers and the output layer
    (the input embedding is a lookup, and costs no time)."""
    embed = embed or hidden
    lstm = sum(4 * hidden * ((embed if layer == 0 else hidden) + hidden) + 8 * hidden for layer in range(layers))
    return lstm + hidden * vocab_size + vocab_size


def fit(records: Iterable[dict]) -> Rule:
    """The rule that fits the runs best (least squares on the loss): for each (alpha, beta, R) on a
    grid the linear fit of E, A and B, and the best of those with A and B positive."""
    rows = [(recurrent_params(r["layers"], r["hidden"], r.get("vocab_size", 65)), r["tokens"], r["train_tokens"],
             r["val_loss"]) for r in records]
    params, tokens, unique, loss = (np.array(column, dtype=float) for column in zip(*rows))
    best: tuple[float, Rule] | None = None
    for R in REPEATS:
        probe = Rule(0, 0, 0, 0, 0, R)
        effective = np.array([probe.effective_tokens(t, u) for t, u in zip(tokens, unique)])
        for alpha in ALPHAS:
            for beta in BETAS:
                design = np.column_stack([np.ones_like(loss), params ** -alpha, effective ** -beta])
                (E, A, B), *_ = np.linalg.lstsq(design, loss, rcond=None)
                if A <= 0 or B <= 0:
                    continue
                error = float(np.sum((design @ np.array([E, A, B]) - loss) ** 2))
                if best is None or error < best[0]:
                    best = (error, Rule(float(E), float(A), alpha, float(B), beta, R))
    if best is None:
        raise ValueError("no rule with positive terms fits these runs")
    return best[1]
