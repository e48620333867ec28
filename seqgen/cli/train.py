"""``seqgen train``: options -> ``seqgen.train``; progress drawn by ``display.TrainDisplay``."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..config import TrainConfig
from ..training.process_env import rank_from_env
from .common import Interrupts, app, friendly, given
from .config_options import config_options


def _training_options() -> list[type]:
    """The training configuration, then every registered model type's own (``--order`` is the
    n-gram's): read when the command line is built, so a model type registered later is in it."""
    from ..models.registry import model_config, model_types

    return [TrainConfig, *(model_config(name) for name in model_types())]


@app.command()
@friendly
@config_options(_training_options)
def train(
    ctx: typer.Context,
    paths: Annotated[Optional[list[str]], typer.Argument(help="Text files, folders of .txt, .abc files or builtin:NAME.", show_default=False)] = None,
    model: Annotated[str, typer.Option(help="The model type: rnn (the recurrent model), ngram (a Kneser-Ney baseline), or another registered one.")] = "rnn",
    encoding: Annotated[str, typer.Option(help="Text encoding of the input files.")] = "utf-8",
    out: Annotated[Optional[Path], typer.Option(help="Run folder. [default: checkpoints/<run-name>/]", show_default=False)] = None,
    resume: Annotated[Optional[Path], typer.Option(help="Continue the run saved in this checkpoint. [default: a new run]", show_default=False)] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace the run --out holds, or (with --resume) a last.pt further along.")] = False,
    nproc: Annotated[int, typer.Option(help="Train on this many processes of this machine (one per GPU, or per CPU core), as torchrun --standalone --nproc-per-node does.")] = 1,
    backend: Annotated[str, typer.Option(help="With several processes: auto (NCCL on GPUs, gloo on CPUs), gloo or nccl.")] = "auto",
    plan: Annotated[bool, typer.Option("--plan/--no-plan", help="Print the model --time-budget would train on this machine (shape, tokens, epochs), then stop without training.")] = False,
    **settings,
) -> None:
    """Train a language model on text or ABC tunes and save checkpoints under checkpoints/."""
    from .. import api
    from ..errors import UsageError
    from .display import TrainDisplay

    if not paths and not resume:
        raise UsageError("give a text file, folder or builtin:NAME to train on (or --resume CKPT)")
    options = {name: settings[name] for name in given(ctx, *settings)}  # the rest: each config's default
    if plan:
        if resume or nproc != 1:
            raise UsageError("--plan plans a new run in one process; leave out --resume and --nproc")
        made = api.plan(*(paths or []), model=model, encoding=encoding, **options)
        typer.echo(made.describe())
        return
    if nproc != 1:
        device = settings["device"] if given(ctx, "device") or not resume else _stored_device(resume)
        return _launch(ctx, nproc, model, device, backend)
    display = TrainDisplay() if rank_from_env() == 0 else None
    with Interrupts() as interrupts:
        def on_event(kind: str, info: dict) -> None:
            if kind == "start":
                interrupts.training = True  # from here a signal saves the run and stops it
            if display is not None:
                display(kind, info)

        try:
            result = api.train(*(paths or []), model=model, resume=resume, out=out, overwrite=overwrite,
                               encoding=encoding, on_event=on_event, stop=interrupts.stop, backend=backend, **options)
            if result.reason in Interrupts.exit_codes:
                interrupts.hold()
        finally:
            if display is not None:
                display.stop()
    if result.reason in Interrupts.exit_codes:
        if rank_from_env() == 0:
            from ..training.runs import resume_command

            processes = int(os.environ.get("WORLD_SIZE", "1"))
            sys.stderr.write(f"saved {result.last_path}; continue with: {resume_command(result.last_path, processes)}\n")
        raise typer.Exit(Interrupts.exit_codes[result.reason])


def _stored_device(resume: Path) -> str:
    """The device a resumed run computes on when --device is not given: the one it was trained with
    (a run trained on the CPU goes on there, on a machine with a GPU too)."""
    from ..training import checkpoint

    return (checkpoint.load(resume).get("train_config") or {}).get("device") or "auto"


def _launch(ctx: typer.Context, nproc: int, model: str, device: str, backend: str) -> None:
    """``--nproc N``: this same command in N processes, started by PyTorch's launcher."""
    from ..training.process_env import under_torchrun
    from ..errors import UsageError
    from ..training.launch import check_nproc, launch
    from ..models import model_class
    from ..training.strategies import training_of

    if under_torchrun():
        raise UsageError("--nproc starts the processes itself; under torchrun, leave it out")
    cls = model_class(model)
    training_of(cls).check_processes(cls, nproc, "--nproc")
    check_nproc(nproc, device)
    code = launch(nproc, command_line(ctx, skip=("nproc", "backend")), backend)
    if code:
        raise typer.Exit(code)


def command_line(ctx: typer.Context, skip: tuple[str, ...] = ()) -> list[str]:
    """The arguments the user gave this command, written out again (without ``skip``)."""
    args: list[str] = []
    for param in ctx.command.params:
        if param.name in skip or param.name not in given(ctx, param.name):
            continue
        value = ctx.params[param.name]
        if param.param_type_name == "argument":
            args += [str(v) for v in (value if isinstance(value, (list, tuple)) else [value])]
        elif isinstance(value, bool) and (param.is_flag or param.secondary_opts):
            args.append(param.opts[0] if value else param.secondary_opts[0])
        else:
            args += [param.opts[0], str(value)]
    return args
