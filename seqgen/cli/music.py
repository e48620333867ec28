"""The music side of the command line: built-in corpora, whole-tune sampling, MIDI export."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import Progress
from rich.table import Table

from ..atomic import check_replaceable
from ..errors import SeqgenError, warn
from .common import app, fail, friendly, signals_as_flag
from .streams import write
from .display import err, out, quiet_progress


@app.command()
@friendly
def corpora() -> None:
    """List the built-in corpora (ABC tunes that ship with music21) with their sizes."""
    from ..music.abc import BUILTIN_CORPORA, corpus_stats

    table = Table(title="built-in corpora (ABC tunes shipped with music21)")
    for col in ("name", "description", "files", "tunes", "characters"):
        table.add_column(col, justify="right" if col in ("files", "tunes", "characters") else "left")
    with err.status("counting tunes..."):
        stats = [corpus_stats(name) for name in BUILTIN_CORPORA]
    for s in stats:
        table.add_row(f"builtin:{s.name}", s.description, str(s.files), f"{s.tunes:,}", f"{s.characters:,}")
    out.print(table)
    err.print("tunes: cleaned and de-duplicated; training also drops the few that music21 cannot read "
              "or whose bars do not add up to the meter")


@app.command()
@friendly
def export(
    paths: Annotated[list[str], typer.Argument(help="ABC files, folders of them or builtin:NAME.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the MIDI files.")] = Path("midi"),
    overwrite: Annotated[bool, typer.Option(help="Replace MIDI files of the same names in --out.")] = False,
) -> None:
    """Write every tune of ABC files as a MIDI file, even where music21's writer stumbles."""
    export_files(paths, out_dir, overwrite)


@app.command()
@friendly
def check(
    paths: Annotated[list[str], typer.Argument(help="ABC files, folders of them or builtin:NAME.")],
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per tune and line: file, n, title, valid, reasons, bars. [default: a line of text per tune]", show_default=False)] = False,
    strict: Annotated[bool, typer.Option(help="Exit 1 when a tune is invalid (by default 0 whenever the files could be read).")] = False,
) -> None:
    """Check every tune of ABC files as sampled tunes are checked: it parses, has a meter and a
    key, at least 4 bars, and each bar as written lasts what the meter says."""
    import json

    from ..evaluate import json_safe
    from ..music.checking import check_files

    with quiet_progress(err, *Progress.get_default_columns()) as progress:
        task = progress.add_task("checking tunes", total=None)
        reports = check_files(paths, on_progress=lambda done, total: progress.update(task, completed=done, total=total))
    for r in reports:
        if as_json:
            write(json.dumps(json_safe(r.as_dict()), ensure_ascii=False) + "\n")  # a name not UTF-8 as \xNN
        else:
            verdict = "valid" if r.valid else "invalid: " + "; ".join(r.reasons)
            write(f"{r.file}:{r.n}\t{r.title or '(no title)'}\t{verdict}\n")
    valid = sum(r.valid for r in reports)
    share = f" ({100 * valid / len(reports):.1f}%)" if reports else ""
    err.print(f"{len(reports)} tunes: {valid} valid{share}, {len(reports) - valid} invalid")
    if strict and valid < len(reports):
        raise typer.Exit(1)


def print_tune(model, length: int, num_samples: int = 1, conditions=None, **settings) -> None:
    """Tunes from a music model, from X: to their end, unchecked, to standard output (to the
    order of ``conditions``, when given), each as soon as it and the tunes before it have ended."""
    from ..music.tunes import finished_tunes, in_row_order

    cfg = model.sample_config(length=length, num_samples=num_samples, **settings)
    tunes = finished_tunes(model.sampler(cfg.precision), model.vocab, cfg, model.warmup, conditions)
    for i, text in enumerate(in_row_order(tunes)):
        write(f"{'' if i == 0 else chr(10)}{text.rstrip()}\n")


def print_tunes(model, length: int, num_samples: int = 1, conditions=None, **settings) -> None:
    """``print_tune`` at each temperature of a list (the same seed at each), each after its heading."""
    from ..sample_output import at_each_temperature

    for heading, one in at_each_temperature(model, settings):
        write(heading)
        print_tune(model, length, num_samples, conditions, **one)


def write_tunes_at_each(model, count: int, out_dir: Path, overwrite: bool, keep_invalid: bool, wav: bool,
                        sheet: bool, **settings) -> None:
    """``write_tunes``; for a list of temperatures, each one's batch into its own folder of
    ``out_dir`` (t0.5, t1.0, ...; every one checked before any tune is drawn), after its heading."""
    from ..config import SampleConfig
    from ..music.tune_files import prepare_folder
    from ..options import options
    from ..sample_output import at_each_temperature, temperature_label

    sampling = {f.name for f in options(SampleConfig)}  # not the tunes to order (meter, key, ...)
    runs = list(at_each_temperature(model, {k: v for k, v in settings.items() if k in sampling}))
    if len(runs) == 1:
        return write_tunes(model, count, out_dir, overwrite, keep_invalid, wav, sheet, **settings)
    model.check_tune_count(count)  # before any folder is made, or an earlier batch removed
    folders = [out_dir / f"t{temperature_label(one['temperature'])}" for _, one in runs]
    for folder in folders:
        prepare_folder(folder, overwrite)
    for (heading, one), folder in zip(runs, folders):
        write(heading)
        write_tunes(model, count, folder, overwrite, keep_invalid, wav, sheet, **{**settings, **one})


def write_tunes(model, count: int, out_dir: Path, overwrite: bool, keep_invalid: bool, wav: bool, sheet: bool,
                **settings) -> None:
    """Sample ``count`` checked tunes into ``out_dir`` as .abc and .mid (and .wav / sheet music),
    each as soon as its number is sure; a table of how it went. Fails (exit 1) when no tune could
    be written. Ctrl-C or SIGTERM stop the drawing at the next step: the tunes that had ended are
    written too, and one line says how many (exit 130, 143). An ``out_dir`` that already holds
    this very batch is left as it is (``DrawnAgain``), and said to hold it."""
    from ..music.tune_files import DrawnAgain, TuneFolder, earlier_tunes, prepare_folder

    model.check_tune_count(count)  # before --out is made, or an earlier batch removed
    again = not overwrite and bool(earlier_tunes(out_dir))
    writer = DrawnAgain(out_dir, wav, sheet) if again else TuneFolder(prepare_folder(out_dir, overwrite), wav, sheet)
    try:
        # Signals only set the flag: the drawing stops at its next step, and no file is cut short.
        with signals_as_flag() as stop, err.status("sampling tunes...") as status:
            batch = model.tunes(count, on_progress=lambda ok, tried: status.update(
                f"sampling tunes: {ok}/{count} valid, {tried} drawn"), on_tune=writer.write, stop=stop, **settings)
            writer.write_batch(batch, keep_invalid)  # what on_tune has not written: the invalid tunes, after the valid
        if stop.signum:
            fail(f"{stop.reason}: {out_dir} was left as it was" if again else _how_far(stop.reason, writer, count),
                 stop.exit_code)
        added = writer.settle() if again else []
    finally:
        if again:
            writer.discard()
    for line in writer.note_lines():
        err.print(f"[yellow]note:[/] {escape(line)}", highlight=False, soft_wrap=True)
    out.print(tune_table(batch, count, out_dir, keep_invalid))
    if again:
        err.print(escape(f"{out_dir} already holds this batch: the same files" +
                         (f" (added {', '.join(added)})" if added else "")), highlight=False, soft_wrap=True)
    _say_what_is_missing(batch, count, keep_invalid)


def _how_far(reason: str, writer, count: int) -> str:
    """The one line of a stopped ``write_tunes``: how many tunes it wrote, and where."""
    if not writer.written:
        return f"{reason} before any of the {count:,} tunes was ready: none was written to {writer.folder}"
    valid = writer.written - writer.invalid
    failed = f" and {writer.invalid:,} invalid" if writer.invalid else ""
    return (f"{reason} after {valid:,} of {count:,} tunes: {writer.folder} holds the {valid:,} valid tunes "
            f"written so far{failed}")


def tune_table(batch, count: int, out_dir: Path, keep_invalid: bool) -> Table:
    table = Table(title=escape(f"{count} tunes requested -> {out_dir}"))
    table.add_column("figure")
    table.add_column("count", justify="right")
    table.add_row("valid", str(len(batch.valid)))
    table.add_row("valid on the first try", str(batch.first_try_valid))
    table.add_row("drawn in all", str(batch.attempts))
    table.add_row("re-sampled", str(batch.attempts - count if batch.attempts > count else 0))
    table.add_row("still invalid (written)" if keep_invalid else "still invalid (not written)", str(len(batch.invalid)))
    for reason, n in sorted(batch.reasons.items(), key=lambda item: (-item[1], item[0])):  # ties: a fixed order
        table.add_row(escape(f"  rejected: {reason}"), str(n))  # reasons quote the tune: "K:[/M] names no key"
    return table


def _say_what_is_missing(batch, count: int, keep_invalid: bool) -> None:
    if batch.valid and len(batch.valid) < count:
        warn(f"only {len(batch.valid)} of the {count} tunes asked for passed their check; "
             "train longer for more valid tunes")
    if not batch.valid and not keep_invalid:
        raise SeqgenError(f"none of the {batch.attempts} tunes drawn passed its check, so none was written; "
                          "train the model longer, or pass --keep-invalid to write them anyway")


def export_files(specs: list[str], out_dir: Path, overwrite: bool = False) -> None:
    """Every tune of ABC files, folders or built-in corpora -> one MIDI file each; a summary."""
    import functools
    from collections import Counter

    from ..music.export import ensure_out_dir, export_named, export_names
    from ..music.workers import process_map

    files = _abc_files(specs)
    prefixes = _unique_prefixes(files)
    ensure_out_dir(out_dir)
    taken = [name for f in files for _, name in export_names(f, prefixes[f])
             if (out_dir / name).exists() or (out_dir / name).is_symlink()]
    for name in taken:  # before suggesting --overwrite: it never replaces a device, FIFO or link
        check_replaceable(out_dir / name)
    if taken and not overwrite:
        raise SeqgenError(f"{out_dir / taken[0]} exists ({len(taken)} of the files to write do); "
                          "choose another --out or pass --overwrite to replace them")
    methods: Counter = Counter()
    refused: list[str] = []  # why tunes were not handed to music21 at all
    differ = written = repaired = 0
    with quiet_progress(err, *Progress.get_default_columns()) as progress:
        task = progress.add_task("exporting", total=len(files))
        for results in process_map(functools.partial(export_named, out_dir=out_dir),
                                   [(f, prefixes[f]) for f in files]):
            methods.update(r.method for r in results)
            refused += [f"{r.title or 'untitled'}: {r.error}" for r in results if r.method == "refused"]
            differ += sum(bool(r.mismatch) for r in results)
            written += sum(r.path is not None for r in results)
            repaired += sum(r.path is not None and bool(r.repeat_notes) for r in results)
            progress.advance(task)
    table = Table(title=escape(f"MIDI export -> {out_dir}"))
    table.add_column("result")
    table.add_column("tunes", justify="right")
    table.add_row("tunes found", str(sum(methods.values())))
    table.add_row("parsed by music21", str(sum(methods.values()) - methods["failed"] - methods["refused"]))
    labels = {"failed": "not parsed by music21 (no MIDI)", "refused": "a meter or note length no tune has (no MIDI)"}
    for method, n in methods.most_common():
        table.add_row(labels.get(method, f"written ({method})"), str(n))
    table.add_row("MIDI files written", str(written))
    table.add_row("  of which every note checked against the score", str(written - differ))
    table.add_row("  of which repeat signs read as a musician would", str(repaired))
    out.print(table)
    if refused and written:
        err.print(f"[yellow]note:[/] passed over {len(refused)} tune(s) with a meter or note length no tune has "
                  f"({escape(refused[0])})", highlight=False, soft_wrap=True)
    if not written and refused and len(refused) == sum(methods.values()):
        raise SeqgenError(f"no MIDI file was written: no tune has a meter and note length a tune can have ({refused[0]})")
    if not written:
        raise SeqgenError(f"no MIDI file was written: music21 could not read any of the {sum(methods.values())} "
                          "tunes; check that they are ABC notation (X:, M:, L:, K: lines, then notes)")


def _abc_files(specs: list[str]) -> list[Path]:
    from ..music.abc import abc_files, source_paths

    return list(dict.fromkeys(f for f, _ in abc_files(source_paths(specs))))  # a file named twice is exported once


def _unique_prefixes(files: list[Path]) -> dict[Path, str]:
    """A name prefix per file: its stem, made unique when two files share one (a/t.abc, b/t.abc)."""
    prefixes: dict[Path, str] = {}
    used: set[str] = set()
    for f in files:
        prefix, n = f.stem, 1
        while prefix in used:
            n += 1
            prefix = f"{f.stem}-{n}"
        used.add(prefix)
        prefixes[f] = prefix
    return prefixes
