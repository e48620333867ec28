"""What a checkpoint holds of a training session, and how a session takes it up again: weights,
optimizer, progress, random state (CPU and every GPU) and each rank's rows and their state.

A run saved with N processes resumes exactly with N (the same global batch cuts the text into
the same rows); with another number the place in the text is carried over as a share of the
epoch, and the rows' state starts afresh.
"""

from __future__ import annotations

import torch

from .errors import CheckpointError, first_line, warn
from .config import TrainConfig
from .schedule import Progress, progress_from


def snapshot(trainer, hidden) -> dict:
    """The checkpoint of ``trainer``'s session now; ``hidden``: every rank's rows' state."""
    model, stream, world = trainer.stepper.module, trainer.stream, trainer.world
    return {
        "model_type": model.name,
        "model_config": model.config_dict(),
        "model_state": model.state(),
        "vocab": trainer.record["vocab"],
        "train_config": trainer.cfg.to_dict(),
        **trainer.stepper.state_dict(),
        "progress": vars(trainer.p).copy(),
        "rng": rng_state(),
        "hidden": _cpu(hidden),
        "world": {"size": world.size, "batch_size": stream.batch_size,  # each rank's rows and place in them
                  "rows": [[r * stream.batch_size, (r + 1) * stream.batch_size] for r in range(world.size)],
                  "batch_index": trainer.p.batch_index},
        "data": trainer.record["data"],
        "run_id": trainer.record["run_id"],  # the run this checkpoint belongs to (runs.check_same_run)
    }


def check_session(state: dict) -> tuple[TrainConfig, Progress]:
    """The training configuration and progress of a checkpoint to resume, with the rest of its
    session (optimizer, random state, rows' state) checked for shape; ValueError saying what is
    wrong, UsageError for a stored setting out of range (``config``'s words)."""
    from .config import from_dict

    if not isinstance(state.get("train_config"), dict):
        raise ValueError("it holds no training configuration (it cannot be resumed)")
    cfg = from_dict(TrainConfig, state["train_config"]).validate()
    progress = progress_from(state.get("progress"))
    optimizer = state.get("optimizer")
    if not isinstance(optimizer, dict) or not {"state", "param_groups"} <= optimizer.keys():
        raise ValueError("its optimizer state is missing or malformed")
    cpu = state.get("rng", {}).get("torch") if isinstance(state.get("rng"), dict) else None
    if cpu is not None and (not isinstance(cpu, torch.Tensor) or cpu.shape != torch.get_rng_state().shape):
        raise ValueError("its random state is malformed")
    hidden = state.get("hidden")
    parts = hidden if isinstance(hidden, (tuple, list)) else [hidden] if hidden is not None else []
    if not all(isinstance(h, torch.Tensor) and h.dim() == 3 for h in parts):
        raise ValueError("its recurrent state is malformed")
    world = state.get("world")
    if world is not None and not (isinstance(world, dict) and all(type(world.get(k)) is int and world[k] >= 1
                                                                  for k in ("size", "batch_size"))):
        raise ValueError("its record of the processes that saved it is malformed")
    return cfg, progress


def restore(trainer, state: dict) -> Progress:
    """Take ``state`` up in ``trainer`` (optimizer, random state, rows' state; the weights came with
    the model, from ``checkpoint.load_model``); its progress."""
    try:
        trainer.stepper.load_state_dict(state)
    except ValueError as exc:  # torch's words for an optimizer state of another model's parameters
        raise CheckpointError(f"the checkpoint's optimizer state does not fit its model ({first_line(exc)}); "
                              "resume from another checkpoint") from None
    progress = progress_from(state["progress"])  # checked when the run was resumed
    restore_rng(state.get("rng", {}))
    stream, world = trainer.stream, trainer.world
    saved = state.get("world") or {"size": 1, "batch_size": stream.batch_size}
    if saved["size"] * saved["batch_size"] == world.size * stream.batch_size:
        trainer.hidden = world.scatter_state(state.get("hidden"), stream.batch_size)
        return progress
    old_batches = (len(stream.ids) - 1) // (saved["size"] * saved["batch_size"]) // stream.seq_len
    progress.batch_index = round(progress.batch_index / max(old_batches, 1) * len(stream))
    if world.is_main:
        warn(f"this run was saved by {saved['size']} process{'es' if saved['size'] > 1 else ''} and goes on with "
             f"{world.size}: the place in the text is carried over as a share of the epoch and the recurrent "
             "state starts afresh, so the curve cannot be exactly the one the same processes would have drawn")
    return progress


def rng_state() -> dict:
    """The random state of the CPU and of every CUDA device, for an exact resume."""
    state = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict) -> None:
    if "torch" in state:
        torch.set_rng_state(state["torch"])
    cuda = state.get("cuda")
    if not cuda:
        return
    if torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(cuda)
    else:
        warn(f"the run was saved on {len(cuda)} GPU(s) and goes on with {torch.cuda.device_count()}: their random "
             "streams (dropout) start afresh, so the curve cannot be exactly the one it would have drawn")


def _cpu(hidden):
    if hidden is None:
        return None
    return tuple(h.cpu() for h in hidden) if isinstance(hidden, tuple) else hidden.cpu()
