"""``--time-budget``'s plan: the recurrent model this machine can train best in the time, on this text.

A bigger model learns more from each token but reads fewer tokens in the time; past the text's
size, each further pass teaches less. So the plan measures how fast this machine trains each
candidate shape (``plan_probe``), counts the tokens the budget buys each, and picks the shape whose
held-out loss the measured learning curves (``plan_rule``) expect to be lowest, and trains it at
the learning rate whose curve is best for that many tokens. Where a longer run of that shape at
that rate was measured to lose to a shorter one, it trains no more passes over the text than the
shorter one: the budget's rest is left unspent, since a schedule that ends there gives the
measured best and a longer one a worse model. Character and word models have curves of their own.
A character run that reads the text twice or less has little to overfit, and dropout would only
slow its learning: its dropout is then 0.

It plans only what the user left open: with ``--hidden`` or ``--layers`` given there is no plan,
and a given ``--dropout`` or ``--lr`` is kept. Batch and window stay the defaults: on a CPU a step's
tokens per second hardly change with the batch's size, so a bigger batch would only mean fewer
steps.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace

from .plan_rule import RULES, recurrent_params, shape_name

# (layers, hidden) the plan chooses among for each level, from the smallest to the biggest: those
# the level's rule has measured learning curves for
SHAPES = {level: tuple(sorted((tuple(map(int, name.split("x"))) for name in rule.curves),
                              key=lambda shape: recurrent_params(*shape, 100)))
          for level, rule in RULES.items()}
# A timed run's tokens per second over its whole time, against the probe's bare step: the rest goes
# to batches, evaluations, checkpoints and reporting (training/timing.py measures each).
LEARN_SHARE = 0.85
MIN_TRAINING_SHARE = 0.1  # of a budget the probe overran: training still gets this much
# A run ends early, at its curve's peak, only where the budget buys more than this many times the
# peak's tokens: closer, the difference is within what one seed's runs can tell.
PAST_PEAK = 1.1


@dataclass(frozen=True)
class Bounds:
    """Where a level's curves stop saying anything, and what its short runs do without."""

    # Past this many parameters (``recurrent_params``) per training token a model only memorises:
    # the curves know nothing of texts much smaller than their grid's.
    max_params_per_token: float
    # Runs of at most this many passes over the text train without dropout (0: none do).
    epochs_without_dropout: float


BOUNDS = {
    # The curves were measured on a text of a million characters; O'Neill's 430 k tokens still gain
    # from a 2x512 model's 4.2 M parameters over 14 epochs. In the grid, a 1x256 LSTM's held-out
    # loss after 0.5 and 2 epochs was 0.013 nats lower without dropout than with 0.2.
    "char": Bounds(max_params_per_token=10.0, epochs_without_dropout=2.0),
    # A word model's parameters include its output layer, hidden x vocabulary: 7.0 M of 2x512's
    # 11.3 M on the grid's text (197 k training words, 13.7 k distinct), 57 per token. The bound
    # admits every measured shape on texts down to a quarter of that size. Dropout 0 was not
    # measured for words: they keep their 0.5.
    "word": Bounds(max_params_per_token=240.0, epochs_without_dropout=0.0),
}


@dataclass(frozen=True)
class Plan:
    """The shape chosen and what the budget buys it on this machine."""

    layers: int
    hidden: int
    dropout: float | None  # None: the level's default (or the user's --dropout) stays
    lr: float | None  # None: the user's --lr stays
    params: int
    tokens_per_s: float  # measured training speed of this shape here (all processes together)
    tokens: int  # tokens the budget is expected to train
    epochs: float
    budget_s: float  # seconds for training, the probe's taken off
    probe_s: float  # seconds spent measuring speeds this time (0 when all were cached)
    device: str
    cell: str = "lstm"
    unspent_s: float = 0.0  # seconds of the budget not trained for: past the shape's best run

    def describe(self) -> str:
        chosen = "" if self.dropout is None else f", dropout {self.dropout:g}"
        chosen += "" if self.lr is None else f", lr {self.lr:g}"
        probe = f"; speeds measured in {self.probe_s:.1f} s" if self.probe_s else "; speeds from the cache"
        shape = f"{self.layers}x{self.hidden} {self.cell.upper()}"
        early = "" if not self.unspent_s else (
            f"; it stops there, {_duration(self.unspent_s)} early: in the runs behind the plan, more passes "
            "over the text did not help")
        return (f"plan: {shape} ({self.params / 1e6:.1f} M parameters{chosen}), "
                f"~{self.tokens / 1e6:.1f} M tokens, ~{self.epochs:.1f} epochs in {_duration(self.budget_s)} on "
                f"this machine ({self.device}, {self.tokens_per_s:,.0f} tokens/s{probe}){early}")

    def to_dict(self) -> dict:
        return asdict(self)

    def apply(self, model_cfg, cfg):
        """The configurations with the plan's shape, dropout, learning rate and training time."""
        dropout = {} if self.dropout is None else {"dropout": self.dropout}
        lr = {} if self.lr is None else {"lr": self.lr}
        return (replace(model_cfg, layers=self.layers, hidden=self.hidden, **dropout),
                replace(cfg, time_budget=self.budget_s, **lr))


def choose(speeds: dict[tuple[int, int], float], budget_s: float, train_tokens: int, vocab_size: int,
           device: str, probe_s: float = 0.0, given: frozenset[str] = frozenset(), cell: str = "lstm",
           level: str = "char") -> Plan:
    """The plan for measured ``speeds`` (tokens/s of each shape) of a ``level`` model: the
    expected-best shape, the smallest when two tie. Deterministic: the same speeds give the same
    plan. ``given``: the options the user set, which the plan leaves alone (``dropout``, ``lr``)."""
    seconds = max(budget_s - probe_s, MIN_TRAINING_SHARE * budget_s)
    options = []
    for layers, hidden in sorted(speeds, key=lambda s: recurrent_params(*s, vocab_size)):
        params = recurrent_params(layers, hidden, vocab_size)
        tokens, expected = _outlook(level, layers, hidden, speeds[(layers, hidden)], seconds, train_tokens)
        if expected is not None and (_fits(level, params, train_tokens) or not options):  # the smallest is always one
            options.append((expected, layers, hidden, params, tokens))
    _, layers, hidden, params, tokens = min(options, key=lambda o: o[0])
    lr = None if "lr" in given else RULES[level].lr(layers, hidden, tokens, train_tokens)
    worth = tokens if lr is None else RULES[level].worth(shape_name(layers, hidden), lr, tokens, train_tokens)
    worth = tokens if worth * PAST_PEAK > tokens else worth
    unspent = seconds * (1 - worth / tokens) if tokens else 0.0
    epochs = worth / max(train_tokens, 1)
    dropout = None if "dropout" in given or epochs > BOUNDS[level].epochs_without_dropout else 0.0
    return Plan(layers, hidden, dropout, lr, params, speeds[(layers, hidden)], int(worth), epochs, seconds - unspent,
                probe_s, device, cell, unspent)


def make_plan(budget_s: float, train_tokens: int, vocab_size: int, device, precision: str, batch: tuple[int, int],
              build_shape: Callable, processes: int = 1, given: frozenset[str] = frozenset(),
              cell: str = "lstm", level: str = "char") -> Plan:
    """Measure (or recall) this machine's speed for the shapes worth measuring, then ``choose``.

    Shapes are measured from the smallest up, and no further once the expected loss has got worse
    twice in a row (a bigger model is slower still) or the model outgrows the text: a short budget
    then measures only small, quick shapes. A shape that could not win even at the speed of the
    biggest one measured so far (a bigger model is no faster) counts as worse without being
    measured: a big shape's probe takes many of its slow steps from the budget."""
    from .plan_probe import speed

    speeds: dict[tuple[int, int], float] = {}
    spent, best, worse = 0.0, math.inf, 0
    for layers, hidden in SHAPES[level]:
        if speeds and not _fits(level, recurrent_params(layers, hidden, vocab_size), train_tokens):
            break
        if speeds and _outlook(level, layers, hidden, min(speeds.values()), budget_s, train_tokens)[1] >= best:
            worse += 1
            if worse == 2:
                break
            continue
        tokens_per_s, seconds = speed(layers, hidden, build_shape, device, precision, vocab_size, batch)
        speeds[(layers, hidden)] = tokens_per_s * processes
        spent += seconds
        _, expected = _outlook(level, layers, hidden, speeds[(layers, hidden)], budget_s, train_tokens)
        worse = 0 if expected < best else worse + 1
        best = min(best, expected)
        if worse == 2:
            break
    return choose(speeds, budget_s, train_tokens, vocab_size, f"{device.type} {precision}", spent, given, cell,
                  level)


def _outlook(level: str, layers: int, hidden: int, tokens_per_s: float, seconds: float, train_tokens: int):
    """The tokens a shape reads in ``seconds`` of a timed run here, and the held-out loss the
    level's rule expects of it then (None for a shape never measured)."""
    tokens = tokens_per_s * seconds * LEARN_SHARE
    return tokens, RULES[level].loss(layers, hidden, tokens, train_tokens)


def _fits(level: str, params: int, train_tokens: int) -> bool:
    """Whether a model of ``params`` is a candidate for a text of ``train_tokens`` at all."""
    return params <= BOUNDS[level].max_params_per_token * train_tokens


def plan_for(cls, model_cfg, cfg, train_tokens: int, vocab_size: int, world, given: frozenset[str]) -> Plan:
    """The plan for a run of model type ``cls``: rank 0 measures this machine and plans, and every
    rank follows its plan. ``given``: the options the user set (a given --dropout or --lr stays)."""
    from ..hardware.device import resolve_precision

    def build(layers: int, hidden: int):
        return cls.build(replace(model_cfg, layers=layers, hidden=hidden), vocab_size)

    if not world.is_main:
        return world.share(None)
    precision = resolve_precision(cfg.precision, world.device)
    return world.share(make_plan(cfg.time_budget, train_tokens, vocab_size, world.device, precision,
                                 (cfg.batch_size, cfg.seq_len), build, world.size, given, model_cfg.cell,
                                 cfg.level))


def _duration(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 60:.1f} min" if seconds >= 60 else f"{seconds:.0f} s"
