"""The processes a run trains on: one, or several started by ``torchrun`` (data parallelism with
PyTorch's DistributedDataParallel).

``World.current()`` reads what torchrun sets for each process (RANK, LOCAL_RANK, WORLD_SIZE),
takes this process's device from LOCAL_RANK and joins the process group: NCCL on CUDA, gloo on
CPUs. Without torchrun it is a world of one, and every collective below does nothing.

Rank 0 alone evaluates, writes files and speaks; every decision to stop is shared, so that all
ranks stop at the same step and none waits in a collective for a rank that has left. A rank that
dies makes the others' next collective fail (gloo at once, NCCL within ``COLLECTIVE_TIMEOUT``):
they end with ``PeerLost``.
"""

from __future__ import annotations

import contextlib
import math
import os
from dataclasses import dataclass, field
from datetime import timedelta

import torch

from ..hardware.device import choose_device, resolve_precision
from ..errors import SeqgenError, UsageError, first_line
from .process_env import PeerLost, under_torchrun

BACKENDS = ("auto", "gloo", "nccl")
# How long a rank waits in a collective for the others: longer than rank 0 takes to evaluate and
# save while the others wait, short enough that a rank stuck for good does not hold the rest forever.
COLLECTIVE_TIMEOUT = timedelta(minutes=10)
# Why a run stops, as numbers for a collective; the larger wins when ranks differ (a signal to any
# rank stops them all).
REASONS = ("", "epochs", "max-steps", "time-budget", "early-stop", "interrupted", "terminated")


@dataclass
class World:
    rank: int = 0
    size: int = 1
    local_rank: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    backend: str = ""

    @property
    def is_main(self) -> bool:
        """Rank 0: the only one that evaluates, writes files and speaks."""
        return self.rank == 0

    @classmethod
    def single(cls, device: str = "auto") -> "World":
        return cls(device=choose_device(device))

    @classmethod
    def current(cls, device: str = "auto", backend: str = "auto") -> "World":
        """This process's world: torchrun's process group, or a world of one."""
        if backend not in BACKENDS:
            raise UsageError(f"--backend must be one of {', '.join(BACKENDS)} (got {backend!r})")
        if not under_torchrun():
            if backend != "auto":
                raise UsageError("--backend is for runs of several processes: add --nproc N or start with torchrun")
            return cls.single(device)
        import torch.distributed as dist

        rank, size, local = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"]), int(os.environ["LOCAL_RANK"])
        chosen = choose_device(device)
        if chosen.type == "cuda":
            if local >= torch.cuda.device_count():
                raise UsageError(f"process {local} of this machine has no GPU of its own ({torch.cuda.device_count()} "
                                 "here): start at most one process per GPU")
            chosen = torch.device("cuda", local)
            torch.cuda.set_device(chosen)
        backend = backend if backend != "auto" else ("nccl" if chosen.type == "cuda" else "gloo")
        if backend == "nccl" and chosen.type != "cuda":
            raise UsageError("--backend nccl needs CUDA GPUs; use gloo on CPUs")
        if not dist.is_initialized():
            dist.init_process_group(backend, timeout=COLLECTIVE_TIMEOUT)
        return cls(rank, size, local, chosen, backend)

    def precision(self, name: str) -> str:
        return resolve_precision(name, self.device)

    def close(self) -> None:
        """Leave the process group. The run's DistributedDataParallel model goes first: gloo's
        threads still holding work at exit abort the process."""
        if self.size > 1:
            import gc

            import torch.distributed as dist

            gc.collect()
            if dist.is_initialized():
                dist.destroy_process_group()

    # -- what every rank does together -----------------------------------------------------------------
    def wrap(self, model: torch.nn.Module) -> torch.nn.Module:
        """The model as the training step calls it: DistributedDataParallel with several ranks,
        which averages the gradients of all ranks in ``backward``."""
        if self.size == 1:
            return model
        from torch.nn.parallel import DistributedDataParallel

        ids = [self.device.index] if self.device.type == "cuda" else None
        return DistributedDataParallel(model, device_ids=ids)

    @contextlib.contextmanager
    def main_first(self):
        """Rank 0 runs the block first (reading and caching the data, where input errors show),
        then the others, who then find it cached."""
        if self.size > 1 and not self.is_main:
            self._collective(lambda dist: dist.barrier())
        yield
        if self.size > 1 and self.is_main:
            self._collective(lambda dist: dist.barrier())

    def barrier(self) -> None:
        """Wait until every rank is here."""
        if self.size > 1:
            self._collective(lambda dist: dist.barrier())

    def share(self, value):
        """Rank 0's ``value`` (any picklable value), on every rank."""
        if self.size == 1:
            return value
        box = [value if self.is_main else None]
        self._collective(lambda dist: dist.broadcast_object_list(box, src=0))
        return box[0]

    def agree(self, reason: str, mine_only: str = "") -> str:
        """Why to stop ("" to go on), the same on every rank: rank 0's ``reason`` (limits, early
        stopping), or ``mine_only`` ("interrupted", "terminated": a signal) from any rank."""
        if self.size == 1:
            return mine_only or reason
        code = REASONS.index(mine_only) if mine_only else REASONS.index(reason) if self.is_main else 0
        flag = torch.tensor([code], dtype=torch.int64, device=self._comm_device)
        self._collective(lambda dist: dist.all_reduce(flag, op=dist.ReduceOp.MAX))
        return REASONS[int(flag.item())]

    def all_finite(self, value: float) -> bool:
        """Whether ``value`` is finite on every rank (a step is skipped everywhere or nowhere)."""
        finite = math.isfinite(value)
        if self.size == 1:
            return finite
        flag = torch.tensor([1.0 if finite else 0.0], device=self._comm_device)
        self._collective(lambda dist: dist.all_reduce(flag, op=dist.ReduceOp.MIN))
        return bool(flag.item() > 0)

    def mean(self, value: float) -> float:
        """The mean of ``value`` over the ranks."""
        if self.size == 1:
            return value
        total = torch.tensor([value], dtype=torch.float64, device=self._comm_device)
        self._collective(lambda dist: dist.all_reduce(total))
        return float(total.item()) / self.size

    def gather_state(self, hidden):
        """Every rank's recurrent state, rows in rank order (the global batch), on every rank."""
        if self.size == 1 or hidden is None:
            return hidden
        if isinstance(hidden, tuple):
            return tuple(self.gather_state(h) for h in hidden)
        parts = [torch.empty_like(hidden) for _ in range(self.size)]
        self._collective(lambda dist: dist.all_gather(parts, hidden.contiguous()))
        return torch.cat(parts, dim=1)  # (L, B * world, H)

    def scatter_state(self, hidden, batch_size: int):
        """This rank's rows of a saved state (the global batch's), on this rank's device."""
        if hidden is None:
            return None
        if isinstance(hidden, (tuple, list)):
            return tuple(self.scatter_state(h, batch_size) for h in hidden)
        return hidden[:, self.rank * batch_size:(self.rank + 1) * batch_size].contiguous().to(self.device)

    @property
    def _comm_device(self) -> torch.device:
        return self.device if self.backend == "nccl" else torch.device("cpu")

    def _collective(self, op) -> None:
        import torch.distributed as dist

        with self.peers_watched():
            op(dist)

    @contextlib.contextmanager
    def peers_watched(self):
        """Turn a failure of communication because another process of the run is gone (a collective
        here, or DistributedDataParallel's gradient all-reduce) into PeerLost."""
        try:
            yield
        except (RuntimeError, ConnectionError) as exc:
            if self.size == 1 or not peer_failure(exc):
                raise
            raise PeerLost(f"another process of this run stopped ({first_line(exc, 120)})") from None


def peer_failure(exc: BaseException) -> bool:
    """Whether ``exc`` says that another rank has gone (its connection closed, a collective
    timed out), not that this one failed."""
    import torch.distributed as dist

    text = str(exc).lower()
    return isinstance(exc, (dist.DistError, ConnectionError)) or any(
        sign in text for sign in ("connection reset", "connection closed", "broken pipe", "timed out", "gloo", "nccl"))


