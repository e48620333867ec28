"""The seqgen command line: each command builds a config and calls one library function.

Library errors (SeqgenError) become one line on stderr and an exit code here, and only here:
2 for usage errors, 1 for runtime failures, 130/143 when training is interrupted.
"""

from __future__ import annotations

import functools
import json
import signal
import sys
import threading
from pathlib import Path
from typing import Annotated, Optional

import typer

from .errors import SeqgenError

app = typer.Typer(help="Train recurrent language models on text and folk tunes, and generate from them.",
                  add_completion=False, pretty_exceptions_enable=False, no_args_is_help=True)


def _fail(message: str, code: int) -> None:
    sys.stderr.write(f"error: {message}\n")
    raise typer.Exit(code)


def friendly(fn):
    """Turn library errors into one line on stderr and an exit code; never a traceback."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except SeqgenError as exc:
            _fail(str(exc), exc.exit_code)
        except BrokenPipeError:
            sys.stderr.close()  # output piped into `head`: stop quietly
            raise typer.Exit(0)
    return wrapper


def _set(obj, **values):
    """Copy the options the user gave (not None) onto a config object."""
    for name, value in values.items():
        if value is not None:
            setattr(obj, name, value)
    return obj


class _Interrupts:
    """Ctrl-C / SIGTERM ask training to stop at the next step and save; repeats are ignored."""

    codes = {signal.SIGINT: 130, signal.SIGTERM: 143}

    def __init__(self):
        self.stop = threading.Event()
        self.signum = None

    def __enter__(self):
        self.previous = {s: signal.signal(s, self._handle) for s in self.codes}
        return self

    def _handle(self, signum, frame):
        if self.signum is None:
            self.signum = signum
            sys.stderr.write("\nstopping: saving the last checkpoint (this can take a moment)...\n")
        self.stop.set()

    def __exit__(self, *exc):
        for s, handler in self.previous.items():
            signal.signal(s, handler)


@app.command()
@friendly
def train(
    paths: Annotated[Optional[list[str]], typer.Argument(help="Text files, folders of .txt, .abc files or builtin:NAME.", show_default=False)] = None,
    level: Annotated[Optional[str], typer.Option(help="Tokens: char or word.")] = None,
    cell: Annotated[Optional[str], typer.Option(help="Recurrent cell: lstm, gru or rnn.")] = None,
    layers: Annotated[Optional[int], typer.Option(help="Stacked recurrent layers. [default: 2]")] = None,
    hidden: Annotated[Optional[int], typer.Option(help="Hidden units per layer. [default: 512]")] = None,
    embed: Annotated[Optional[int], typer.Option(help="Embedding size (0: same as --hidden).")] = None,
    dropout: Annotated[Optional[float], typer.Option(help="Dropout probability in [0, 1). [default: 0.2 for characters, 0.5 for words]")] = None,
    tie: Annotated[Optional[bool], typer.Option("--tie/--no-tie", help="Share input and output embeddings. [default: words yes, characters no]", show_default=False)] = None,
    seq_len: Annotated[Optional[int], typer.Option(help="Truncated BPTT length; the state carries across batches. [default: 128]")] = None,
    batch_size: Annotated[Optional[int], typer.Option(help="Sequences per batch. [default: 16]")] = None,
    lr: Annotated[Optional[float], typer.Option(help="Peak learning rate (AdamW, warm-up then cosine decay). [default: 3e-3]")] = None,
    clip: Annotated[Optional[float], typer.Option(help="Gradient-norm clipping (0: off). [default: 1.0]")] = None,
    epochs: Annotated[Optional[int], typer.Option(help="Passes over the training text. [default: 50]")] = None,
    max_steps: Annotated[Optional[int], typer.Option(help="Stop after this many steps (0: no limit).")] = None,
    time_budget: Annotated[Optional[str], typer.Option(help="Stop cleanly after this long, e.g. 90s, 10m, 1h.")] = None,
    val_fraction: Annotated[Optional[float], typer.Option(help="Share of the text held out for validation. [default: 0.1]")] = None,
    eval_every: Annotated[Optional[int], typer.Option(help="Steps between validations. [default: 100]")] = None,
    patience: Annotated[Optional[int], typer.Option(help="Validations without improvement before stopping early (0: never). [default: 6]")] = None,
    max_vocab: Annotated[Optional[int], typer.Option(help="Word level: keep at most this many words (0: all).")] = None,
    min_count: Annotated[Optional[int], typer.Option(help="Word level: rarer words become <unk>. [default: 1]")] = None,
    seed: Annotated[Optional[int], typer.Option(help="Random seed. [default: 1337]")] = None,
    device: Annotated[Optional[str], typer.Option(help="auto, cpu, cuda or mps.")] = None,
    precision: Annotated[Optional[str], typer.Option(help="auto (bf16 where the hardware has it, fp16 on older GPUs), fp32, bf16 or fp16.")] = None,
    softmax: Annotated[Optional[str], typer.Option(help="Output layer: full, adaptive (fast for large word vocabularies) or auto.")] = None,
    encoding: Annotated[str, typer.Option(help="Text encoding of the input files.")] = "utf-8",
    out: Annotated[Optional[Path], typer.Option(help="Run folder. [default: checkpoints/<run-name>/]")] = None,
    resume: Annotated[Optional[Path], typer.Option(help="Continue the run saved in this checkpoint.")] = None,
    model: Annotated[str, typer.Option(help="rnn (the recurrent model) or ngram (a Kneser-Ney baseline).")] = "rnn",
    order: Annotated[int, typer.Option(help="--model ngram: n-gram order, 1 to 7.")] = 5,
) -> None:
    """Train a language model on text or ABC tunes and save checkpoints under checkpoints/."""
    from .config import ModelConfig, TrainConfig, parse_duration
    from .display import TrainDisplay
    from .errors import UsageError
    from .train import train as run_training

    if not paths and not resume:
        raise UsageError("give a text file, folder or builtin:NAME to train on (or --resume CKPT)")
    cfg = _set(TrainConfig(), level=level, seq_len=seq_len, batch_size=batch_size, lr=lr, clip=clip,
               epochs=epochs, max_steps=max_steps, val_fraction=val_fraction, eval_every=eval_every,
               patience=patience, max_vocab=max_vocab, min_count=min_count, seed=seed, device=device,
               precision=precision,
               time_budget=parse_duration(time_budget) if time_budget else None)
    if model not in ("rnn", "ngram"):
        raise UsageError(f"--model must be rnn or ngram (got {model!r})")
    if model == "ngram":
        return _train_ngram(list(paths or []), cfg, order, out, encoding)
    model_cfg = _set(ModelConfig.for_level(cfg.level), cell=cell, layers=layers, hidden=hidden, embed=embed, dropout=dropout, tie=tie,
                     softmax=softmax)
    cfg.validate()
    model_cfg.validate()
    display = TrainDisplay()
    with _Interrupts() as interrupts:
        try:
            result = run_training(list(paths or []), model_cfg, cfg, out, encoding, resume, display, interrupts.stop)
        finally:
            display.stop()
    if result.reason == "interrupted":
        sys.stderr.write(f"saved {result.last_path}; continue with: seqgen train --resume {result.last_path}\n")
        raise typer.Exit(_Interrupts.codes.get(interrupts.signum, 130))


def _train_ngram(paths: list[str], cfg, order: int, out: Optional[Path], encoding: str) -> None:
    from .display import err
    from .ngram import _check_order
    from .train_ngram import train_ngram

    _check_order(order)
    with err.status(f"counting {order}-grams..."):
        result, score, seconds = train_ngram(paths, cfg, order, out, encoding)
    err.print(f"counted in {seconds:.1f} s; held-out cross-entropy {score.cross_entropy:.4f} nats/token, "
              f"perplexity {score.perplexity:.2f}")
    err.print(f"checkpoint: {result.best_path}")


@app.command()
@friendly
def sample(
    checkpoint: Annotated[Optional[Path], typer.Argument(help="Checkpoint file. [default: latest run's best.pt]", show_default=False)] = None,
    temperature: Annotated[float, typer.Option(help="Randomness: > 0; 0 picks the likeliest token (greedy).")] = 0.8,
    length: Annotated[int, typer.Option(help="Tokens to generate per sample.")] = 500,
    prime: Annotated[str, typer.Option(help="Text to start from.")] = "",
    top_k: Annotated[Optional[int], typer.Option(help="Sample only from the k likeliest tokens.")] = None,
    top_p: Annotated[Optional[float], typer.Option(help="Sample from the smallest set of tokens with this much probability (0, 1]. [default: 1.0; 0.7 for music models]", show_default=False)] = None,
    num_samples: Annotated[int, typer.Option(help="How many samples.")] = 1,
    seed: Annotated[Optional[int], typer.Option(help="Random seed: the same seed gives the same text.")] = None,
    precision: Annotated[str, typer.Option(help="auto or int8: int8 weights on the CPU, several times faster; fp32: exact.")] = "auto",
    tunes: Annotated[Optional[int], typer.Option(help="Music models: sample this many whole, checked tunes into --out.")] = None,
    out: Annotated[Path, typer.Option(help="Music models: folder for the tunes (.abc, .mid, ...).")] = Path("tunes"),
    keep_invalid: Annotated[bool, typer.Option(help="Music models: also write tunes that fail their check.")] = False,
    wav: Annotated[bool, typer.Option(help="Music models: render audio with fluidsynth when installed.")] = False,
    sheet: Annotated[bool, typer.Option(help="Music models: write sheet music (lilypond PNG, else MusicXML).")] = False,
) -> None:
    """Generate text (or whole folk tunes, for a music model); a single sample streams as it is written."""
    from . import checkpoint as ckpt
    from .config import SampleConfig
    from .music.tunes import TUNE_TOP_P
    from .sample import for_sampling, generate, prime_ids

    cfg = SampleConfig(length=length, temperature=temperature, top_k=top_k, top_p=1.0 if top_p is None else top_p,
                       prime=prime, num_samples=num_samples, seed=seed, precision=precision).validate()
    path, found = ckpt.resolve(checkpoint)
    if found:
        sys.stderr.write(f"using {path}\n")
    payload = ckpt.load(path)
    if top_p is None and payload["data"]["kind"] == "abc":
        cfg.top_p = TUNE_TOP_P
    model, vocab = ckpt.load_model(payload)
    _, unknown = prime_ids(vocab, prime)
    if unknown:
        shown = ", ".join(repr(u) for u in unknown[:10])
        sys.stderr.write(f"warning: the model never saw {shown} in --prime; they are read as <unk>\n")
    if payload["model_type"] == "ngram":
        from .sample import generate_ngram as generate
    else:
        model = for_sampling(model, cfg.precision)
        if tunes is not None or payload["data"]["kind"] == "abc":
            from .cli_music import sample_music

            return sample_music(path, payload, model, vocab, cfg, tunes, out, keep_invalid, wav, sheet)
    if num_samples == 1:
        sys.stdout.write(prime)
        generate(model, vocab, cfg, on_text=lambda i, text: (sys.stdout.write(text), sys.stdout.flush()))
        sys.stdout.write("\n")
        return
    for i, text in enumerate(generate(model, vocab, cfg)):
        sys.stdout.write(f"{'' if i == 0 else chr(10)}=== sample {i + 1} ===\n{text}\n")


@app.command("eval")
@friendly
def evaluate(
    paths: Annotated[Optional[list[str]], typer.Argument(help="Checkpoints (.pt), then text files to score. [default: latest checkpoint on its held-out text]", show_default=False)] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    encoding: Annotated[str, typer.Option(help="Text encoding of the text files.")] = "utf-8",
    tunes: Annotated[int, typer.Option(help="Music models: tunes to sample for the validity and novelty figures (0: none).")] = 50,
) -> None:
    """Report cross-entropy, perplexity and bits per character on held-out or given text.

    For a music model also the share of sampled tunes that parse, export to MIDI, have every bar
    the right length, and the novelty of their 16-note phrases.
    """
    from . import checkpoint as ckpt
    from .display import out, score_table, tune_table
    from .scoring import score_checkpoint

    paths = list(paths or [])
    ckpts = [Path(p) for p in paths if p.endswith(".pt")]
    texts = [p for p in paths if not p.endswith(".pt")]
    if not ckpts:
        path, _ = ckpt.resolve(None)
        sys.stderr.write(f"using {path}\n")
        ckpts = [path]
    rows = [score_checkpoint(c, texts, encoding, tunes) for c in ckpts]
    if json_out:
        print(json.dumps(rows[0] if len(rows) == 1 else rows, indent=2))
    else:
        out.print(score_table(rows))
        music = [r for r in rows if "parse_pct" in r]
        if music:
            out.print(tune_table(music))


app.command("evaluate", help="Alias of eval.")(evaluate)


@app.command()
@friendly
def corpora() -> None:
    """List the built-in corpora (ABC tunes that ship with music21) with their sizes."""
    from .cli_music import list_corpora

    list_corpora()


@app.command()
@friendly
def export(
    paths: Annotated[list[str], typer.Argument(help="ABC files, folders of them or builtin:NAME.")],
    out: Annotated[Path, typer.Option(help="Folder for the MIDI files.")] = Path("midi"),
) -> None:
    """Write every tune of ABC files as a MIDI file, even where music21's writer stumbles."""
    from .cli_music import export_files

    export_files(paths, out)


@app.command()
@friendly
def bench(
    quick: Annotated[bool, typer.Option(help="Shorter batches and fewer repeats: well under a minute.")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object, one key per figure.")] = False,
    word_corpus: Annotated[Optional[Path], typer.Option(help="Text whose word vocabulary sizes the word models (default: 18,000 words).")] = None,
    device: Annotated[str, typer.Option(help="Where to train: auto, cpu, cuda or mps (sampling runs on the CPU, as seqgen sample does).")] = "auto",
) -> None:
    """Measure training (a ladder from a textbook loop up to seqgen's step), sampling and tokenising speed here."""
    from rich.markup import escape
    from rich.table import Table

    from .bench import run_bench, sizes_for, table_notes, table_sections
    from .bench.report import number
    from .corpus import read_text_file
    from .device import choose_device
    from .display import err, out

    choose_device(device)  # a device that is not here: one line, before any work
    text = read_text_file(word_corpus) if word_corpus else None
    with err.status("benchmarking...") as status:
        figures = run_bench(sizes_for(quick), device, text,
                            on_figure=lambda name, value: status.update(f"benchmarking: {name} = {number(value)}"))
    if json_out:
        print(json.dumps(figures, indent=2))
        return
    table = Table(title="seqgen bench", caption="\n".join(map(escape, table_notes(figures))), caption_justify="left")
    for column, justify in (("figure", "left"), ("median", "right"), ("min - max", "right"), ("speed-up", "right")):
        table.add_column(column, justify=justify)
    for title, rows in table_sections(figures):
        table.add_section()
        table.add_row(f"[bold]{escape(title)}[/bold]")
        for row in rows:
            table.add_row(*map(escape, row))
    out.print(table)


def main() -> None:
    app()
