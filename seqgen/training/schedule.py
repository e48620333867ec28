"""When to go on and how fast: the learning-rate schedule and the stop policy of a training run.

The learning rate warms up linearly over ``--warmup-steps``, then decays along a cosine to a tenth
of ``--lr`` over whichever limit binds first (``--epochs``, ``--max-steps``, ``--time-budget``).
Training stops at that limit, on a signal, or early when validation loss has not improved for
``--patience`` evaluations. With neither a step nor a time limit the cosine spans ``--epochs``,
which early stopping usually cuts short while the rate is still high, so the rate is also halved
halfway to early stopping ("reduce on plateau").
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..config import TrainConfig


@dataclass
class Progress:
    """Where a run is; saved in every checkpoint."""

    step: int = 0
    epoch: int = 0
    batch_index: int = 0
    elapsed: float = 0.0  # seconds of training, over all sessions of the run
    tokens_seen: int = 0
    best_val_loss: float = math.inf
    bad_evals: int = 0  # evaluations since the last improvement
    lr_scale: float = 1.0  # halved when a step's loss is not finite, or validation loss plateaus
    eval_size: int = 0  # held-out tokens each evaluation of a timed run reads (0: not decided yet)
    eval_every: int = 0  # steps between a timed run's evaluations, set at its first (0: not yet)


def progress_from(record) -> Progress:
    """The progress a checkpoint records, checked; ValueError saying what is wrong. An empty record
    would restart the step count on trained weights, and a NaN best loss would never be beaten
    (early stopping, with no best.pt). Keys a newer seqgen added are left aside."""
    if not isinstance(record, dict) or "step" not in record:
        raise ValueError("its progress record is missing or empty (no step)")
    p = Progress(**{k: v for k, v in record.items() if k in Progress.__dataclass_fields__})
    for name in ("step", "epoch", "batch_index", "tokens_seen", "bad_evals", "eval_size", "eval_every"):
        value = getattr(p, name)
        if type(value) is not int or value < 0:
            raise ValueError(f"its progress has {name} {value!r}, not a whole number from 0")
    numbers = {"elapsed": p.elapsed, "best_val_loss": p.best_val_loss, "lr_scale": p.lr_scale}
    for name, value in numbers.items():
        if type(value) not in (int, float) or math.isnan(value) or value < 0 or (name != "best_val_loss" and
                                                                                  not math.isfinite(value)):
            raise ValueError(f"its progress has {name} {value!r}")  # best_val_loss inf: no evaluation yet
    if p.lr_scale == 0:
        raise ValueError("its progress has lr_scale 0")
    return p


def fraction_done(cfg: TrainConfig, p: Progress, batches_per_epoch: int, reserve: float = 0.0) -> float:
    """How far through the run, 0 to 1: the furthest along of its limits. ``reserve``: seconds of
    the time budget kept for the last evaluation, which come after the last step."""
    done = [(p.epoch + p.batch_index / batches_per_epoch) / cfg.epochs]
    if cfg.max_steps:
        done.append(p.step / cfg.max_steps)
    if cfg.time_budget:
        done.append(p.elapsed / max(cfg.time_budget - reserve, 1e-9))
    return min(1.0, max(done))


def lr_at(cfg: TrainConfig, p: Progress, batches_per_epoch: int, reserve: float = 0.0) -> float:
    """Linear warm-up, then cosine decay to a tenth of --lr (see the module docstring)."""
    warm = min(1.0, (p.step + 1) / cfg.warmup_steps) if cfg.warmup_steps else 1.0
    cosine = 0.5 * (1 + math.cos(math.pi * fraction_done(cfg, p, batches_per_epoch, reserve)))
    return cfg.lr * p.lr_scale * warm * (0.1 + 0.9 * cosine)


def limit_reached(cfg: TrainConfig, p: Progress, reserve: float = 0.0) -> str:
    """The limit the run has reached ("epochs", "max-steps", "time-budget"), or "".

    ``reserve``: seconds the last evaluation will take; a timed run's steps end that long before
    the budget, so that with its last evaluation the run ends on time (and the schedule with it).
    """
    if p.epoch >= cfg.epochs:
        return "epochs"
    if cfg.max_steps and p.step >= cfg.max_steps:
        return "max-steps"
    if cfg.time_budget and p.elapsed + reserve >= cfg.time_budget:
        return "time-budget"
    return ""


def after_evaluation(cfg: TrainConfig, p: Progress, val_loss: float) -> tuple[bool, str]:
    """Record an evaluation; return whether it improved, and "early-stop", "plateau" (the rate
    was just halved) or ""."""
    if math.isfinite(val_loss) and val_loss < p.best_val_loss:
        p.best_val_loss, p.bad_evals = val_loss, 0
        return True, ""
    p.bad_evals += 1
    if cfg.patience and p.bad_evals >= cfg.patience:
        return False, "early-stop"
    open_ended = not cfg.max_steps and not cfg.time_budget
    if open_ended and cfg.patience and p.bad_evals % max(1, cfg.patience // 2) == 0:
        p.lr_scale *= 0.5
        return False, "plateau"
    return False, ""
