"""How fast this machine trains each shape the plan may choose: measured, then cached.

A shape's speed is tokens per second of the real training step (``step.Stepper``: forward,
backward, clipping, AdamW) on a batch of the run's size (``--batch-size`` x ``--seq-len``), once
it has settled (``hardware.timing.settled_seconds``): timed over a fixed three steps after two
warm-up ones, a 2x512 LSTM looked much slower than it trains, and the plan passed it over for a
smaller shape that then did worse. The batch must be the run's: clipping and the optimiser cost
the same per step whatever its length, so a shorter window would make big models look slower
than they train. Speeds are kept in ``$XDG_CACHE_HOME/seqgen/plan_speeds.json`` under the
machine's key (its CPU, caps and torch), the device, precision, threads, shape and batch, so a
second plan on the same machine probes nothing.
"""

from __future__ import annotations

import time

import torch

from ..cache import cache_path, load_entries, save_entries
from ..hardware import machine
from ..hardware.timing import settled_seconds, synchronizer
from .step import Stepper

SPEED_RULES = 3  # bump when the probe changes: cached speeds then no longer hold
WHAT, UNREADABLE = "plan's speed cache", "the shapes are timed again"


def shape_key(device: torch.device, precision: str, layers: int, hidden: int, vocab_size: int,
              batch: tuple[int, int]) -> str:
    """Where a shape's speed is kept in the cache: everything that changes it."""
    return (f"{machine.key()}|{device.type}|{precision}|threads={torch.get_num_threads()}|"
            f"{layers}x{hidden}|vocab={vocab_size}|batch={batch[0]}x{batch[1]}")


def time_step(build, device: torch.device, precision: str, vocab_size: int, batch: tuple[int, int]) -> float:
    """Tokens per second of a training step of the model ``build()`` makes, on ``batch`` (sequences,
    time steps)."""
    gen = torch.Generator().manual_seed(0)
    x = torch.randint(vocab_size, batch, generator=gen)
    y = torch.randint(vocab_size, batch, generator=gen)
    stepper = Stepper(build(), device, precision, lr=1e-4)
    return batch[0] * batch[1] / settled_seconds(lambda: stepper.step(x, y, None, 1e-4), synchronizer(device))


def speed(layers: int, hidden: int, build_shape, device: torch.device, precision: str, vocab_size: int,
          batch: tuple[int, int]) -> tuple[float, float]:
    """Tokens per second of the (layers, hidden) shape, and the seconds spent measuring it (0 when
    the cache had it). ``build_shape(layers, hidden)`` makes the model."""
    key = shape_key(device, precision, layers, hidden, vocab_size, batch)
    cached = _load().get(key)
    if isinstance(cached, (int, float)) and cached > 0:
        return float(cached), 0.0
    start = time.perf_counter()
    found = time_step(lambda: build_shape(layers, hidden), device, precision, vocab_size, batch)
    save_entries(cache_file(), "speeds", SPEED_RULES, {key: found}, WHAT, UNREADABLE,
                 "the shape will be timed again next time")
    return found, time.perf_counter() - start


def cache_file():
    return cache_path("plan_speeds.json")


def _load() -> dict[str, object]:
    return load_entries(cache_file(), "speeds", SPEED_RULES, WHAT, UNREADABLE)
