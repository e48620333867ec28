"""What a checkpoint holds of a training session, and how a session takes it up again: weights,
optimizer, progress, random state (CPU and every GPU) and each rank's rows and their state.

A run saved with N processes resumes exactly with N (the same global batch cuts the text into
the same rows); with another number the place in the text is carried over as a share of the
epoch, and the rows' state starts afresh.
"""

from __future__ import annotations

import torch

from ..errors import CheckpointError, first_line, warn
from ..config import TrainConfig
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
        "progress": vars(trainer.progress).copy(),
        "rng": rng_state(),
        "hidden": _cpu(hidden),
        "world": {"size": world.size, "batch_size": stream.batch_size,  # each rank's rows and place in them
                  "rows": [[r * stream.batch_size, (r + 1) * stream.batch_size] for r in range(world.size)],
                  "batch_index": trainer.progress.batch_index},
        "data": trainer.record["data"],
        "run_id": trainer.record["run_id"],  # the run this checkpoint belongs to (runs.check_same_run)
    }


def check_session(state: dict) -> tuple[TrainConfig, Progress]:
    """The training configuration and progress of a checkpoint to resume, with the rest of its
    session (optimizer, random state, rows' state) checked for shape; ValueError saying what is
    wrong, UsageError for a stored setting out of range (``config``'s words)."""
    from ..config import from_dict

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


def check_fits(state: dict, model) -> None:
    """ValueError unless the session in ``state`` fits ``model``: an optimizer state of one tensor
    per parameter moment, each of its parameter's shape, and rows' state of the model's shape. torch
    loads an optimizer state whose tensors have other shapes without a word, and its first step
    then fails deep inside AdamW; a recurrent state of another size fails in the model's first step."""
    params, optimizer = list(model.parameters()), state["optimizer"]
    groups, moments = optimizer["param_groups"], optimizer["state"]
    ids = [i for g in groups if isinstance(g, dict) for i in g.get("params", ())] if isinstance(groups, list) else []
    if not all(type(i) is int for i in ids) or sorted(ids) != list(range(len(params))) or not isinstance(moments, dict):
        raise ValueError(f"its optimizer state does not fit its model (it is not for the model's {len(params)} "
                         "parameters)")
    for key, entry in moments.items():
        if type(key) is not int or not 0 <= key < len(params) or not isinstance(entry, dict):
            raise ValueError(f"its optimizer state does not fit its model (an entry {key!r} for no parameter)")
        for name, value in entry.items():
            if name == "step" and type(value) in (int, float):  # a number, as older torch kept it
                continue
            want = () if name == "step" else tuple(params[key].shape)
            if not isinstance(value, torch.Tensor) or tuple(value.shape) != want:
                raise ValueError(f"its optimizer state does not fit its model ({name} of parameter {key} is "
                                 f"{_shape(value)}, the parameter {_shape(params[key]) if want else 'a number'})")
    _check_hidden(state, model)


def _check_hidden(state: dict, model) -> None:
    """ValueError unless the saved rows' state has the shape of the model's own for as many rows."""
    hidden, world = state.get("hidden"), state.get("world") or {}
    if hidden is None or not hasattr(model, "init_hidden"):
        return
    rows = world.get("size", 1) * world.get("batch_size", _rows(hidden))
    want = model.init_hidden(rows)
    have, want = (list(x) if isinstance(x, (tuple, list)) else [x] for x in (hidden, want))
    if [tuple(h.shape) for h in have] != [tuple(w.shape) for w in want]:
        raise ValueError(f"its recurrent state does not fit its model (it is {' and '.join(map(_shape, have))}, "
                         f"the model's for {rows} rows {' and '.join(map(_shape, want))})")


def _rows(hidden) -> int:
    first = hidden[0] if isinstance(hidden, (tuple, list)) else hidden
    return first.shape[1] if isinstance(first, torch.Tensor) and first.dim() == 3 else 0


def _shape(value) -> str:
    if not isinstance(value, torch.Tensor):
        return f"not a tensor ({type(value).__name__})"
    return "x".join(map(str, value.shape)) if value.dim() else "a single number"


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
        trainer.hidden = world.scatter_state(_full_precision(state.get("hidden")), stream.batch_size)
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


def _full_precision(hidden):
    """The saved state in float32: a run saved under bf16 autocast keeps its state in bf16, and the
    run that resumes it may compute in fp32 (``--precision`` may change, and auto may choose
    otherwise), where oneDNN's LSTM refuses a bf16 state."""
    if hidden is None:
        return None
    as_float = lambda h: h.float() if h.is_floating_point() else h  # noqa: E731
    return tuple(map(as_float, hidden)) if isinstance(hidden, tuple) else as_float(hidden)


def _cpu(hidden):
    if hidden is None:
        return None
    return tuple(h.cpu() for h in hidden) if isinstance(hidden, tuple) else hidden.cpu()
