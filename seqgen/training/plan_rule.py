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

A curve is not followed past its best run, the passes over the text after which its shape at its
rate was measured best (``reach``): there the plan expects no further gain. Nor, on a text bigger
than the grid's, past as many tokens as that run read: further, a curve fitted over a few passes is
a guess, and the fitted asymptotes differ more than the runs did (followed to a billion tokens, the
curves ranked 2x384 above 2x512 and 2x768, which learnt more from every token in the grid). Where a
longer run was measured and lost (``peaked``), the plan trains no longer than the best run
(``plan.choose``). At a high rate a two-layer model stops gaining after two to four passes and then
loses (in the grid 2x384 at 1.2e-2 was worse after 3.3 passes than after 2, 2x512 at 6e-3 worse
after 8 than after 4), which a falling curve cannot follow; a one-layer character model went on
gaining to six. On the grid's word text, at dropout 0.5, 2x512 at every rate and 1x256 at 1.2e-2
were worse after 12.5 passes than after 4.2.

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
    # "2x512": {0.006: 4.08}: at each of them, the passes over the text of its best run
    reach: dict[str, dict[float, float]] = field(default_factory=dict)
    # "2x512": {0.006}: the rates of those whose best run is not their longest: a longer run lost
    peaked: dict[str, set[float]] = field(default_factory=dict)
    text_tokens: float = math.inf  # the training tokens of the text the curves were measured on

    def curve_loss(self, name: str, lr: float, tokens: float, unique: float) -> float:
        """The held-out loss on the curve of shape ``name`` at peak rate ``lr``, after ``tokens`` of
        a text of ``unique``; flat past its best run's passes, and past as many tokens as its best
        run read: on a text bigger than the grid's, a curve followed further would be a guess (the
        curves' asymptotes, fitted over a few passes, are no guide to it)."""
        E, B, R = self.curves[name][lr]
        reach = self.reach.get(name, {}).get(lr, math.inf)
        tokens = min(tokens, reach * unique, reach * self.text_tokens)
        return E + B / max(effective_tokens(tokens, unique, R), 1.0) ** self.beta

    def worth(self, name: str, lr: float, tokens: float, unique: float) -> float:
        """Of ``tokens`` of a text of ``unique``, those worth training shape ``name`` for at ``lr``:
        no more than its best run read where a longer one lost (all of them elsewhere)."""
        return min(tokens, self.reach[name][lr] * unique) if lr in self.peaked.get(name, ()) else tokens

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
RULES = {"char": Rule(beta=0.15, curves={"1x128": {0.003: (-0.0892, 17.7841, 5),
                                                   0.012: (0.0380, 14.7534, 2)},
                                         "1x256": {0.003: (-0.4278, 18.9437, 3),
                                                   0.012: (-0.3961, 16.9874, 1)},
                                         "2x256": {0.003: (-1.4147, 26.9011, 0.5),
                                                   0.012: (-0.7017, 20.4349, 0.5)},
                                         "2x384": {0.003: (-1.8858, 29.0298, 0.5),
                                                   0.012: (-0.8209, 19.4706, 0.5)},
                                         "2x512": {0.003: (-1.3496, 24.4363, 1),
                                                   0.006: (-0.7447, 19.0572, 1),
                                                   0.012: (-0.5794, 17.3790, 0.5)},
                                         "2x768": {0.006: (-0.8276, 19.0282, 0.5)}},
                      reach={"1x128": {0.003: 6.12, 0.012: 6.12},
                             "1x256": {0.003: 6.12, 0.012: 6.12},
                             "2x256": {0.003: 2.04, 0.012: 2.04},
                             "2x384": {0.003: 2.04, 0.012: 2.04},
                             "2x512": {0.003: 8.16, 0.006: 4.08, 0.012: 2.04},
                             "2x768": {0.006: 2.04}},
                      peaked={"2x384": {0.012}, "2x512": {0.006}}, text_tokens=1_003_856),
         "word": Rule(beta=0.575, curves={"1x256": {0.003: (6.1539, 831.5572, 20),
                                                    0.012: (4.2482, 2798.5710, 0.5)},
                                          "2x256": {0.003: (5.1996, 1940.4915, 0.5)},
                                          "2x512": {0.003: (4.1724, 2975.5255, 0.5),
                                                    0.006: (4.0488, 3035.0533, 0.5),
                                                    0.012: (4.7503, 2075.5358, 0.5)}},
                      reach={"1x256": {0.003: 12.51, 0.012: 4.17},
                             "2x256": {0.003: 4.17},
                             "2x512": {0.003: 4.17, 0.006: 4.17, 0.012: 4.17}},
                      peaked={"1x256": {0.012}, "2x512": {0.003, 0.006, 0.012}}, text_tokens=196_524)}


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
    (B > 0). A curve is fitted to a shape's runs at a rate up to its best one (of the lowest loss),
    and reaches as many passes over the text as it (``reach``); where a longer run lost, the plan
    trains no longer than it (``peaked``). Only a shape and rate with two such runs at different
    token counts get a curve."""
    runs: dict[tuple[str, float], list[tuple[float, float, float]]] = {}
    for r in records:
        if fitted_to(r, level):
            runs.setdefault((shape_name(r["layers"], r["hidden"]), lr_of(r)), []).append(
                (r["tokens"], r["train_tokens"], r["val_loss"]))
    curved, reach, peaked = {}, {}, {}
    text_tokens = max((text for done in runs.values() for _, text, _ in done), default=math.inf)
    for name, lr in sorted(runs):
        tokens, text, _ = min(runs[name, lr], key=lambda run: run[2])
        upto = [run for run in runs[name, lr] if run[0] <= tokens]
        if len({t for t, _, _ in upto}) >= 2:
            curved[name, lr] = upto
            reach.setdefault(name, {})[lr] = round(tokens / text, 2)
            if len(upto) < len(runs[name, lr]):
                peaked.setdefault(name, set()).add(lr)
    if not curved:
        raise ValueError(f"no shape has {level} runs at two token counts on {FITTED_TO[level][0]}, "
                         "the longer no worse")
    best: tuple[float, Rule] | None = None
    for beta in BETAS:
        rule, error = Rule(beta, reach=reach, peaked=peaked, text_tokens=text_tokens), 0.0
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
