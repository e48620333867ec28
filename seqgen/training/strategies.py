"""How each kind of model is trained: one strategy object per way, found from a model type's
``trained_by``, so that ``training/run.py``, the API and the command line ask the strategy instead of
branching on the model type.

``trained_by`` names a way ("gradient": stepped by the loop in ``loop.py``; "counting": made in
one pass by ``counting.py``), or is itself an object with the members of ``Strategy``.

A run goes through a strategy in this order (``run.py``):

    check(cls, cfg, world)           before any work: settings and processes it cannot use
    prepare(...) / prepare_resume()  with the data split, before the run folder exists: what can
                                     still fail (too little text, too little memory) fails here
    the returned start(run)          in the claimed run folder: trains, saves, returns the result
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import torch

from ..data.batches import BatchStream
from ..config import TrainConfig
from .counting import count
from ..hardware.device import available_memory, format_bytes
from .distributed import World
from ..errors import UsageError
from .loop import OnEvent, Trainer, TrainResult
from ..data.tokens import TokenizedCorpus, TokenSplit

# Settings of the training loop, which a model made by counting has no use for.
LOOP_SETTINGS = ("seq_len", "batch_size", "lr", "weight_decay", "warmup_steps", "clip", "epochs", "max_steps",
                 "time_budget", "eval_every", "eval_tokens", "patience", "device", "precision")


@dataclass
class Run:
    """What a strategy trains in: the run's settings, data and folder, and whom it tells."""

    cfg: TrainConfig
    data: TokenizedCorpus
    split: TokenSplit
    record: dict  # vocabulary, data record and run id: what every checkpoint of the run keeps
    run_dir: Path
    world: World
    emit: OnEvent
    stop: threading.Event | None


Start = Callable[[Run], TrainResult]


class Strategy(Protocol):
    unused_settings: tuple[str, ...]  # options that do not apply to models trained this way

    def check(self, cls: type, cfg: TrainConfig, world: World) -> None:
        """UsageError, before any work, for what this way cannot do with ``cfg`` in ``world``."""

    def check_processes(self, cls: type, processes: int, started_by: str) -> None:
        """UsageError when this way cannot train in ``processes`` processes (``started_by``)."""

    def check_resume(self, cls: type, path: Path) -> None:
        """UsageError when runs trained this way do not resume."""

    def prepare(self, cls: type, model_cfg, cfg: TrainConfig, split: TokenSplit, vocab_size: int,
                world: World) -> Start:
        """The training of a new model, checked as far as it can be before its run folder exists."""

    def prepare_resume(self, model, state: dict, cfg: TrainConfig, split: TokenSplit, world: World) -> Start:
        """The training of ``model`` further, from its checkpoint ``state``."""


class GradientDescent:
    """Trained step by step by the loop: AdamW, mixed precision, checkpoints, early stopping."""

    unused_settings: tuple[str, ...] = ()

    def check(self, cls: type, cfg: TrainConfig, world: World) -> None:
        world.precision(cfg.precision)  # a precision that cannot run here: said before any work

    def check_processes(self, cls: type, processes: int, started_by: str) -> None:
        pass  # any number: the loop trains data-parallel

    def check_resume(self, cls: type, path: Path) -> None:
        pass

    def prepare(self, cls: type, model_cfg, cfg: TrainConfig, split: TokenSplit, vocab_size: int,
                world: World) -> Start:
        stream = BatchStream(split.train, cfg.batch_size, cfg.seq_len, world.rank, world.size)
        _fits_in_memory(model_cfg, vocab_size, cfg, world)
        return functools.partial(self._new, cls, model_cfg, stream)

    def prepare_resume(self, model, state: dict, cfg: TrainConfig, split: TokenSplit, world: World) -> Start:
        stream = BatchStream(split.train, cfg.batch_size, cfg.seq_len, world.rank, world.size)
        return functools.partial(self._train, model, stream, state)

    def _new(self, cls: type, model_cfg, stream: BatchStream, run: Run) -> TrainResult:
        torch.manual_seed(run.cfg.seed)  # the same seed, the same first weights
        return self._train(cls.build(model_cfg, len(run.data.vocab)), stream, None, run)

    @staticmethod
    def _train(model, stream: BatchStream, state: dict | None, run: Run) -> TrainResult:
        trainer = Trainer(model, run.cfg, stream, run.split.val, run.record, run.run_dir, run.world, run.emit,
                          run.stop, state)
        _announce(trainer, run.data, run.split, run.emit)
        return trainer.run()


class Counting:
    """Made in one pass over the training tokens (``cls.fit``), scored once, saved once."""

    unused_settings = LOOP_SETTINGS

    def check(self, cls: type, cfg: TrainConfig, world: World) -> None:
        self.check_processes(cls, world.size, "--nproc or torchrun")

    def check_processes(self, cls: type, processes: int, started_by: str) -> None:
        if processes > 1:
            raise UsageError(f"a {cls.name} model is counted in one process, in seconds: train it without "
                             f"{started_by}")

    def check_resume(self, cls: type, path: Path) -> None:
        raise UsageError(f"{path} is a {cls.name} model, made by counting in one go; --resume continues runs "
                         "trained step by step: train it again instead")

    def prepare(self, cls: type, model_cfg, cfg: TrainConfig, split: TokenSplit, vocab_size: int,
                world: World) -> Start:
        return lambda run: count(cls, model_cfg, run.cfg, run.split, run.record, run.run_dir, run.emit)

    def prepare_resume(self, model, state: dict, cfg: TrainConfig, split: TokenSplit, world: World) -> Start:
        raise UsageError("a model made by counting does not resume: train it again instead")


# By the names of models.registry.WAYS_OF_TRAINING, which a model type's trained_by is checked against.
STRATEGIES: dict[str, Strategy] = {"gradient": GradientDescent(), "counting": Counting()}


def training_of(cls: type) -> Strategy:
    """How model type ``cls`` is trained: the strategy its ``trained_by`` names, or is."""
    way = cls.trained_by
    if not isinstance(way, str):
        return way
    try:
        return STRATEGIES[way]
    except KeyError:
        raise TypeError(f"{cls.__name__}.trained_by is {way!r}, which names no way of training; known: "
                        f"{', '.join(STRATEGIES)}") from None


def _fits_in_memory(model_cfg, vocab_size: int, cfg: TrainConfig, world: World) -> None:
    """Refuse a model that cannot be trained in this device's memory, before building it."""
    count_parameters = getattr(model_cfg, "parameters", None)
    free = available_memory(world.device)
    if count_parameters is None or free is None:
        return
    params = count_parameters(vocab_size)
    # fp32 weights, gradients and two AdamW moments; activations of one batch, kept for backward
    width = getattr(model_cfg, "hidden", 0) * getattr(model_cfg, "layers", 1) * 6 + vocab_size
    need = 16 * params + 8 * cfg.batch_size * cfg.seq_len * width
    if need > free:
        raise UsageError(f"this model has {params:,} parameters and needs about {format_bytes(need)} of memory to "
                         f"train; {world.device.type} has {format_bytes(free)} free: lower --hidden, --layers "
                         "or --batch-size")


def _announce(trainer: Trainer, data: TokenizedCorpus, split: TokenSplit, emit: OnEvent) -> None:
    model = trainer.stepper.module
    emit("start", {"run_dir": str(trainer.run_dir), "device": str(trainer.device), "precision": trainer.precision,
                   "params": sum(p.numel() for p in model.parameters()), "vocab": len(data.vocab),
                   "train_tokens": len(split.train), "val_tokens": len(split.val), "model": model.describe(),
                   "batches_per_epoch": len(trainer.stream), "notes": data.notes,
                   "resumed_at": trainer.progress.step, "world": trainer.world.size})
