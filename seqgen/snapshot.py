"""What a checkpoint holds of a training session, and how a session takes it up again: weights,
optimizer, progress, random state (CPU and every GPU) and each rank's rows and their state.

A run saved with N processes resumes exactly with N (the same global batch cuts the text into
the same rows); with another number the place in the text is carried over as a share of the
epoch, and the rows' state starts afresh.
"""

from __future__ import annotations

import torch

from .errors import warn
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
    }


def restore(trainer, state: dict) -> Progress:
    """Take ``state`` up in ``trainer`` (optimizer, random state, rows' state; the weights came with
    the model, from ``checkpoint.load_model``); its progress."""
    trainer.stepper.load_state_dict(state)
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
