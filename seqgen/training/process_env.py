"""What a training process learns from its environment: whether torchrun (or seqgen's launcher)
started it, and its rank. Free of torch, so that the command line reads it without loading torch
(help, --version and usage errors answer in a fraction of a second)."""

from __future__ import annotations

import os

from ..errors import SeqgenError

RUN_FILE = "SEQGEN_RUN_FILE"  # where rank 0 writes its run folder, for the launcher's last line
LAUNCHED = "SEQGEN_LAUNCHED"  # set in the processes this launcher starts: they leave failures to it


class PeerLost(SeqgenError):
    """Another process of the run stopped while this one waited for it."""


def under_torchrun() -> bool:
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ and "LOCAL_RANK" in os.environ


def rank_from_env() -> int:
    """This process's rank (0 when not started by torchrun)."""
    return int(os.environ.get("RANK", "0"))
