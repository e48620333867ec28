"""``seqgen train --nproc N``: the same run as ``torchrun --standalone --nproc_per_node N -m seqgen
train ...``, for people who do not know torchrun. PyTorch's own launcher (``torch.distributed.run``)
starts the processes; this module only chooses its settings and says in one line how it ended.

When a process of the run dies, the launcher stops the others; rank 0 has written the run folder's
name to a file the launcher gave it, so the one line can name the last good checkpoint.
"""

from __future__ import annotations

import logging
import os
import signal
import tempfile
from pathlib import Path

import torch

from ..atomic import write_bytes
from ..errors import SeqgenError, UsageError
from .process_env import LAUNCHED, RUN_FILE
from .runs import resume_command


class RankDied(SeqgenError):
    """A process of the run died (a signal, an out-of-memory kill)."""


def check_nproc(nproc: int, device: str) -> None:
    """Refuse a number of processes this machine cannot give each its own core or GPU."""
    if nproc < 1:
        raise UsageError(f"--nproc must be at least 1 (got {nproc})")
    gpus = torch.cuda.device_count() if device in ("auto", "cuda") else 0
    if gpus and nproc > gpus:
        raise UsageError(f"--nproc {nproc}: this machine has {gpus} GPU{'s' if gpus > 1 else ''}; "
                         "one process per GPU at most")
    cores = os.cpu_count() or 1
    if not gpus and nproc > cores:
        raise UsageError(f"--nproc {nproc}: this machine has {cores} CPU core{'s' if cores > 1 else ''}; more "
                         f"processes than cores would each wait for the others: use at most {cores}")


def launch(nproc: int, train_args: list[str], backend: str = "auto") -> int:
    """Run ``seqgen train train_args`` in ``nproc`` processes on this machine; return the exit code
    (0, or what the run's processes exited with). RankDied when one died."""
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import get_args_parser, run

    # Each process gets its share of the cores; torch's default (all of them, each) oversubscribes.
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // nproc)))
    for name in ("torch.distributed.elastic", "torch.distributed.run"):
        logging.getLogger(name).setLevel(logging.CRITICAL)  # this function says how it ended
    with tempfile.TemporaryDirectory() as tmp:
        run_file = Path(tmp) / "run"
        os.environ[RUN_FILE], os.environ[LAUNCHED] = str(run_file), "1"
        extra = ["--backend", backend] if backend != "auto" else []
        args = get_args_parser().parse_args(["--standalone", f"--nproc-per-node={nproc}", "--max-restarts=0",
                                             "--module", "seqgen", "train", *train_args, *extra])
        try:
            run(args)
            return 0
        except SignalException as exc:  # Ctrl-C or SIGTERM to this process: passed on to the ranks, who saved
            return 128 + int(exc.sigval)
        except ChildFailedError as exc:
            return _ended(exc, run_file, nproc)


def _ended(exc, run_file: Path, nproc: int) -> int:
    """The exit code for a run whose processes failed; RankDied for one killed by a signal."""
    failures = exc.failures
    # The launcher stops the ranks left with SIGTERM once one has failed: a rank ended by SIGTERM is
    # one it stopped (the ranks handle SIGTERM themselves while they train). Any other signal killed.
    killed = {r: f for r, f in failures.items() if f.exitcode < 0 and f.exitcode != -signal.SIGTERM}
    if not killed:  # a rank failed of its own, and rank 0 has said why: its exit code is the run's
        codes = [failures[r].exitcode for r in sorted(failures) if failures[r].exitcode > 0]
        return codes[0] if codes else 1
    rank = min(killed, key=lambda r: (killed[r].timestamp, r))
    failure = killed[rank]
    how = signal.Signals(-failure.exitcode).name if -failure.exitcode in signal.Signals._value2member_map_ \
        else f"signal {-failure.exitcode}"
    run_dir = os.fsdecode(run_file.read_bytes()).strip() if run_file.is_file() else ""
    last = Path(run_dir) / "last.pt" if run_dir else None
    where = f"last good checkpoint: {last}; continue with: {resume_command(last, nproc)}" \
        if last is not None and last.is_file() else "no checkpoint was saved"
    raise RankDied(f"rank {rank} died (killed by {how}); the others were stopped; {where}")


def announce_run_dir(run_dir: Path) -> None:
    """Rank 0 tells the launcher (if there is one) where the run is written."""
    target = os.environ.get(RUN_FILE)
    if not target:
        return
    try:
        # Whole or not at all: rank 0 may be killed while it writes, and the launcher then reads it.
        write_bytes(target, os.fsencode(run_dir))
    except OSError as exc:  # the launcher's own temporary folder, on a full disk
        raise SeqgenError(f"cannot write {target}: {exc.strerror or exc}; free some disk space") from None
