"""Timing that machine drift cannot tilt: things compared are timed in turns, and every figure
comes with its spread.

A busy or throttling machine changes speed over seconds. Timing A several times, then B, would
charge B (or A) with that change; timing A B C, A B C, ... charges them alike.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Spread:
    """Median, lowest and highest of repeated measurements of one rate."""

    median: float
    low: float
    high: float

    @classmethod
    def of(cls, values: Iterable[float]) -> "Spread":
        values = list(values)
        return cls(statistics.median(values), min(values), max(values))


def spread_figures(key: str, spread: Spread | None) -> dict[str, float | None]:
    """The JSON figures of one spread: ``key`` (its median), ``key_min`` and ``key_max``; None for
    each where nothing was timed."""
    return {key: spread and spread.median, f"{key}_min": spread and spread.low, f"{key}_max": spread and spread.high}


def rates(seconds: list[float], work: float) -> Spread:
    """``work`` per second for each timed run (tokens/s, chars/s, FLOP/s): its spread."""
    return Spread.of(work / s for s in seconds)


def synchronizer(device: torch.device) -> Callable[[], None]:
    """Wait for the device to finish queued work: GPUs return from a call before computing it,
    so a clock read without this would time the launch, not the work."""
    if device.type == "cuda":
        return torch.cuda.synchronize
    if device.type == "mps":
        return torch.mps.synchronize
    return lambda: None


def interleave(fns: dict[str, Callable[[], object]], repeats: int, warmup: int,
               sync: Callable[[], None] = lambda: None) -> dict[str, list[float]]:
    """Seconds of each timed call of each function, the functions taken round-robin.

    ``warmup`` untimed rounds first (kernels get built, allocators fill their pools), then
    ``repeats`` timed rounds, each calling every function once in the order given.
    """
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            sync()
            start = time.perf_counter()
            fn()
            sync()
            times[name].append(time.perf_counter() - start)
    return times
