"""``seqgen.train``: the Python door into training, its options named and read as the command
line's (``seqgen train --help`` lists them)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from . import arguments
from .errors import UsageError, does_not_apply
from .options import options as option_fields
from .options import typed
from .training.loop import TrainResult


def train(*sources: str | Path, model: str = "rnn", resume: str | Path | None = None, out: str | Path | None = None,
          overwrite: bool = False, encoding: str = "utf-8", on_event: Callable[[str, dict], None] | None = None,
          stop=None, backend: str = "auto", **options) -> TrainResult:
    """Train a model on text files, folders or ``builtin:NAME`` tune collections, or continue the
    run saved in ``resume``; return the run (its folder, checkpoints, best validation loss).

    ``options`` are named as the command line's: ``level``, ``hidden``, ``layers``, ``cell``,
    ``seq_len``, ``batch_size``, ``lr``, ``max_steps``, ``time_budget`` ("90s", "10m" or seconds), ...;
    ``seqgen train --help`` lists them all with their defaults. ``on_event(kind, info)`` sees the
    run's progress ("start", "step", "eval", "end", ...); ``stop`` (a ``threading.Event``) ends it
    cleanly at the next step. Started by torchrun, every process calls this and they train one
    model together (``backend``: auto, gloo or nccl).
    """
    from .training.run import new_run, resume_run

    sources = arguments.paths("sources", list(sources))  # as the command line takes them: several, or a list
    for name, value, kind in (("model", model, "str"), ("encoding", encoding, "str"),
                              ("overwrite", overwrite, "bool"), ("backend", backend, "str")):
        typed(name, value, kind)
    resume = arguments.path("resume", resume) if resume is not None else None
    out = arguments.path("out", out) if out is not None else None
    arguments.callback("on_event", on_event)
    arguments.stop_flag(stop)
    given = _read_options(options)
    if resume is not None:
        if sources:
            raise UsageError("--resume continues a run on its own text; give no sources with it")
        return resume_run(Path(resume), given, Path(out) if out else None, on_event, stop, overwrite, backend)
    cls, cfg, model_cfg = _configs(model, given)
    plan = frozenset(given) if planned(cls, cfg, given) else None
    return new_run(sources, model_cfg, cfg, Path(out) if out else None, encoding, on_event,
                   stop, overwrite, backend, plan)


def plan(*sources: str | Path, model: str = "rnn", encoding: str = "utf-8", **options):
    """The plan ``train`` follows for these sources and ``time_budget`` when no shape is given
    (``seqgen train --plan``): the model it would train and what the budget buys it here, as a
    ``seqgen.training.plan.Plan``. Measures this machine's speed once (cached)."""
    from .training.run import plan_run

    sources = arguments.paths("sources", list(sources))
    typed("model", model, "str")
    typed("encoding", encoding, "str")
    given = _read_options(options)
    cls, cfg, model_cfg = _configs(model, given)
    if not cfg.time_budget:
        raise UsageError("--plan sizes the model to --time-budget: give one, e.g. --time-budget 10m")
    if not planned(cls, cfg, given):
        raise UsageError("--plan chooses the shape of the recurrent model; with --hidden or --layers given, or "
                         "another --model, there is nothing to plan")
    return plan_run(sources, model_cfg, cfg, encoding, given=frozenset(given))


def planned(cls, cfg, given: dict) -> bool:
    """Whether a run is planned: timed, of a model type with a shape, and no shape given."""
    from .models import config_fields

    shape = {"hidden", "layers"}
    return bool(cfg.time_budget) and shape <= config_fields(cls) and not shape & set(given)


def _read_options(options: dict) -> dict:
    """The options given (not None), each read as the command line reads it ("10m")."""
    from .config import TrainConfig

    given = {k: v for k, v in options.items() if v is not None}
    for f in option_fields(TrainConfig):  # the command line's text ("10m"), read as the option says
        if f.metadata.get("reader") and isinstance(given.get(f.name), str):
            given[f.name] = f.metadata["reader"](given[f.name])
    return given


def _configs(model: str, given: dict):
    """The model type, the training configuration and the model's, from the options given; options
    unknown, or of another model type, refused."""
    from dataclasses import fields

    from .config import TrainConfig
    from .models import config_fields, model_class, model_types
    from .training.strategies import training_of

    cls = model_class(model)
    train_names = {f.name for f in fields(TrainConfig)}
    mine = config_fields(cls)
    elsewhere = set().union(*(config_fields(model_class(m)) for m in model_types())) - mine
    wrong = [k for k in given if k not in train_names | mine]
    unknown = [k for k in wrong if k not in elsewhere]
    if unknown:
        raise UsageError(f"unknown option{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}")
    wrong += [k for k in given if k in training_of(cls).unused_settings]
    if wrong:
        raise does_not_apply(["--" + k.replace("_", "-") for k in wrong], f"to --model {cls.name}")
    cfg = TrainConfig(**{k: v for k, v in given.items() if k in train_names})
    model_cfg = cls.Config.for_level(cfg.level) if hasattr(cls.Config, "for_level") else cls.Config()
    for name in mine & set(given):
        setattr(model_cfg, name, given[name])
    return cls, cfg, model_cfg
