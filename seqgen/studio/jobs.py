"""One generation at a time per model, and limits per request. The files of each batch of
tunes are kept by ``archive.Archive``."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from ..errors import Cancelled, SeqgenError, UsageError

# A page that stops a job and starts another at once can be heard before the server has seen the
# first one's connection close, or while that job lets go of its model (at its next step): a model
# that is taken is waited for a moment, and one whose job is stopping a while longer, before Busy.
LETTING_GO_SECONDS = 0.5
STOPPING_WAIT_SECONDS = 5.0


@dataclass(frozen=True)
class Limits:
    """What one request may ask for, and how long a page may stall."""

    max_length: int = 20_000  # tokens of one text sample
    max_tunes: int = 20  # tunes of one request
    max_fills: int = 5  # alternatives of one fill
    max_gaps: int = 8  # gaps of one fill: each is drawn for every alternative kept so far
    generations: int = 2  # generations running at once, over all models
    stall_seconds: float = 30.0  # a text stream whose page reads nothing for this long is ended

    def check(self, length: int | None, tunes: int | None) -> None:
        if length is not None and length > self.max_length:
            raise UsageError(f"length is at most {self.max_length:,} here (got {length:,}); "
                             "use seqgen sample for longer texts")
        if tunes is not None and tunes > self.max_tunes:
            raise UsageError(f"at most {self.max_tunes} tunes at a time here (got {tunes}); "
                             "use seqgen sample --tunes for more")

    def check_fills(self, n: int, gaps: int) -> None:
        if n > self.max_fills:
            raise UsageError(f"at most {self.max_fills} alternatives at a time here (got {n}); "
                             "use seqgen sample --fill for more")
        if gaps > self.max_gaps:
            raise UsageError(f"at most {self.max_gaps} gaps at a time here (got {gaps}); fill a few, then "
                             "the next ones, or use seqgen sample --fill")


class Busy(SeqgenError):
    """The model (or the server) is already generating (HTTP 429)."""


class Stop:
    """A flag that ends one piece of work, set by its owner or by any of ``parents`` (the
    server stopping). Setting it takes no lock, so a signal handler may set it."""

    def __init__(self, *parents: "Stop"):
        self._set = False
        self.parents = parents

    def set(self) -> None:
        self._set = True

    def is_set(self) -> bool:
        return self._set or any(p.is_set() for p in self.parents)


class Job:
    """One generation holding its model: ``stop`` ends it; calling the job lets the model go."""

    def __init__(self, stop: Stop, release: Callable[[], None]):
        self.stop, self._release = stop, release

    def __call__(self) -> None:
        self._release()


class Jobs:
    """Who is generating now: at most one generation per model, ``limits.generations`` in all.
    ``close`` (the server stopping) stops every job, running or to come."""

    def __init__(self, limits: Limits):
        self.limits = limits
        self.closing = Stop()
        self._running: dict[str, Stop] = {}  # model id -> the stop flag of the job holding it
        self._freed = threading.Condition()

    def close(self) -> None:
        """Stop every generation at its next token; safe to call from a signal handler."""
        self.closing.set()

    def acquire(self, model_id: str) -> Job:
        """Hold ``model_id`` for one generation: the ``Job``, which lets it go when called.
        Busy when the model (or the server) is taken by a job that is not stopping, Cancelled
        when the server is stopping."""
        self._check_open()
        with self._freed:
            self._freed.wait_for(lambda: not self._taken(model_id), LETTING_GO_SECONDS)
            self._freed.wait_for(lambda: not (self._taken(model_id) and self._stopping()), STOPPING_WAIT_SECONDS)
            self._check_open()
            if model_id in self._running:
                raise Busy(f"{model_id} is generating for another request; wait for it to finish or stop it")
            if len(self._running) >= self.limits.generations:
                raise Busy(f"{len(self._running)} generations are running; wait for one to finish")
            stop = self._running[model_id] = Stop(self.closing)

        def release() -> None:
            with self._freed:
                self._running.pop(model_id, None)
                self._freed.notify_all()
        return Job(stop, release)

    def _check_open(self) -> None:
        if self.closing.is_set():
            raise Cancelled("the server is stopping; start it again to generate")

    def _taken(self, model_id: str) -> bool:
        return model_id in self._running or len(self._running) >= self.limits.generations

    def _stopping(self) -> bool:
        return any(stop.is_set() for stop in self._running.values())
