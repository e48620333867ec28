"""The plan's rule: the held-out loss each model shape reaches after D training tokens of a text of
U tokens, fitted to measured runs, and the peak learning rate the shape learns best with.

    loss(shape, D) = E[shape] + B[shape] / D_eff ** beta

One learning curve per measured shape, in the form of the data term of compute-optimal scaling
laws (Hoffmann et al., 2022), with the exponent shared by all shapes. A text read more than once
teaches less each time: ``D_eff`` counts a repeated token as worth less (Muennighoff et al., 2023),
so past the first epoch D_eff grows towards U * (1 + R).

Measured shapes, not a law in the parameter count: in the runs a 1x256 LSTM learnt faster than a
2x256 one of twice the parameters, at every token count, so the count alone does not rank shapes
(a law ``E + A / N ** alpha + B[shape] / D ** beta`` missed the default rate's runs by up to 0.03
nats, per-shape curves by 0.005). A shape without runs is not a candidate. The curves are the
least-squares fit of ``fit`` to the tiny-shakespeare runs of ``benchmarks/plan/grid.jsonl``
(``scripts/plan_grid.py``); ``scripts/fit_plan.py`` refits them and prints them for this file, and
a test checks that the two agree. Only differences between shapes matter to the plan: it assumes
that a text harder than the grid's raises every curve alike (the grid's O'Neill runs, at the
default rate, are not enough to say).

A curve is not followed past the most passes over the text its shape was run for: there the plan
expects no further gain. At a high rate a two-layer model stops gaining after two passes or so (in
the grid a 2x384 LSTM was as good after 2 passes as after 3.3), which this form of curve cannot
follow; a one-layer model went on gaining to six.

Each shape's curve is that of its own learning rate: the rate whose run was best where the grid
tried several rates for the shape (the same number of steps each), the lowest of those within
``LR_TOLERANCE`` of the best. A high rate buys little past that and risks a run that diverges on
another text. A small model wants a higher rate than seqgen's default: in the grid a 1x256 LSTM
after 1,000 steps was 0.15 nats better at 1.2e-2 than at 3e-3.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from ..config import TrainConfig

FIT_CORPUS = "tiny-shakespeare"
FIT_DROPOUT = 0.2  # the curves are those of the default dropout
DEFAULT_LR = TrainConfig.lr  # a run that gave no --lr
LR_TOLERANCE = 0.01  # nats: a rate this close to the best rate's loss is as good, and the lower is safer


@dataclass(frozen=True)
class Rule:
    beta: float
    R: float  # how many epochs' worth a repeated text gives at most, on top of its first
    curves: dict[str, tuple[float, float]] = field(default_factory=dict)  # "2x512": (E, B)
    lrs: dict[str, float] = field(default_factory=dict)  # "2x512": the peak rate its curve was measured at
    reach: dict[str, float] = field(default_factory=dict)  # "2x512": the most passes over the text measured

    def effective_tokens(self, tokens: float, unique: float) -> float:
        """Tokens read, counted as new ones: each epoch after the first worth less than the last."""
        if tokens <= unique:
            return tokens
        return unique * (1 + self.R * (1 - math.exp(-(tokens / unique - 1) / self.R)))

    def loss(self, layers: int, hidden: int, tokens: float, unique: float) -> float | None:
        """The held-out loss (nats per token) expected of the shape after ``tokens`` of a text of
        ``unique``; None for a shape never measured."""
        curve = self.curves.get(shape_name(layers, hidden))
        if curve is None:
            return None
        E, B = curve
        tokens = min(tokens, self.reach.get(shape_name(layers, hidden), math.inf) * unique)
        return E + B / max(self.effective_tokens(tokens, unique), 1.0) ** self.beta

    def lr(self, layers: int, hidden: int) -> float:
        """The peak learning rate the shape's curve was measured at."""
        return self.lrs.get(shape_name(layers, hidden), DEFAULT_LR)


# Fitted by scripts/fit_plan.py to benchmarks/plan/grid.jsonl.
RULE = Rule(beta=1.0, R=13.0, curves={"1x128": (1.5898, 258597.6144),
                                      "1x256": (1.4728, 252940.6337),
                                      "2x256": (1.5930, 281425.4062),
                                      "2x384": (1.4011, 248446.4845),
                                      "2x512": (1.3179, 302685.6633)},
            lrs={"1x128": 0.012, "1x256": 0.012, "2x256": 0.012, "2x384": 0.012, "2x512": 0.006},
            reach={"1x128": 6.12, "1x256": 6.12, "2x256": 2.04, "2x384": 3.33, "2x512": 2.04})

BETAS = tuple(round(0.05 + 0.025 * i, 3) for i in range(39))  # 0.05 .. 1.0
REPEATS = (1.0, 2.0, 3.0, 5.0, 8.0, 13.0, 20.0, 50.0)


def shape_name(layers: int, hidden: int) -> str:
    """A shape as the rule's tables name it: "2x512"."""
    return f"{layers}x{hidden}"


def lr_of(record: dict) -> float:
    """The peak learning rate of a grid run (a run without one had the default)."""
    return record.get("lr") or DEFAULT_LR


def recurrent_params(layers: int, hidden: int, vocab_size: int, embed: int = 0) -> int:
    """The parameters a token's step multiplies through: the LSTM's layers and the output layer
    (the input embedding is a lookup, and costs no time)."""
    embed = embed or hidden
    lstm = sum(4 * hidden * ((embed if layer == 0 else hidden) + hidden) + 8 * hidden for layer in range(layers))
    return lstm + hidden * vocab_size + vocab_size


def fit(records: Iterable[dict]) -> Rule:
    """The curves that fit the runs best (least squares on the loss): for each (beta, R) on a grid,
    each shape's E and B by a linear fit of its runs at its learning rate (``pick_lr``); the (beta,
    R) of the least total error, every curve falling (B > 0). Only shapes with runs at two token
    counts or more at their rate get a curve; each reaches as many passes over the text as its
    longest run."""
    runs_by_shape: dict[str, dict[float, list[tuple[float, float, float]]]] = {}
    for r in records:
        if r["corpus"] == FIT_CORPUS and r["dropout"] == FIT_DROPOUT:
            by_lr = runs_by_shape.setdefault(shape_name(r["layers"], r["hidden"]), {})
            by_lr.setdefault(lr_of(r), []).append((r["tokens"], r["train_tokens"], r["val_loss"]))
    lrs = {name: lr for name, by_lr in runs_by_shape.items() if (lr := pick_lr(by_lr)) is not None}
    shapes = {name: runs_by_shape[name][lr] for name, lr in lrs.items()}
    reach = {name: round(max(t / u for t, u, _ in runs), 2) for name, runs in sorted(shapes.items())}
    if not shapes:
        raise ValueError(f"no shape has runs at two token counts on {FIT_CORPUS}")
    best: tuple[float, Rule] | None = None
    for R in REPEATS:
        for beta in BETAS:
            rule, error = Rule(beta, R, lrs=dict(sorted(lrs.items())), reach=reach), 0.0
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


def pick_lr(runs_by_lr: dict[float, list[tuple[float, float, float]]]) -> float | None:
    """A shape's learning rate, from its runs (tokens, text tokens, loss) at each rate: among the
    rates with runs at two token counts or more (a curve), compared where most of them were run
    (the most tokens, of equal counts), the lowest within ``LR_TOLERANCE`` of the best. None when no
    rate has a curve."""
    curved = {lr: runs for lr, runs in runs_by_lr.items() if len({t for t, _, _ in runs}) >= 2}
    if not curved:
        return None
    counts: dict[float, int] = {}
    for runs in curved.values():
        for tokens in {t for t, _, _ in runs}:
            counts[tokens] = counts.get(tokens, 0) + 1
    where = max(counts, key=lambda tokens: (counts[tokens], tokens))
    losses = {lr: min(loss for t, _, loss in runs if t == where) for lr, runs in curved.items()
              if any(t == where for t, _, _ in runs)}
    best = min(losses.values())
    return min(lr for lr, loss in losses.items() if loss <= best + LR_TOLERANCE)
