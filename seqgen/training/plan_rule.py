"""The plan's rule: the held-out loss each model shape reaches after D training tokens of a text of
U tokens at each peak learning rate it was run at, fitted to measured runs.

    loss(shape, rate, D) = E + B / D_eff(R) ** beta        (E, B, R: the shape's at that rate)

One learning curve per measured shape and rate, in the form of the data term of compute-optimal
scaling laws (Hoffmann et al., 2022), with the exponent shared by all curves. A text read more than
once teaches less each time: ``D_eff`` counts a repeated token as worth less (Muennighoff et al.,
2023), so past the first epoch D_eff grows towards U * (1 + R). R is each curve's own: at a high
rate a two-layer model gains little after two passes (2x512 at 6e-3: 1.469 after 2 passes, 1.451
after 8), at a low one it goes on gaining (at 3e-3: 1.512, then 1.415), and one R for all curves
missed those runs by up to 0.05 nats.

Measured shapes, not a law in the parameter count: in the runs a 1x256 LSTM learnt faster than a
2x256 one of twice the parameters, at every token count, so the count alone does not rank shapes
(a law ``E + A / N ** alpha + B[shape] / D ** beta`` missed the default rate's runs by up to 0.03
nats, per-shape curves by 0.005). A shape without runs is not a candidate. Each level has its own
rule (``RULES``), the least-squares fit of ``fit`` to its runs in ``benchmarks/plan/grid.jsonl``
(``scripts/plan_grid.py``): characters on tiny-shakespeare at dropout 0.2, words on WikiText-2 at
dropout 0.5 (the levels' defaults). ``scripts/fit_plan.py`` refits them and prints them for this
file, and a test checks that the two agree. Only differences between shapes matter to the plan: it
assumes that a text harder than the grid's raises every curve alike (the grid's O'Neill runs, at
the default rate, are not enough to say).

A curve is not followed past the most passes over the text it was run for: there the plan expects
no further gain. At a high rate a two-layer model stops gaining after two to four passes and then
loses a little (in the grid 2x384 at 1.2e-2 was worse after 3.3 passes than after 2, 2x512 at 6e-3
worse after 8 than after 4), which a falling curve can only follow as flat; a one-layer model went
on gaining to six.

The best rate depends on how long the run is, so each run gets its own: of the rates the shape was
run at, the lowest whose curve is within ``LR_TOLERANCE`` of the best at the run's token count. A
high rate buys little past that and risks a run that diverges on another text. A small model wants
a higher rate than seqgen's default (in the grid a 1x256 LSTM after 1,000 steps was 0.15 nats
better at 1.2e-2 than at 3e-3); a big one a high rate for a short run and a lower one for a long
run (a 2x512 LSTM was 0.043 nats better at 6e-3 than at 3e-3 after 2 passes, level after 4, and
0.036 worse after 8).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from ..config import TrainConfig
from ..models.rnn_config import ModelConfig

# What each level's curves are fitted to: the grid's runs on this text, at the level's default dropout
FITTED_TO = {level: (corpus, ModelConfig.for_level(level).dropout)
             for level, corpus in (("char", "tiny-shakespeare"), ("word", "wikitext-2"))}
DEFAULT_LR = TrainConfig.lr  # a run that gave no --lr
LR_TOLERANCE = 0.01  # nats: a rate this close to the best rate's loss is as good, and the lower is safer


@dataclass(frozen=True)
class Rule:
    beta: float
    # "2x512": {0.006: (E, B, R), 0.003: (E, B, R)}: a curve for each peak rate the shape was run
    # at; R, how many epochs' worth a repeated text gives at most, on top of its first
    curves: dict[str, dict[float, tuple[float, float, float]]] = field(default_factory=dict)
    # "2x512": {0.006: 2.04}: the most passes over the text measured at each of them
    reach: dict[str, dict[float, float]] = field(default_factory=dict)

    def curve_loss(self, name: str, lr: float, tokens: float, unique: float) -> float:
        """The held-out loss on the curve of shape ``name`` at peak rate ``lr``, after ``tokens`` of
        a text of ``unique``; flat past the most passes measured at that rate."""
        E, B, R = self.curves[name][lr]
        tokens = min(tokens, self.reach.get(name, {}).get(lr, math.inf) * unique)
        return E + B / max(effective_tokens(tokens, unique, R), 1.0) ** self.beta

    def choice(self, layers: int, hidden: int, tokens: float, unique: float) -> tuple[float, float] | None:
        """The peak rate the shape should train at for ``tokens`` of a text of ``unique`` tokens,
        and the held-out loss (nats per token) expected then: of the rates it has curves for, the
        lowest whose curve ends within ``LR_TOLERANCE`` of the best. None for a shape never
        measured."""
        rates = self.curves.get(shape_name(layers, hidden))
        if not rates:
            return None
        losses = {lr: self.curve_loss(shape_name(layers, hidden), lr, tokens, unique) for lr in rates}
        best = min(losses.values())
        lr = min(lr for lr, loss in losses.items() if loss <= best + LR_TOLERANCE)
        return lr, losses[lr]

    def loss(self, layers: int, hidden: int, tokens: float, unique: float) -> float | None:
        """The held-out loss expected of the shape after ``tokens`` of a text of ``unique``, at the
        rate ``choice`` gives it; None for a shape never measured."""
        chosen = self.choice(layers, hidden, tokens, unique)
        return None if chosen is None else chosen[1]

    def lr(self, layers: int, hidden: int, tokens: float, unique: float) -> float:
        """The peak rate ``choice`` gives the shape for that many tokens (seqgen's default for a
        shape never measured)."""
        chosen = self.choice(layers, hidden, tokens, unique)
        return DEFAULT_LR if chosen is None else chosen[0]


# Fitted by scripts/fit_plan.py to benchmarks/plan/grid.jsonl.
RULES = {"char": Rule(beta=0.05, curves={"1x128": {0.003: (-4.9319, 14.1267, 3),
                                                   0.012: (-3.6032, 10.9862, 2)},
                                         "1x256": {0.003: (-5.0419, 13.9864, 3),
                                                   0.012: (-4.6920, 12.8514, 1)},
                                         "2x256": {0.003: (-8.3459, 20.5993, 0.5),
                                                   0.012: (-5.9668, 15.6478, 0.5)},
                                         "2x384": {0.003: (-9.3654, 22.2293, 0.5),
                                                   0.012: (-5.6494, 14.5458, 0.5)},
                                         "2x512": {0.003: (-7.5167, 18.4622, 1),
                                                   0.006: (-6.9795, 17.1519, 0.5),
                                                   0.012: (-5.0571, 13.3078, 0.5)}},
                      reach={"1x128": {0.003: 6.12, 0.012: 6.12},
                             "1x256": {0.003: 6.12, 0.012: 6.12},
                             "2x256": {0.003: 2.04, 0.012: 2.04},
                             "2x384": {0.003: 2.04, 0.012: 3.33},
                             "2x512": {0.003: 8.16, 0.006: 8.16, 0.012: 2.04}}),
         "word": Rule(beta=0.625, curves={"1x256": {0.003: (6.2028, 1431.2113, 50),
                                                    0.012: (4.8286, 3947.4555, 0.5)},
                                          "2x256": {0.003: (5.3229, 3319.3370, 0.5)},
                                          "2x512": {0.003: (4.4399, 4926.2374, 0.5),
                                                    0.006: (4.2416, 5191.6563, 0.5),
                                                    0.012: (4.8821, 3550.3391, 0.5)}},
                      reach={"1x256": {0.003: 12.51, 0.012: 12.51},
                             "2x256": {0.003: 4.17},
                             "2x512": {0.003: 12.51, 0.006: 4.17, 0.012: 4.17}})}


BETAS = tuple(round(0.05 + 0.025 * i, 3) for i in range(39))  # 0.05 .. 1.0
REPEATS = (0.5, 1.0, 2.0, 3.0, 5.0, 8.0, 13.0, 20.0, 50.0)


def effective_tokens(tokens: float, unique: float, R: float) -> float:
    """Tokens read, counted as new ones: each epoch after the first worth less than the last, the
    repeats together at most R epochs' worth."""
    if tokens <= unique:
        return tokens
    return unique * (1 + R * (1 - math.exp(-(tokens / unique - 1) / R)))


def shape_name(layers: int, hidden: int) -> str:
    """A shape as the rule's tables name it: "2x512"."""
    return f"{layers}x{hidden}"


def fitted_to(record: dict, level: str) -> bool:
    """Whether a grid run is one the ``level``'s curves are fitted to."""
    corpus, dropout = FITTED_TO[level]
    return record.get("level", "char") == level and record["corpus"] == corpus and record["dropout"] == dropout


def lr_of(record: dict) -> float:
    """The peak learning rate of a grid run (a run without one had the default)."""
    return record.get("lr") or DEFAULT_LR


def recurrent_params(layers: int, hidden: int, vocab_size: int, embed: int = 0) -> int:
    """The parameters a token's step multiplies through: the LSTM's layers and the output layer
    (the input embedding is a lookup, and costs no time)."""
    embed = embed or hidden
    lstm = sum(4 * hidden * ((embed if layer == 0 else hidden) + hidden) + 8 * hidden for layer in range(layers))
    return lstm + hidden * vocab_size + vocab_size


def fit(records: Iterable[dict], level: str = "char") -> Rule:
    """The curves that fit the ``level``'s runs (``FITTED_TO``) best, least squares on the loss: for
    each beta on a grid, the E, B and R of each shape at each rate (E and B by a linear fit of its
    runs there for each R on a grid); the beta of the least total error, every curve falling
    (B > 0). Only a shape and rate with runs at two token counts or more get a curve; each reaches
    as many passes over the text as its longest run."""
    runs: dict[tuple[str, float], list[tuple[float, float, float]]] = {}
    for r in records:
        if fitted_to(r, level):
            runs.setdefault((shape_name(r["layers"], r["hidden"]), lr_of(r)), []).append(
                (r["tokens"], r["train_tokens"], r["val_loss"]))
    curved = {key: runs[key] for key in sorted(runs) if len({t for t, _, _ in runs[key]}) >= 2}
    if not curved:
        raise ValueError(f"no shape has {level} runs at two token counts on {FITTED_TO[level][0]}")
    reach: dict[str, dict[float, float]] = {}
    for (name, lr), done in curved.items():
        reach.setdefault(name, {})[lr] = round(max(t / u for t, u, _ in done), 2)
    best: tuple[float, Rule] | None = None
    for beta in BETAS:
        rule, error = Rule(beta, reach=reach), 0.0
        for (name, lr), done in curved.items():
            curve_error, curve = _fit_curve(done, beta)
            rule.curves.setdefault(name, {})[lr] = curve
            error += curve_error
        if best is None or error < best[0] - 1e-12:
            best = (error, rule)
    if not math.isfinite(best[0]):
        raise ValueError("no curves that fall with more tokens fit these runs")
    return best[1]


def _fit_curve(runs: list[tuple[float, float, float]], beta: float) -> tuple[float, tuple[float, float, float]]:
    """The squared error and (E, B, R) of the curve that fits ``runs`` (tokens, text tokens, loss)
    best for ``beta``: the first R of ``REPEATS`` of the least error, its error infinite if no R
    gives a falling curve."""
    best: tuple[float, tuple[float, float, float]] = (math.inf, (math.nan, math.nan, REPEATS[0]))
    y = np.array([loss for _, _, loss in runs])
    for R in REPEATS:
        x = np.array([effective_tokens(t, u, R) ** -beta for t, u, _ in runs])
        design = np.column_stack([np.ones_like(x), x])
        (E, B), *_ = np.linalg.lstsq(design, y, rcond=None)
        error = float(np.sum((design @ np.array([E, B]) - y) ** 2)) if B > 0 else math.inf
        if error < best[0] - 1e-12:
            best = (error, (float(E), float(B), R))
    return best
