"""The training loop of a model trained by gradient descent, in the order it runs: stop?,
schedule, step, report, evaluate and save.

It knows nothing model-specific beyond ``model.loss`` and ``model.detach_state`` (through
``Stepper``), nothing of plotting (``plot.LossCurve`` listens to its events), and reports through
``emit(kind, info)``: ("start", info), ("step", info), ("eval", info), ("note", {"message"}),
("warning", {"message"}), ("end", info). With several processes (``distributed.World``) every
rank steps on its own rows of the batch; rank 0 alone evaluates, writes and speaks, and the
decision to stop is rank 0's, shared with all.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import checkpoint, runs
from ..data.batches import BatchStream
from ..config import TrainConfig
from .distributed import PeerLost, World
from ..errors import SeqgenError
from .schedule import Progress, after_evaluation, fraction_done, limit_reached, lr_at
from .snapshot import restore, snapshot
from .step import Stepper

OnEvent = Callable[[str, dict], None]
MAX_BAD_STEPS = 5  # consecutive non-finite losses before training gives up
REPORT_EVERY = 10  # steps between progress events


@dataclass
class TrainResult:
    run_dir: Path
    best_path: Path
    last_path: Path
    best_val_loss: float
    step: int
    reason: str  # why training stopped: epochs, max-steps, time-budget, early-stop, interrupted (or
    # terminated: a signal), counted
    steps_done: int = 0  # steps taken in this session (a resumed run had taken some before)


class Trainer:
    """One session of a run: the model, its optimiser and data, and what a checkpoint holds."""

    def __init__(self, model, cfg: TrainConfig, stream: BatchStream, val: np.ndarray, record: dict,
                 run_dir: Path, world: World, emit: OnEvent, stop: threading.Event | None,
                 state: dict | None = None):
        self.model, self.cfg, self.stream, self.val, self.record = model, cfg, stream, val, record
        self.run_dir, self.world = run_dir, world
        # Rank 0 alone speaks: the others' events go nowhere.
        self.emit = emit if world.is_main else (lambda k, i: None)
        self.stop = stop or threading.Event()
        self.device, self.precision = world.device, world.precision(cfg.precision)
        self.stepper = Stepper(model, self.device, self.precision, cfg.lr, cfg.weight_decay, cfg.clip, world)
        self.progress, self.hidden = Progress(), None
        if state:
            self._restore(state)
        self.started_at = self.progress.step
        self.best_path, self.last_path = run_dir / "best.pt", run_dir / "last.pt"

    # -- the loop --------------------------------------------------------------------------------
    def run(self) -> TrainResult:
        try:
            return self._run()
        except PeerLost as exc:
            last = f"last good checkpoint: {self.last_path}; continue with: " \
                   f"{runs.resume_command(self.last_path, self.world.size)}" \
                if self.last_path.exists() else "no checkpoint was saved yet"
            raise PeerLost(f"{exc}; {last}") from None

    def _run(self) -> TrainResult:
        cfg, p = self.cfg, self.progress
        clock = time.perf_counter() - p.elapsed
        since_eval: list[float] = []
        eval_cost, bad_steps, reason, loss = 0.0, 0, "", None
        tick, tick_tokens = time.perf_counter(), 0
        while True:
            # -- stop? a limit or early stopping (rank 0 decides for all), or a signal to any rank
            reason = self.world.agree(reason or limit_reached(cfg, p, eval_cost),
                                      getattr(self.stop, "reason", "interrupted") if self.stop.is_set() else "")
            if reason:
                break
            if p.batch_index >= len(self.stream):  # an epoch ends: the stream starts over, cold
                p.epoch, p.batch_index, self.hidden = p.epoch + 1, 0, None
                continue
            # -- schedule
            lr = lr_at(cfg, p, len(self.stream))
            # -- step
            loss = self._step(lr)
            p.elapsed = time.perf_counter() - clock
            if loss is None:
                bad_steps += 1
                self._skip_bad_step(bad_steps)
                continue
            bad_steps = 0
            since_eval.append(loss)
            tick_tokens += self.stream.batch_size * self.stream.seq_len * self.world.size
            # -- report
            if p.step % REPORT_EVERY == 0 or p.step == 1:
                now = time.perf_counter()
                self.emit("step", {"step": p.step, "epoch": p.epoch, "loss": loss, "lr": lr,
                                   "tokens_per_s": tick_tokens / max(now - tick, 1e-9), "elapsed": p.elapsed,
                                   "progress": fraction_done(cfg, p, len(self.stream))})
                tick, tick_tokens = now, 0
            # -- evaluate and save
            if p.step % cfg.eval_every == 0:
                started = time.perf_counter()
                reason = self._evaluate(since_eval)
                since_eval = []
                eval_cost = time.perf_counter() - started
        if since_eval or not self.world.share(self.last_path.exists()):
            self._evaluate(since_eval)
        else:
            self._save(self.last_path)
        self.world.barrier()  # every rank leaves once rank 0 has saved
        self.emit("end", {"reason": reason, "step": p.step, "steps_done": p.step - self.started_at,
                          "best_val_loss": p.best_val_loss,  # no best.pt where no loss was finite
                          "best_path": str(self.best_path) if self.best_path.exists() else None,
                          "last_path": str(self.last_path), "progress": fraction_done(cfg, p, len(self.stream)),
                          "last_loss": loss})
        return TrainResult(self.run_dir, self.best_path, self.last_path, p.best_val_loss, p.step, reason,
                           p.step - self.started_at)

    def _step(self, lr: float) -> float | None:
        x, y = self.stream.batch(self.progress.batch_index)
        self.progress.batch_index += 1
        with self.world.peers_watched():  # DistributedDataParallel's gradient all-reduce, with a rank gone
            loss, self.hidden = self.stepper.step(x, y, self.hidden, lr)
        if loss is not None:
            self.progress.step += 1
            self.progress.tokens_seen += x.numel() * self.world.size
        return loss

    def _skip_bad_step(self, bad_steps: int) -> None:
        """A non-finite loss: the step was skipped; halve the rate, and give up after a few."""
        self.progress.lr_scale *= 0.5
        self.emit("warning", {"message": f"step {self.progress.step}: loss is not finite; skipped it and halved "
                                         "the learning rate"})
        if bad_steps >= MAX_BAD_STEPS:
            raise SeqgenError(f"training diverged: {bad_steps} steps in a row had a non-finite loss; the last "
                              f"good checkpoints are in {self.run_dir}; try a lower --lr")

    def _evaluate(self, train_losses: list[float]) -> str:
        """Score held-out text, log, save; return "early-stop" when it is time to stop."""
        cfg, p = self.cfg, self.progress
        hidden = self.world.gather_state(self.hidden)  # every rank's rows, for the checkpoint
        train_loss = self.world.mean(float(np.mean(train_losses))) if train_losses else None
        if not self.world.is_main:
            return ""
        val = self.val[: cfg.eval_tokens] if cfg.eval_tokens else self.val
        score = self.stepper.module.score(val, self.device, self.precision)
        improved, verdict = after_evaluation(cfg, p, score.cross_entropy)
        if verdict == "plateau":
            self.emit("note", {"message": f"no improvement in {p.bad_evals} validations: learning rate halved"})
        record = {"step": p.step, "epoch": p.epoch, "tokens": p.tokens_seen, "elapsed": round(p.elapsed, 2),
                  "train_loss": train_loss,
                  "val_loss": score.cross_entropy, "val_ppl": score.perplexity, "lr": self.stepper.lr,
                  "best": improved, "run_id": self.record["run_id"]}  # whose record (runs.check_same_run)
        with self._writing(self.run_dir / "metrics.jsonl"):
            runs.append_metrics(self.run_dir, record)
        if math.isfinite(score.cross_entropy):  # a non-finite model is never saved over a good one
            self._save(self.last_path, hidden)
            if improved:
                self._save(self.best_path, hidden)
        self.emit("eval", record)
        return "early-stop" if verdict == "early-stop" else ""

    @contextlib.contextmanager
    def _writing(self, path: Path):
        """A file of the run that cannot be written (a full disk) ends training in one line that
        says what is kept and how to go on; its writer leaves no part of it behind."""
        try:
            yield
        except OSError as exc:
            raise runs.write_failed(path, exc, self.last_path, self.world.size) from None

    # -- checkpoints -----------------------------------------------------------------------------
    def _save(self, path: Path, hidden=None) -> None:
        hidden = self.world.gather_state(self.hidden) if hidden is None else hidden
        if self.world.is_main:
            checkpoint.save(snapshot(self, hidden), path)

    def _restore(self, state: dict) -> None:
        self.progress = restore(self, state)
