"""The plan's rule: the held-out loss each model shape reaches after D training tokens of a text of
U tokens, fitted to measured runs.

    loss(shape, D) = E[shape] + B[shape] / D_eff ** beta

One learning curve per measured shape, in the form of the data term of compute-optimal scaling
laws (Hoffmann et al., 2022), with the exponent shared by all shapes. A text read more than once
teaches less each time: ``D_eff`` counts a repeated token as worth less (Muennighoff et al., 2023),
so past the first epoch D_eff grows towards U * (1 + R).

Measured shapes, not a law in the parameter count: in the runs a 1x256 LSTM learnt faster than a
2x256 one of twice the parameters, at every token count, so the count alone does not rank shapes
(a law ``E + A / N ** alpha + B[shape] / D ** beta`` missed the runs by up to 0.03 nats, these
curves by 0.005). A shape without runs is not a candidate. The curves are the least-squares fit of
``fit`` to the tiny-shakespeare runs of ``benchmarks/plan/grid.jsonl`` (``scripts/plan_grid.py``);
``scripts/fit_plan.py`` refits them and prints them for this file, and a test checks that the two
agree. Only differences between shapes matter to the plan: it assumes that a text harder than the
grid's raises every curve alike (on O'Neill's tunes the curves, like the runs, put 2x512 behind
2x384 at about equal time, though by less).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

FIT_CORPUS = "tiny-shakespeare"
FIT_DROPOUT = 0.2  # the curves are those of the default dropout


@dataclass(frozen=True)
class Rule:
    beta: float
    R: float  # how many epochs' worth a repeated text gives at most, on top of its first
    curves: dict[str, tuple[float, float]] = field(default_factory=dict)  # "2x512": (E, B)

    def effective_tokens(self, tokens: float, unique: float) -> float:
        """Tokens read, counted as new ones: each epoch after the first worth less than the last."""
        if tokens <= unique:
            return tokens
        return unique * (1 + self.R * (1 - math.exp(-(tokens / unique - 1) / self.R)))

    def loss(self, layers: int, hidden: int, tokens: float, unique: float) -> float | None:
        """The held-out loss (nats per token) expected of the shape after ``tokens`` of a text of
        ``unique``; None for a shape never measured."""
        curve = self.curves.get(f"{layers}x{hidden}")
        if curve is None:
            return None
        E, B = curve
        return E + B / max(self.effective_tokens(tokens, unique), 1.0) ** self.beta


# Fitted by scripts/fit_plan.py to benchmarks/plan/grid.jsonl.
RULE = Rule(beta=0.325, R=8.0, curves={"1x128": (1.0955, 92.7311),
                                       "1x256": (0.9257, 91.8029),
                                       "2x256": (0.8155, 108.5600),
                                       "2x384": (0.5210, 117.1503),
                                       "2x512": (0.5364, 108.5552)})

BETAS = tuple(round(0.05 + 0.025 * i, 3) for i in range(39))  # 0.05 .. 1.0
REPEATS = (1.0, 2.0, 3.0, 5.0, 8.0, 13.0, 20.0, 50.0)


def recurrent_params(layers: int, hidden: int, vocab_size: int, embed: int = 0) -> int:
    """The parameters a token's step multiplies through: the LSTM's layers and the output layer
    (the input embedding is a lookup, and costs no time)."""
    embed = embed or hidden
    lstm = sum(4 * hidden * ((embed if layer == 0 else hidden) + hidden) + 8 * hidden for layer in range(layers))
    return lstm + hidden * vocab_size + vocab_size


def fit(records: Iterable[dict]) -> Rule:
    """The curves that fit the runs best (least squares on the loss): for each (beta, R) on a grid,
    each shape's E and B by a linear fit of its own runs; the (beta, R) of the least total error,
    every curve falling (B > 0). Only shapes with runs at two token counts or more get a curve."""
    shapes: dict[str, list[tuple[float, float, float]]] = {}
    for r in records:
        if r["corpus"] == FIT_CORPUS and r["dropout"] == FIT_DROPOUT:
            shapes.setdefault(f"{r['layers']}x{r['hidden']}", []).append((r["tokens"], r["train_tokens"], r["val_loss"]))
    shapes = {name: runs for name, runs in shapes.items() if len({t for t, _, _ in runs}) >= 2}
    if not shapes:
        raise ValueError(f"no shape has runs at two token counts on {FIT_CORPUS}")
    best: tuple[float, Rule] | None = None
    for R in REPEATS:
        for beta in BETAS:
            rule, error = Rule(beta, R), 0.0
            for name, runs in sorted(shapes.items()):
                x = np.array([rule.effective_tokens(t, u) ** -beta for t, u, _ in runs])
                y = np.array([loss for _, _, loss in runs])
                design = np.column_stack([np.ones_like(x), x])
                (E, B), *_ = np.linalg.lstsq(design, y, rcond=None)
                rule.curves[name] = (float(E), float(B))
                error += float(np.sum((design @ np.array([E, B]) - y) ** 2)) if B > 0 else math.inf
            if best is None or error < best[0] - 1e-12:
                best = (error, rule)
    if not math.isfinite(best[0]):
        raise ValueError("no curves that fall with more tokens fit these runs")
    return best[1]
