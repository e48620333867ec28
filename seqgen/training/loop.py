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
from .distributed import World
from .process_env import PeerLost
from ..errors import SeqgenError
from .schedule import Progress, after_evaluation, fraction_done, limit_reached, lr_at
from .snapshot import restore, snapshot
from .step import Stepper
from .timing import TimeShares

OnEvent = Callable[[str, dict], None]
MAX_BAD_STEPS = 5  # consecutive non-finite losses before training gives up
REPORT_EVERY = 10  # steps between progress events
# A timed run's evaluations along the way read a sample of the held-out text (the same each time)
# sized to take at most this share of the training time; the last one reads it all.
EVAL_SHARE = 0.03
PROBE_TOKENS = 4096  # held-out tokens timed once to size those evaluations
# The sample is at least this many tokens (all where there are fewer), since the loss on a few
# thousand can wander from one evaluation to the next by more than training gains, which early
# stopping reads as a stall; and it is taken in pieces spread evenly over the held-out text, since
# its start alone can be easier or harder than the rest.
SAMPLE_TOKENS = 32_768
SAMPLE_PIECE = 1024
EVAL_EVERY = 100  # steps between evaluations where --eval-every is not given
# Where a step is fast (a GPU), a timed run spaces its evaluations (and the checkpoints saved with
# each) further, to about this many in its budget: enough for the loss curve and early stopping.
EVALS_PER_BUDGET = 50


@dataclass
class TrainResult:
    run_dir: Path
    best_path: Path
    last_path: Path
    best_val_loss: float
    step: int
    reason: str  # why it stopped: epochs, max-steps, time-budget, early-stop, interrupted, terminated, counted
    steps_done: int = 0  # steps taken in this session (a resumed run had taken some before)
    time: dict | None = None  # where this session's time went (``timing.TimeShares.report``)


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
        self.shares = TimeShares()
        self.reserve = 0.0  # seconds the last evaluation will take (a timed run's steps end before)
        # On all of the held-out text at the end of a timed run: the last weights', best.pt's
        self.val_loss_all = self.best_loss_all = None  # (where the run stopped early, past it)
        self.eval_seconds = 0.0  # the last evaluation's time on rank 0, its checkpoints included
        self._sample: np.ndarray | None = None
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
        self.shares = TimeShares()
        since_eval: list[float] = []
        bad_steps, reason, loss = 0, "", None
        tick, tick_tokens = time.perf_counter(), 0
        while True:
            # -- stop? a limit or early stopping (rank 0 decides for all), or a signal to any rank
            reason = self.world.agree(reason or limit_reached(cfg, p, self.reserve),
                                      getattr(self.stop, "reason", "interrupted") if self.stop.is_set() else "")
            if reason:
                break
            if p.batch_index >= len(self.stream):  # an epoch ends: the stream starts over, cold
                p.epoch, p.batch_index, self.hidden = p.epoch + 1, 0, None
                continue
            # -- schedule
            lr = lr_at(cfg, p, len(self.stream), self.reserve)
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
                self._report("step", {"step": p.step, "epoch": p.epoch, "loss": loss, "lr": lr,
                                   "tokens_per_s": tick_tokens / max(now - tick, 1e-9), "elapsed": p.elapsed,
                                   "progress": fraction_done(cfg, p, len(self.stream), self.reserve)})
                tick, tick_tokens = now, 0
            # -- evaluate and save
            if p.step % (cfg.eval_every or p.eval_every or EVAL_EVERY) == 0:
                reason = self._evaluate(since_eval)
                since_eval = []
                if cfg.time_budget and not p.eval_every:  # a timed run's first evaluation
                    p.eval_every = cfg.eval_every or self.world.share(self._spaced())
                    self._say_how_evaluations_go()
        # A timed run's last evaluation reads all of the held-out text in fp32 (its figure), also
        # where its last step was evaluated already: on a sample, or in bf16, or all of it in fp32
        # at a step that happened to be the last (the time was reserved; rank 0's view counts).
        if since_eval or not self.world.share(self.last_path.exists() and not cfg.time_budget):
            self._evaluate(since_eval, last=True, stopped=reason)
        else:
            self._save(self.last_path)
        self.world.barrier()  # every rank leaves once rank 0 has saved
        spent = self.shares.report()
        self.emit("end", {"reason": reason, "step": p.step, "steps_done": p.step - self.started_at,
                          "best_val_loss": p.best_val_loss,  # no best.pt where no loss was finite
                          "best_path": str(self.best_path) if self.best_path.exists() else None,
                          "last_path": str(self.last_path),
                          "progress": fraction_done(cfg, p, len(self.stream), self.reserve), "last_loss": loss,
                          "val_loss_all": self.val_loss_all, "best_loss_all": self.best_loss_all,
                          "val_tokens": len(self.val), "time": spent})
        return TrainResult(self.run_dir, self.best_path, self.last_path, p.best_val_loss, p.step, reason,
                           p.step - self.started_at, spent)

    def _step(self, lr: float) -> float | None:
        with self.shares.timing("batches"):
            x, y = self.stream.batch(self.progress.batch_index)
        self.progress.batch_index += 1
        started = time.perf_counter()
        with self.world.peers_watched():  # DistributedDataParallel's gradient all-reduce, with a rank gone
            loss, self.hidden = self.stepper.step(x, y, self.hidden, lr, self.shares)
        if self.shares.first_step is None:
            self.shares.first_step = time.perf_counter() - started
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

    def _evaluate(self, train_losses: list[float], last: bool = False, stopped: str = "") -> str:
        """Score held-out text, log, save; return "early-stop" when it is time to stop. The last
        (of a timed run: on all of the held-out text too) records why the run ``stopped``."""
        cfg, p = self.cfg, self.progress
        hidden = self.world.gather_state(self.hidden)  # every rank's rows, for the checkpoint
        train_loss = self.world.mean(float(np.mean(train_losses))) if train_losses else None
        if not self.world.is_main:
            return ""
        began = time.perf_counter()
        with self.shares.timing("evaluations"):
            val = self._held_out_sample()
            started = time.perf_counter()
            score = self.stepper.module.score(val, self.device, self.precision)
            seconds = time.perf_counter() - started
            if last and cfg.time_budget:
                self.val_loss_all = self._score_all(len(val), score.cross_entropy)
        if cfg.time_budget and not last:  # the last evaluation: this one again, then all of the held-out text
            self.reserve = seconds * (1 + len(self.val) / max(len(val), 1))
        improved, verdict = after_evaluation(cfg, p, score.cross_entropy)
        if verdict == "plateau":
            self.emit("note", {"message": f"no improvement in {p.bad_evals} validations: learning rate halved"})
        record = {"step": p.step, "epoch": p.epoch, "tokens": p.tokens_seen, "elapsed": round(p.elapsed, 2),
                  "train_loss": train_loss,
                  "val_loss": score.cross_entropy, "val_ppl": score.perplexity, "lr": self.stepper.lr,
                  "best": improved, "run_id": self.record["run_id"]}  # whose record (runs.check_same_run)
        if last or verdict == "early-stop":
            record["stopped"] = stopped or verdict
        if last and self.val_loss_all is not None:
            record["val_loss_all"] = self.val_loss_all
            if stopped == "early-stop" and not improved and self.best_path.exists():
                # past best.pt's weights, which sampling takes by default: scored too, in time left
                with self.shares.timing("evaluations"):
                    best, _ = checkpoint.load_model(checkpoint.load(self.best_path), self.device, self.best_path)
                    self.best_loss_all = best.score(self.val, self.device, "fp32").cross_entropy
                record["best_loss_all"] = self.best_loss_all
        with self._writing(self.run_dir / "metrics.jsonl"):
            runs.append_metrics(self.run_dir, record)
        if math.isfinite(score.cross_entropy):  # a non-finite model is never saved over a good one
            self._save(self.last_path, hidden)
            if improved:
                self._save(self.best_path, hidden)
        self.eval_seconds = time.perf_counter() - began
        self._report("eval", record)
        return "early-stop" if verdict == "early-stop" else ""

    def _spaced(self) -> int:
        """Steps between a timed run's evaluations where --eval-every was not given: at least
        EVAL_EVERY, and so that there are at most about EVALS_PER_BUDGET in the budget and each,
        its checkpoints included (the first one's time), takes at most EVAL_SHARE of the time."""
        if not self.world.is_main:
            return 0  # rank 0's count is shared
        step_s = self._step_seconds()
        return max(EVAL_EVERY, math.ceil(self.cfg.time_budget / EVALS_PER_BUDGET / step_s),
                   math.ceil(self.eval_seconds / (EVAL_SHARE * step_s)))

    def _say_how_evaluations_go(self) -> None:
        if not self.world.is_main:
            return
        size, every = len(self._held_out_sample()), self.progress.eval_every
        spaced = "" if self.cfg.eval_every else " (spaced for the budget)"
        if size < len(self.val):
            self.emit("note", {"message": f"evaluations along the way read {size:,} of the {len(self.val):,} "
                                          f"held-out tokens, spread over them, every {every:,} steps{spaced}; "
                                          "the last reads them all"})
        elif every != EVAL_EVERY:
            self.emit("note", {"message": f"evaluations every {every:,} steps{spaced}"})

    def _step_seconds(self) -> float:
        """Seconds of one step so far in this session: the step, its update and its batch."""
        seconds, steps = self.shares.seconds, max(1, self.progress.step - self.started_at)
        return max((seconds["learn"] + seconds["update"] + seconds["batches"]) / steps, 1e-9)

    def _score_all(self, read: int, loss: float) -> float:
        """The loss on all of the held-out text, in fp32 as ``seqgen eval`` scores it: the run's
        last figure is compared with others and with ``seqgen eval``'s, and a bf16 score of the
        same weights differs from it in the fourth digit. ``read``, ``loss``: this evaluation's,
        taken as it is where it read all of it in fp32."""
        if read >= len(self.val) and self.precision == "fp32":
            return loss
        return self.stepper.module.score(self.val, self.device, "fp32").cross_entropy

    def _report(self, kind: str, info: dict) -> None:
        """An event to the listeners (the progress bar, the log, the loss curve), timed."""
        with self.shares.timing("reporting"):
            self.emit(kind, info)

    def _held_out_sample(self) -> np.ndarray:
        """What an evaluation reads: the held-out text's first ``--eval-tokens``; in a timed run,
        ``_eval_size()`` tokens in pieces spread evenly over it (the same each time)."""
        if self._sample is None:
            size = self._eval_size()
            if not self.cfg.time_budget or size >= len(self.val):
                self._sample = self.val[:size]
            else:
                self._sample = spread_sample(self.val, size)
        return self._sample

    def _eval_size(self) -> int:
        """The held-out tokens an evaluation reads: ``--eval-tokens`` of them; in a timed run, as
        many as take at most ``EVAL_SHARE`` of the training time between two evaluations at the
        usual spacing, timed once on a few tokens, and at least SAMPLE_TOKENS (kept in the
        checkpoint, so that every evaluation of the run reads the same text)."""
        cfg, p = self.cfg, self.progress
        cap = min(cfg.eval_tokens, len(self.val)) if cfg.eval_tokens else len(self.val)
        if not cfg.time_budget:
            return cap
        if not p.eval_size:
            probe = self.val[:PROBE_TOKENS]
            self.stepper.module.score(probe, self.device, self.precision)  # the first call sets up (cuDNN): untimed
            started = time.perf_counter()
            self.stepper.module.score(probe, self.device, self.precision)
            rate = len(probe) / max(time.perf_counter() - started, 1e-9)
            every = cfg.eval_every or EVAL_EVERY
            p.eval_size = int(min(cap, max(min(SAMPLE_TOKENS, cap), rate * EVAL_SHARE * every * self._step_seconds())))
        return min(p.eval_size, cap)

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
            with self.shares.timing("checkpoints"):
                checkpoint.save(snapshot(self, hidden), path)

    def _restore(self, state: dict) -> None:
        self.progress = restore(self, state)


def spread_sample(ids: np.ndarray, size: int) -> np.ndarray:
    """``size`` tokens of ``ids`` (less what dividing them into pieces leaves over) in pieces of
    about SAMPLE_PIECE spread evenly from its start to its end, joined (each junction costs one
    prediction across it, the same at every evaluation)."""
    pieces = max(1, size // SAMPLE_PIECE)
    length = size // pieces
    starts = np.linspace(0, len(ids) - length, pieces).round().astype(np.int64)
    return np.concatenate([ids[s:s + length] for s in starts])
