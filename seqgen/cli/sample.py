"""``seqgen sample`` and ``seqgen eval``: generate from a checkpoint, and measure it."""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..errors import SeqgenError, UsageError
from ..evaluate import json_safe
from .config_options import config_options
from .common import announce, app, fail, friendly, refuse_options, signals_as_flag
from .streams import write

TUNE_OPTIONS = ("tunes", "keep_invalid", "wav", "sheet", "meter", "key", "prime_abc")


def _sampling_options():
    from ..config import FillOptions, SampleConfig, TuneOptions

    return [SampleConfig, TuneOptions, FillOptions]


def _fill_options():
    from ..config import FillOptions

    return [FillOptions]


def _tune_options():
    from ..config import TuneOptions

    return [TuneOptions]


def _names(classes) -> list[str]:
    from ..options import options

    return [f.name for cls in classes for f in options(cls)]


@app.command()
@friendly
@config_options(_sampling_options)
def sample(
    ctx: typer.Context,
    checkpoint: Annotated[Optional[Path], typer.Argument(help="Checkpoint file. [default: the latest run's best.pt]", show_default=False)] = None,
    out: Annotated[Optional[Path], typer.Option(help="Text: write the sample to this file (several: FILE-1.txt, FILE-2.txt, ...). Music: the folder for --tunes. [default: standard output; tunes/ for --tunes]", show_default=False)] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace what --out already holds.")] = False,
    tunes: Annotated[Optional[int], typer.Option(help="Music models: sample this many whole, checked tunes into --out. [default: one tune to standard output]", show_default=False)] = None,
    keep_invalid: Annotated[bool, typer.Option(help="Music models: also write tunes that fail their check.")] = False,
    wav: Annotated[bool, typer.Option(help="Music models: render audio with a General MIDI soundfont (through fluidsynth when installed).")] = False,
    sheet: Annotated[bool, typer.Option(help="Music models: write sheet music (lilypond PDF and PNG, else MusicXML).")] = False,
    **options,
) -> None:
    """Generate text (or whole folk tunes, for a music model); a single sample streams as it is written."""
    from .. import api

    model = api.Model.load(checkpoint, on_found=announce)
    ordered = {name: options.pop(name) for name in _names(_tune_options())}  # --meter, --key, --prime-abc
    filling = {name: options.pop(name) for name in _names(_fill_options())}  # --fill, --backward, ...
    if filling["fill"] is not None:
        from .fill import fill_command

        _refuse_what_cannot_apply(ctx, model.kind, tunes, False)
        return fill_command(ctx, model, filling, tunes, options.pop("num_samples"), out, overwrite, keep_invalid,
                            wav, sheet, options)
    refuse_options(ctx, ("backward", "fill_method", "candidates"), "without --fill")
    _refuse_what_cannot_apply(ctx, model.kind, tunes, any(ordered.values()))
    length, num_samples = options.pop("length"), options.pop("num_samples")
    settings = options  # prime, temperature, top_k, ...: every other sampling option, by name
    # every setting checked first; a single sample streams, with no cap on its length
    model.sample_config(length=length, num_samples=num_samples, streaming=num_samples == 1, **settings)
    prime = settings["prime"]
    unknown = model.unknown_symbols(prime)
    if unknown:
        shown = ", ".join(repr(u) for u in unknown[:10])
        sys.stderr.write(f"warning: the model never saw {shown} in --prime; they are read as <unk>\n")
    if model.kind == "music":
        from .music import print_tunes, write_tunes_at_each

        wanted = model.tune_conditions(**ordered)
        if tunes is None:
            return print_tunes(model, length=length, num_samples=num_samples, conditions=wanted, **settings)
        return write_tunes_at_each(model, tunes, out or Path("tunes"), overwrite, keep_invalid, wav, sheet,
                                   **ordered, **{k: v for k, v in settings.items() if k != "prime"})
    if out is not None:
        return _write_samples(model, out, overwrite, length, num_samples, settings)
    from ..sample_output import printed

    for piece in printed(model, {"length": length, "num_samples": num_samples, **settings}):
        write(piece)


def _refuse_what_cannot_apply(ctx: typer.Context, kind: str, tunes: int | None, ordered: bool) -> None:
    """Options that cannot apply, refused before any value is checked: a warning about a --prime
    that --tunes would not use is noise, and --length's range means nothing with --tunes."""
    if kind != "music":
        return refuse_options(ctx, TUNE_OPTIONS, f"to a {kind} model; they are for models trained on ABC tunes")
    if ordered:
        refuse_options(ctx, ("prime",), "with --meter, --key or --prime-abc (the tune's start is theirs)")
    if tunes is None:
        refuse_options(ctx, ("keep_invalid", "wav", "sheet", "out", "overwrite"), "without --tunes")
    else:  # a tune runs from X: to where the model ends it; its first bars are --prime-abc's
        refuse_options(ctx, ("num_samples", "length", "prime"), "to --tunes (whole tunes from X: to their end; "
                       "give the number of tunes to --tunes and their first bars to --prime-abc)")


def _write_samples(model, out: Path, overwrite: bool, length: int, num_samples: int, settings: dict) -> None:
    """Each sample into a file of its own: ``out``, or ``out``-1, ``out``-2, ... for several; with a
    list of temperatures, each file holds its sample at each, after its heading."""
    from ..sample_output import refuse_taken

    paths = [out] if num_samples == 1 else [out.with_name(f"{out.stem}-{i}{out.suffix}") for i in range(1, num_samples + 1)]
    refuse_taken(paths, overwrite)
    try:
        if num_samples == 1:  # streamed into the file: any length, in constant memory
            return _stream_into(model, out, length, settings)
        return _side_by_side_into(model, paths, length, settings)
    except OSError as exc:
        raise SeqgenError(f"cannot write {out}: {exc.strerror or exc}; choose another --out") from None


def _side_by_side_into(model, paths: list[Path], length: int, settings: dict) -> None:
    """Samples drawn side by side, each streamed into its file of ``paths`` as it is drawn. Ctrl-C
    or SIGTERM stop them all at the next step, and what was drawn stays in the files: one line says
    how far they got (exit 130, 143)."""
    from ..atomic import atomic_path
    from ..sample_output import at_each_temperature

    with signals_as_flag() as stop, contextlib.ExitStack() as files:
        handles = [files.enter_context(open(files.enter_context(atomic_path(path)), "w", encoding="utf-8"))
                   for path in paths]
        for heading, one in at_each_temperature(model, settings):
            drawn = [0] * len(paths)

            def keep(row: int, piece: str) -> None:
                handles[row].write(piece)
                drawn[row] += 1
                if stop.signum:
                    raise _Stopped

            for fh in handles:  # the prime first, as a single sample streams it (on_text sees what is drawn)
                fh.write(heading + one["prime"])
            try:
                model.generate_many(len(paths), length=length, on_text=keep, **one)
            except _Stopped:
                pass  # each file keeps what its sample had drawn
            for fh in handles:
                fh.write("\n")
            if stop.signum:
                break
    if stop.signum:
        fail(f"{stop.reason} after {max(drawn):,} of {length:,} tokens{_at(settings, one)}: {paths[0]} to "
             f"{paths[-1].name} hold the {len(paths)} samples as far as they were drawn", stop.exit_code)
    sys.stderr.write(f"wrote {', '.join(map(str, paths))}\n")


class _Stopped(Exception):
    """Ctrl-C or SIGTERM came while samples were drawn side by side: the drawing ends here."""


def _stream_into(model, out: Path, length: int, settings: dict) -> None:
    """One sample streamed into ``out`` as it is drawn. Ctrl-C or SIGTERM stop it at the next
    token, and what was written stays in ``out``: one line says how far it got (exit 130, 143)."""
    from ..atomic import atomic_path
    from ..sample_output import at_each_temperature

    chars = 0
    with signals_as_flag() as stop, atomic_path(out) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        for heading, one in at_each_temperature(model, settings):
            fh.write(heading)
            chars, drawn = chars + len(heading), 0
            for piece in model.stream(length=length, **one):
                fh.write(piece)
                chars, drawn = chars + len(piece), drawn + 1
                if stop.signum:
                    break
            fh.write("\n")
            if stop.signum:
                break
            chars += 1  # the newline that ends each sample but the last written
    if stop.signum:
        drawn -= bool(settings["prime"])  # the prime came first, as it was given
        fail(f"{stop.reason} after {drawn:,} of {length:,} tokens{_at(settings, one)}: {out} holds the {chars:,} "
             "characters written so far", stop.exit_code)
    sys.stderr.write(f"wrote {out}\n")


def _at(settings: dict, one: dict) -> str:
    """" at temperature 0.5" (``one``'s) when ``settings`` give a list of them, else nothing."""
    from ..sample_output import temperature_label

    listed = isinstance(settings["temperature"], list)
    return f" at temperature {temperature_label(one['temperature'])}" if listed else ""


@app.command("eval")
@friendly
@config_options(_tune_options)
def evaluate(
    ctx: typer.Context,
    paths: Annotated[Optional[list[str]], typer.Argument(help="Checkpoints (.pt, or any file seqgen train saved), then text files to score. [default: the latest checkpoint on its held-out text]", show_default=False)] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table. [default: a table]", show_default=False)] = False,
    encoding: Annotated[str, typer.Option(help="Text encoding of the text files.")] = "utf-8",
    tunes: Annotated[int, typer.Option(help="Music models: tunes to sample for the validity and novelty figures (0: none).")] = 50,
    **options,
) -> None:
    """Report cross-entropy, perplexity and bits per character on held-out or given text.

    For a music model also the share of sampled tunes that parse, export to MIDI, have every bar
    the right length, and the novelty of their 16-note phrases.
    """
    from .. import api
    from ..training import checkpoint as ckpt
    from ..scoring import evaluation
    from .display import out, score_table, tune_table

    paths = list(paths or [])
    is_ckpt = [ckpt.looks_like_checkpoint(p) for p in paths]  # by name or content, as sample takes them
    ckpts = [Path(p) for p, yes in zip(paths, is_ckpt) if yes]
    texts = [p for p, yes in zip(paths, is_ckpt) if not yes]
    for text in texts:
        if Path(text).is_dir() and any((Path(text) / name).is_file() for name in ("best.pt", "last.pt")):
            raise UsageError(f"{text} is a run folder, not text to score; give {Path(text) / 'best.pt'} to "
                             "evaluate its checkpoint")
    if tunes < 0:
        raise UsageError(f"--tunes must be 0 or more (got {tunes})")
    # every checkpoint loaded (and so checked) before any is scored
    models = [api.Model.load(c) for c in ckpts] if ckpts else [api.Model.load(on_found=announce)]
    if not any(m.kind == "music" for m in models):
        refuse_options(ctx, ("meter", "key", "prime_abc") + (("tunes",) if tunes else ()),  # --tunes 0: none
                       f"to {'a text model' if len(models) == 1 else 'text models'}; they are for models "
                       "trained on ABC tunes")
    from ..music.conditions import conditions

    wanted = conditions(**options)  # meter, key and prime_abc, as sample takes them
    rows = [evaluation(m, texts, encoding, tunes, wanted) for m in models]
    if json_out:
        write(json.dumps(json_safe(rows[0] if len(rows) == 1 else rows), indent=2, allow_nan=False) + "\n")
        return
    out.print(score_table(rows))
    music = [r for r in rows if "parse_pct" in r]
    if music:
        out.print(tune_table(music))


app.command("evaluate", help="Alias of eval.")(evaluate)

