"""music21 work (about 0.05 s to parse a tune, more to write one) spread over the CPU's cores."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from typing import TypeVar

from ..errors import warn

T = TypeVar("T")
R = TypeVar("R")


def process_map(fn: Callable[[T], R], items: Sequence[T], min_items: int = 2, chunksize: int = 1,
                workers: int | None = None) -> Iterator[R]:
    """``fn`` over ``items``, results in order: in worker processes when there is more than one
    core and at least ``min_items`` items (starting workers costs about a second), else here.

    ``fn`` must be importable by name (a module-level function or a ``functools.partial`` of one).
    """
    done = 0
    workers = workers or min(os.cpu_count() or 1, 8)
    if workers > 1 and len(items) >= min_items:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor
        from concurrent.futures.process import BrokenProcessPool

        # spawn, not fork: the parent may hold torch's thread pools, which do not survive a fork.
        pool = None
        try:
            pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
            for result in pool.map(fn, items, chunksize=chunksize):
                done += 1
                yield result
        except (BrokenProcessPool, OSError) as exc:
            # No worker processes here (a sandbox, process limits), or one died: go on in this one.
            warn(f"worker processes failed ({type(exc).__name__}: {exc}); going on in one process, "
                 "which is slower")
        finally:
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)  # on Ctrl-C, do not finish the queue
    for item in items[done:]:
        yield fn(item)
