"""Training a model: read and tokenise the data, set up (or resume) the run folder, then train the
model the way its type trains (its strategy, ``strategies.py``: the gradient loop or counting).

Events go to ``on_event(kind, info)`` (see ``loop.py``); ("prepare", info) reports slow reading
(music21 checking tunes), ("start", info) the run about to train.
"""

from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path

import numpy as np
import torch

from . import checkpoint, runs
from ..config import RESUMABLE, TrainConfig
from ..data.corpus import absolute_sources, check_stored_sources
from .distributed import World
from ..hardware.device import choose_device
from .launch import announce_run_dir
from ..errors import CheckpointError, CorpusError, UsageError, warn
from ..formats import tokenize_corpus
from .loop import OnEvent, TrainResult
from ..models import model_class
from .plan import Plan, plan_for
from .plot import LossCurve
from .schedule import Progress, limit_reached
from .snapshot import check_fits, check_session
from .strategies import Run, training_of
from ..data.arrange import as_trained, for_filling
from ..data.tokens import TokenizedCorpus, TokenSplit, split_ids
from ..data.vocab import UNK_ID, Vocab

MAX_STORED_VAL_TOKENS = 2_000_000  # held-out ids kept in the checkpoint for `seqgen eval`

__all__ = ["TrainResult", "new_run", "resume_run", "plan_run"]


def new_run(specs: list[str], model_cfg, cfg: TrainConfig, out_dir: Path | None = None, encoding: str = "utf-8",
            on_event: OnEvent | None = None, stop: threading.Event | None = None, overwrite: bool = False,
            backend: str = "auto", plan: frozenset[str] | None = None) -> TrainResult:
    """A new model of the type whose configuration ``model_cfg`` is, trained on ``specs`` (in every
    process of the run, when torchrun started several). ``plan``: size the model to the time
    budget (``plan.py``), leaving alone the options named in it (those the user gave)."""
    emit = on_event or (lambda kind, info: None)
    cls = _model_type_of(model_cfg)
    cfg.validate()
    model_cfg.validate()
    with _world(cfg.device, backend) as world:
        training_of(cls).check(cls, cfg, world)
        return _new_run(cls, specs, model_cfg, cfg, out_dir, encoding, emit, stop, overwrite, world, plan)


def plan_run(specs: list[str], model_cfg, cfg: TrainConfig, encoding: str = "utf-8",
             on_event: OnEvent | None = None, given: frozenset[str] = frozenset()) -> Plan:
    """The plan ``new_run`` would follow for this text and time budget, without training."""
    cls = _model_type_of(model_cfg)
    cfg.validate()
    model_cfg.validate()
    world = World(device=choose_device(cfg.device))
    data, _, trained = _read(specs, cfg, encoding, on_event or (lambda kind, info: None), world)
    return plan_for(cls, model_cfg, cfg, len(trained.train), len(data.vocab), world, given)


def _new_run(cls, specs, model_cfg, cfg, out_dir, encoding, emit, stop, overwrite, world, plan) -> TrainResult:
    data, split, trained = _read(specs, cfg, encoding, emit, world)
    if plan is not None:
        made = plan_for(cls, model_cfg, cfg, len(trained.train), len(data.vocab), world, plan)
        emit("plan", {**made.to_dict(), "message": made.describe()})
        model_cfg, cfg = made.apply(model_cfg, cfg)
    # Checked before any folder is made: too little text for a batch (the strategy's), or to hold out.
    start = training_of(cls).prepare(cls, model_cfg, cfg, trained, len(data.vocab), world)
    _check_held_out(split)
    run_dir = _run_dir(Path(out_dir) if out_dir else runs.new_run_dir(specs, cfg.level, _tag(cls, model_cfg)), world)
    record = {"vocab": data.vocab.to_dict(), "data": data_record(data, split, encoding, cfg),
              "run_id": runs.new_run_id()}
    with runs.RunLock(run_dir) if world.is_main else contextlib.nullcontext():
        if world.is_main:
            runs.claim_for_new_run(run_dir, overwrite)
        return start(Run(cfg, data, trained, record, run_dir, world, _drawing_loss_curve(emit, run_dir, world), stop))


def _read(specs: list[str], cfg: TrainConfig, encoding: str, emit: OnEvent, world: World):
    """The text read and tokenised, its split, and the split as the model trains on it."""
    with world.main_first():  # rank 0 reads, checks and caches the data; the others then read the cache
        data = _tokenize(specs, cfg, encoding, None, emit)
    data = for_filling(data, cfg.fill_rate)  # the FIM tokens join the vocabulary
    split = split_ids(data, cfg.val_fraction, cfg.seed)
    return data, split, _as_trained(data, split, cfg)  # the checkpoint's record keeps the text as read


def resume_run(path: Path, changes: dict | None = None, out_dir: Path | None = None,
               on_event: OnEvent | None = None, stop: threading.Event | None = None, overwrite: bool = False,
               backend: str = "auto") -> TrainResult:
    """Continue the run saved in checkpoint ``path``.

    ``changes`` may set the run's limits and where it computes (``RESUMABLE``); anything else
    would make it another run and is refused. ``time_budget`` means this much more time.
    """
    emit = on_event or (lambda kind, info: None)
    path, changes = Path(path), dict(changes or {})
    state = checkpoint.load(path)
    cls = model_class(state["model_type"])
    training_of(cls).check_resume(cls, path)
    _session(state, path)  # before its stored settings are compared with the ones given
    if out_dir is None or Path(out_dir).resolve() == path.parent.resolve():
        runs.check_same_run(path, state)  # before any work: its folder may hold another run
    stored = {**state["model_config"], **state["train_config"]}
    fixed = sorted(k for k, v in changes.items() if k not in RESUMABLE and (k not in stored or stored[k] != v))
    if fixed:
        names = ", ".join(f"--{k.replace('_', '-')} (the run has {stored.get(k, 'none')}, given {changes[k]})"
                          for k in fixed)
        raise UsageError(f"cannot change {names} when resuming: a run keeps its model and data settings; start a "
                         "new run for other settings")
    changes = {k: v for k, v in changes.items() if k in RESUMABLE}
    cfg, progress = _session(state, path)
    for name, value in changes.items():
        setattr(cfg, name, value)
    cfg.validate()  # what was given, as it was given
    if "time_budget" in changes:
        cfg.time_budget += progress.elapsed  # "this much more"
    reached = limit_reached(cfg, progress)
    if reached:
        raise UsageError(_reached_message(reached, cfg, progress))
    with _world(cfg.device, backend) as world:
        training_of(cls).check(cls, cfg, world)
        return _resume(path, state, cls, cfg, progress, Path(out_dir) if out_dir else path.parent, emit, stop,
                       overwrite, world)


def _session(state: dict, path: Path) -> tuple[TrainConfig, Progress]:
    """The training configuration and progress of the run saved in ``path``, checked with the rest
    of its session; CheckpointError when they are damaged (a stored setting is not an option the
    user gave)."""
    try:
        return check_session(state)
    except ValueError as exc:
        raise CheckpointError(f"{path} is damaged: {exc}; resume from another checkpoint") from None
    except UsageError as exc:
        raise checkpoint.stored_setting_error(path, exc, "training") from None


def _fits(path: Path, state: dict, model) -> None:
    """CheckpointError unless the session saved in ``path`` fits its own model (``check_fits``)."""
    try:
        check_fits(state, model)
    except ValueError as exc:
        raise CheckpointError(f"{path} is damaged: {exc}; resume from another checkpoint") from None


def _reached_message(reached: str, cfg: TrainConfig, progress: Progress) -> str:
    """What to give to train a run further: the limit that binds (another one given does not lift it)."""
    if reached == "time-budget":  # on resume --time-budget means more time: this one was not given
        return (f"this run has already reached its limit (its time budget, at step {progress.step}); give "
                "--time-budget for more time")
    option, limit = f"--{reached}", cfg.epochs if reached == "epochs" else cfg.max_steps
    others = " or ".join(o for o in ("--max-steps", "--epochs", "--time-budget") if o != option)
    return (f"this run has already reached its limit ({option} {limit}, at step {progress.step}); give a larger "
            f"{option} to train it further ({others} alone does not lift it)")


def _resume(path, state, cls, cfg, progress, run_dir, emit, stop, overwrite, world) -> TrainResult:
    model, _ = checkpoint.load_model(state, source=path)
    _fits(path, state, model)  # before any work: the first step would fail deep inside torch
    check_stored_sources(list(state["data"]["sources"]))
    with world.main_first():
        data = _tokenize(list(state["data"]["sources"]), cfg, state["data"].get("encoding", "utf-8"),
                         Vocab.from_dict(state["vocab"]), emit)
    _same_text(state["data"], data)
    split = split_ids(data, cfg.val_fraction, cfg.seed)
    if len(split.train) != state["data"]["train_tokens"]:
        raise CorpusError("the training text changed since this run started; --resume needs the same files")
    split = _as_trained(data, split, cfg)
    start = training_of(cls).prepare_resume(model, state, cfg, split, world)
    # A run from before run ids and content hashes takes them up from here on.
    record = {"vocab": state["vocab"], "data": {"files": [list(f) for f in data.files], **state["data"]},
              "run_id": runs.run_id(state)}
    run_dir = _run_dir(run_dir, world)
    with runs.RunLock(run_dir) if world.is_main else contextlib.nullcontext():
        if world.is_main:
            _claim_for_resume(path, run_dir, progress.step, overwrite)
        return start(Run(cfg, data, split, record, run_dir, world, _drawing_loss_curve(emit, run_dir, world), stop))


@contextlib.contextmanager
def _world(device: str, backend: str):
    """This process's world (torchrun's process group, or one process), left when training ends."""
    world = World.current(device, backend)
    try:
        yield world
    finally:
        world.close()


def _drawing_loss_curve(emit: OnEvent, run_dir: Path, world: World) -> OnEvent:
    """``emit``, and the run's loss.png redrawn after each evaluation; a loss.png that cannot be
    written (a full disk) ends training in one line that says what is kept and how to go on."""
    curve = LossCurve(run_dir)

    def both(kind: str, info: dict) -> None:
        emit(kind, info)
        try:
            curve(kind, info)
        except OSError as exc:
            raise runs.write_failed(run_dir / "loss.png", exc, run_dir / "last.pt", world.size) from None

    return both


def _run_dir(path: Path, world: World) -> Path:
    """The run folder, made by rank 0, whose name the others and a launcher learn from it."""
    if world.is_main:
        runs.make_dir(path)
        announce_run_dir(path)
    return world.share(path)


def data_record(corpus: TokenizedCorpus, split: TokenSplit, encoding: str, cfg: TrainConfig) -> dict:
    """What a checkpoint records of its data: enough to re-read and re-split it, the held-out ids,
    and what its format says of the training part (a music model's meters and keys)."""
    return {"kind": corpus.kind, "sources": absolute_sources(corpus.sources), "files": [[os.path.abspath(name), digest] for name, digest in corpus.files],
            "encoding": encoding, "val_fraction": cfg.val_fraction, "seed": cfg.seed,
            "train_tokens": int(len(split.train)),
            "val_ids": torch.from_numpy(np.asarray(split.val[:MAX_STORED_VAL_TOKENS], dtype=np.int32)),
            **corpus.format.summary(split.train, corpus.vocab)}


def _as_trained(data: TokenizedCorpus, split: TokenSplit, cfg: TrainConfig) -> TokenSplit:
    """What the model trains on: ``split`` in the run's direction, documents rearranged to fill."""
    return as_trained(split, cfg.direction, cfg.fill_rate, cfg.seed, data.vocab, data.format)


def _model_type_of(model_cfg) -> type:
    from ..models import model_types

    for name in model_types():
        if isinstance(model_cfg, model_class(name).Config):
            return model_class(name)
    raise UsageError(f"no model type is configured by {type(model_cfg).__name__}")


def _tag(cls: type, model_cfg) -> str:
    """The model's part of a run folder's name: the cell (lstm, gru, rnn), or e.g. ngram5."""
    return getattr(model_cfg, "cell", None) or f"{cls.name}{getattr(model_cfg, 'order', '')}"


def _tokenize(specs: list[str], cfg: TrainConfig, encoding: str, vocab: Vocab | None, emit: OnEvent) -> TokenizedCorpus:
    data = tokenize_corpus(specs, cfg.level, cfg.max_vocab, cfg.min_count, encoding, vocab=vocab,
                           on_progress=lambda done, total: emit(
                               "prepare", {"message": "checking tunes with music21", "done": done, "total": total}))
    if len(data.vocab) <= 2:
        raise UsageError("the vocabulary holds no tokens besides <unk> and <eos>: every word was too rare; "
                         "lower --min-count or raise --max-vocab")
    unknown = np.count_nonzero(data.ids == UNK_ID) / max(len(data.ids), 1)
    if vocab is None and unknown > 0.5:
        warn(f"{unknown:.0%} of the training tokens are <unk> (rarer than --min-count or beyond --max-vocab): "
             "the model will mostly learn <unk>; lower --min-count or raise --max-vocab")
    return data


def _same_text(stored: dict, data: TokenizedCorpus) -> None:
    """A run resumes on the text it was trained on, byte for byte (by the content hashes its
    checkpoints keep; those from before them have only the token count, checked after this)."""
    before, now = dict(map(tuple, stored.get("files", data.files))), dict(data.files)
    problems = [f"{n} has other contents" for n in now if n in before and before[n] != now[n]]
    problems += [f"{n} is new" for n in now if n not in before] + [f"{n} is gone" for n in before if n not in now]
    if problems:
        more = f" and {len(problems) - 3} more" if len(problems) > 3 else ""
        raise CorpusError(f"the training text changed since this run started ({', '.join(problems[:3])}{more}); "
                          "--resume needs the same text: put it back as it was, or train a new run on it")


def _check_held_out(split: TokenSplit) -> None:
    if len(split.val) < 2:
        raise CorpusError("too little text to hold any out for validation; give more text or raise --val-fraction")


def _claim_for_resume(path: Path, run_dir: Path, step: int, overwrite: bool) -> None:
    """A resumed run never quietly replaces later work: a last.pt further along, or another run."""
    last = run_dir / "last.pt"
    if run_dir.resolve() != path.parent.resolve():
        runs.claim_for_new_run(run_dir, overwrite)
        return
    if path.resolve() == last.resolve() or not last.exists():
        return
    later = _session(checkpoint.load(last), last)[1].step
    if later > step and not overwrite:
        raise UsageError(f"{last} is further along (step {later}) than {path.name} (step {step}); resume from "
                         f"last.pt, or pass --overwrite to go back to {path.name} (last.pt and the metrics after "
                         f"step {step} are then replaced)")
    runs.keep_metrics_until(run_dir, step)

