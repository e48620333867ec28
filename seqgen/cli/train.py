"""``seqgen train``: options -> ``seqgen.train``; progress drawn by ``display.TrainDisplay``."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..config import TrainConfig
from ..models.rnn_config import ModelConfig
from ..distributed import rank_from_env
from .common import Interrupts, app, friendly, given

T, M = TrainConfig(), ModelConfig()
# The options that go to seqgen.train when given (the rest of the signature is the command's own).
SETTINGS = ("level", "cell", "layers", "hidden", "embed", "dropout", "tie", "softmax", "seq_len", "batch_size",
            "lr", "clip", "epochs", "max_steps", "time_budget", "val_fraction", "eval_every", "patience",
            "max_vocab", "min_count", "seed", "device", "precision", "order")


@app.command()
@friendly
def train(
    ctx: typer.Context,
    paths: Annotated[Optional[list[str]], typer.Argument(help="Text files, folders of .txt, .abc files or builtin:NAME.", show_default=False)] = None,
    level: Annotated[str, typer.Option(help="Tokens: char or word.")] = T.level,
    model: Annotated[str, typer.Option(help="The model type: rnn (the recurrent model), ngram (a Kneser-Ney baseline), or another registered one.")] = "rnn",
    cell: Annotated[str, typer.Option(help="Recurrent cell: lstm, gru or rnn.")] = M.cell,
    layers: Annotated[int, typer.Option(help="Stacked recurrent layers.")] = M.layers,
    hidden: Annotated[int, typer.Option(help="Hidden units per layer.")] = M.hidden,
    embed: Annotated[int, typer.Option(help="Embedding size (0: same as --hidden).")] = M.embed,
    dropout: Annotated[Optional[float], typer.Option(help="Dropout probability in [0, 1). [default: 0.2 for characters, 0.5 for words]", show_default=False)] = None,
    tie: Annotated[Optional[bool], typer.Option("--tie/--no-tie", help="Share input and output embeddings. [default: --tie for words, --no-tie for characters]", show_default=False)] = None,
    softmax: Annotated[str, typer.Option(help="Output layer: full, adaptive (fast for large word vocabularies) or auto (adaptive for untied models of 5,000 tokens or more).")] = M.softmax,
    order: Annotated[int, typer.Option(help="--model ngram: the n-gram order, 1 to 7.")] = 5,
    seq_len: Annotated[int, typer.Option(help="Truncated BPTT length; the state carries across batches.")] = T.seq_len,
    batch_size: Annotated[int, typer.Option(help="Sequences per batch (per process).")] = T.batch_size,
    lr: Annotated[float, typer.Option(help="Peak learning rate (AdamW, warm-up then cosine decay).")] = T.lr,
    clip: Annotated[float, typer.Option(help="Gradient-norm clipping (0: off).")] = T.clip,
    epochs: Annotated[int, typer.Option(help="Passes over the training text.")] = T.epochs,
    max_steps: Annotated[int, typer.Option(help="Stop after this many steps in all (0: no limit).")] = T.max_steps,
    time_budget: Annotated[Optional[str], typer.Option(help="Stop cleanly after this long, e.g. 90s, 10m, 1h; with --resume, this much more. [default: no limit]", show_default=False)] = None,
    val_fraction: Annotated[float, typer.Option(help="Share of the text held out for validation.")] = T.val_fraction,
    eval_every: Annotated[int, typer.Option(help="Steps between validations.")] = T.eval_every,
    patience: Annotated[int, typer.Option(help="Validations without improvement before stopping early (0: never).")] = T.patience,
    max_vocab: Annotated[int, typer.Option(help="Word level: keep at most this many words (0: all).")] = T.max_vocab,
    min_count: Annotated[int, typer.Option(help="Word level: rarer words become <unk>.")] = T.min_count,
    seed: Annotated[int, typer.Option(help="Random seed.")] = T.seed,
    device: Annotated[str, typer.Option(help="auto (a CUDA GPU, else Apple's MPS, else the CPU), cpu, cuda or mps.")] = T.device,
    precision: Annotated[str, typer.Option(help="auto (the fastest that runs here: bf16 on recent GPUs, fp16 on older ones, on a CPU bf16 only where timed faster than fp32), fp32, bf16 or fp16.")] = T.precision,
    encoding: Annotated[str, typer.Option(help="Text encoding of the input files.")] = "utf-8",
    out: Annotated[Optional[Path], typer.Option(help="Run folder. [default: checkpoints/<run-name>/]", show_default=False)] = None,
    resume: Annotated[Optional[Path], typer.Option(help="Continue the run saved in this checkpoint. [default: a new run]", show_default=False)] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace the run --out holds, or (with --resume) a last.pt further along.")] = False,
    nproc: Annotated[int, typer.Option(help="Train on this many processes of this machine (one per GPU, or per CPU core), as torchrun --standalone --nproc-per-node does.")] = 1,
    backend: Annotated[str, typer.Option(help="With several processes: auto (NCCL on GPUs, gloo on CPUs), gloo or nccl.")] = "auto",
) -> None:
    """Train a language model on text or ABC tunes and save checkpoints under checkpoints/."""
    from .. import api
    from ..errors import UsageError
    from .display import TrainDisplay

    if not paths and not resume:
        raise UsageError("give a text file, folder or builtin:NAME to train on (or --resume CKPT)")
    if nproc != 1:
        return _launch(ctx, nproc, model, device, backend)
    options = {name: value for name, value in locals().items() if name in given(ctx, *SETTINGS)}
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
            from ..runs import resume_command

            processes = int(os.environ.get("WORLD_SIZE", "1"))
            sys.stderr.write(f"saved {result.last_path}; continue with: {resume_command(result.last_path, processes)}\n")
        raise typer.Exit(Interrupts.exit_codes[result.reason])


def _launch(ctx: typer.Context, nproc: int, model: str, device: str, backend: str) -> None:
    """``--nproc N``: this same command in N processes, started by PyTorch's launcher."""
    from ..distributed import under_torchrun
    from ..errors import UsageError
    from ..launch import check_nproc, launch
    from ..models import model_class

    if under_torchrun():
        raise UsageError("--nproc starts the processes itself; under torchrun, leave it out")
    if model_class(model).trained_by == "counting":
        raise UsageError(f"a {model} model is counted in one process, in seconds: train it without --nproc")
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
