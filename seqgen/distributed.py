"""The processes a run trains on: one, or several started by ``torchrun`` (data parallelism).

``World.current()`` reads what torchrun sets (RANK, LOCAL_RANK, WORLD_SIZE) and joins the process
group; without torchrun it is a world of one, and every collective below is a no-op.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch

from .device import choose_device, resolve_precision


@dataclass
class World:
    rank: int = 0
    size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        """Rank 0: the only one that evaluates, writes files and speaks."""
        return self.rank == 0

    @classmethod
    def single(cls, device: str = "auto") -> "World":
        return cls(device=choose_device(device))

    def precision(self, name: str) -> str:
        return resolve_precision(name, self.device)

    def wrap(self, model: torch.nn.Module) -> torch.nn.Module:
        """The model as the training step calls it (DistributedDataParallel with several ranks)."""
        return model

    # -- collectives (no-ops in a world of one) ------------------------------------------------------
    def agree(self, reason: str) -> str:
        """Rank 0's ``reason`` to stop ("" to go on), the same on every rank."""
        return reason

    def all_finite(self, value: float) -> bool:
        """Whether ``value`` is finite on every rank (a step is skipped everywhere or nowhere)."""
        return value == value and abs(value) != float("inf")

    def gather_state(self, hidden):
        """Every rank's recurrent state, rows in rank order, on rank 0 (None elsewhere)."""
        return hidden

    def scatter_state(self, hidden, saved_world: dict | None, batch_size: int, cell: str):
        """This rank's rows of a saved state, on this rank's device; None when they cannot be
        mapped (another global batch)."""
        if hidden is None:
            return None
        if isinstance(hidden, (tuple, list)):
            hidden = tuple(h.to(self.device) for h in hidden)
            return hidden[0] if cell != "lstm" else hidden
        return hidden.to(self.device)


def is_main_process() -> bool:
    """Only rank 0 logs and saves (RANK is set by torchrun for each process it starts)."""
    return int(os.environ.get("RANK", "0")) == 0
