"""Timing that machine drift cannot tilt: things compared are timed in turns, once their times
have settled, and every figure comes with its spread.

A busy or throttling machine changes speed over seconds. Timing A several times, then B, would
charge B (or A) with that change; timing A B C, A B C, ... charges them alike.

A call's time settles only after a few calls: oneDNN builds its kernels on the first, the
allocator fills its pools, and a big model can take several more (a 2x512 LSTM's training step on
a 2-core AVX-512 CPU did). A fixed number of warm-up calls then times a model slower than it
trains. So timing starts once ``SETTLE_RUN`` calls in a row are no faster, by ``SETTLED``, than
the best before them.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import torch

WARM_UP_CALLS = 2  # untimed calls before any settling is judged: the first ones build kernels
SETTLE_RUN = 3  # calls in a row no faster than the best so far: the time has settled
SETTLED = 0.05  # faster by less than this share is no faster
MAX_SETTLING = 12  # a time still falling after this many calls is taken as it is then


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


class Settling:
    """The times of one function's calls, until they have settled: ``SETTLE_RUN`` calls in a row
    no faster by ``SETTLED`` than the best before them, or ``MAX_SETTLING`` calls. The best counts
    (other work only ever slows a call)."""

    def __init__(self) -> None:
        self.best, self.unimproved, self.calls, self.done = math.inf, 0, 0, False

    def add(self, seconds: float) -> None:
        self.unimproved = 0 if seconds < self.best * (1 - SETTLED) else self.unimproved + 1
        self.best, self.calls = min(self.best, seconds), self.calls + 1
        self.done = self.done or self.unimproved >= SETTLE_RUN or self.calls >= MAX_SETTLING


def settled_seconds(call: Callable[[], object], sync: Callable[[], None] = lambda: None,
                    clock: Callable[[], float] = time.perf_counter) -> float:
    """Seconds of one call of ``call`` once its time has settled: the fastest of the calls made,
    after ``WARM_UP_CALLS`` untimed ones, until it settled (``Settling``)."""
    for _ in range(WARM_UP_CALLS):
        call()
    return _settle({"call": call}, _timer(sync, clock))["call"].best


def interleave(fns: dict[str, Callable[[], object]], repeats: int, warmup: int,
               sync: Callable[[], None] = lambda: None,
               clock: Callable[[], float] = time.perf_counter) -> dict[str, list[float]]:
    """Seconds of each timed call of each function, the functions taken round-robin.

    ``warmup`` untimed rounds first, then untimed rounds until every function's time has settled
    (``Settling``), then ``repeats`` timed rounds, each calling every function once in the order
    given.
    """
    timed = _timer(sync, clock)
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    _settle(fns, timed)
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            times[name].append(timed(fn))
    return times


Timer = Callable[[Callable[[], object]], float]  # seconds of one call of the function given


def _timer(sync: Callable[[], None], clock: Callable[[], float]) -> Timer:
    """Seconds of one call, the device waited for before and after."""

    def timed(fn: Callable[[], object]) -> float:
        sync()
        start = clock()
        fn()
        sync()
        return clock() - start

    return timed


def _settle(fns: dict[str, Callable[[], object]], timed: Timer) -> dict[str, Settling]:
    """Rounds of calls of every function, in turns, until each one's time has settled."""
    settling = {name: Settling() for name in fns}
    while not all(s.done for s in settling.values()):
        for name, fn in fns.items():
            settling[name].add(timed(fn))
    return settling
