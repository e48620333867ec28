"""The music side of the command line: built-in corpora, whole-tune sampling, MIDI export."""

from __future__ import annotations

import sys
from pathlib import Path

from rich.table import Table

from rich.progress import Progress

from .display import err, out, quiet_progress


def list_corpora() -> None:
    """Print the built-in ABC corpora with their tune and character counts."""
    from .music.abc import BUILTIN_CORPORA, corpus_stats

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


def sample_music(path: Path, payload: dict, model, vocab, cfg, tunes: int | None, out_dir: Path,
                 keep_invalid: bool, wav: bool, sheet: bool) -> None:
    """``seqgen sample`` for a music model: one tune to the terminal, or ``tunes`` checked tunes into out_dir."""
    from .errors import UsageError

    if tunes is not None and tunes < 1:
        raise UsageError(f"--tunes must be at least 1 (got {tunes})")
    if payload["data"]["kind"] != "abc":
        raise UsageError(f"{path} is a text model; --tunes needs a model trained on ABC tunes")
    if tunes is None:
        return print_tune(model, vocab, cfg)
    return write_tunes(model, vocab, tunes, cfg, out_dir, keep_invalid, wav, sheet)


def write_tunes(model, vocab, count: int, cfg, out_dir: Path, keep_invalid: bool, wav: bool, sheet: bool) -> None:
    """Sample ``count`` checked tunes into out_dir as .abc and .mid (and .wav / sheet music)."""
    from .errors import MusicError
    from .music.export import ensure_out_dir, tune_to_midi
    from .music.render import render_sheet, render_wav
    from .music.tunes import sample_tunes

    out_dir = ensure_out_dir(out_dir)
    with err.status("sampling tunes...") as status:
        batch = sample_tunes(model, vocab, count, cfg,
                             on_progress=lambda ok, tried: status.update(f"sampling tunes: {ok}/{count} valid, {tried} drawn"))
    chosen = batch.valid + (batch.invalid if keep_invalid else [])
    notes: dict[str, list[str]] = {}  # what could not be made -> files written instead
    for n, (text, check) in enumerate(chosen, 1):
        stem = out_dir / f"{n:03d}{'' if check.valid else '-invalid'}"
        stem.with_suffix(".abc").write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
        if check.score is None:
            continue
        midi = tune_to_midi(check.score, stem.with_suffix(".mid"))
        if midi.path is None:
            continue
        if wav:
            try:
                render_wav(midi.path, stem.with_suffix(".wav"))
            except MusicError as exc:
                notes.setdefault(str(exc), [])
        if sheet:
            drawn = render_sheet(check.score, stem.with_suffix(".png"))
            if drawn.fallback:
                notes.setdefault(drawn.fallback, []).append(drawn.path.name)
    for why, written in notes.items():
        instead = f"; wrote {', '.join(written)} instead" if written else ""
        err.print(f"[yellow]note:[/] {why}{instead}", highlight=False)
    table = Table(title=f"{count} tunes requested -> {out_dir}")
    table.add_column("figure")
    table.add_column("count", justify="right")
    table.add_row("valid", str(len(batch.valid)))
    table.add_row("valid on the first try", str(batch.first_try_valid))
    table.add_row("drawn in all", str(batch.attempts))
    table.add_row("re-sampled", str(batch.attempts - count if batch.attempts > count else 0))
    table.add_row("still invalid (written)" if keep_invalid else "still invalid (not written)", str(len(batch.invalid)))
    for reason, n in batch.reasons.most_common():
        table.add_row(f"  rejected: {reason}", str(n))
    out.print(table)


def print_tune(model, vocab, cfg) -> None:
    """One tune from a music model, streamed, from X: to its end."""
    from .music.tunes import draw_tunes

    for i, text in enumerate(draw_tunes(model, vocab, cfg)):
        sys.stdout.write(f"{'' if i == 0 else chr(10)}{text.rstrip()}\n")


def export_files(specs: list[str], out_dir: Path) -> None:
    """Every tune of ABC files, folders or built-in corpora -> one MIDI file each; a summary."""
    import functools
    from collections import Counter

    from .errors import MusicError
    from .music.abc import source_paths
    from .music.export import ensure_out_dir, export_abc_file
    from .music.workers import process_map

    files: list[Path] = []
    for path in source_paths(specs):
        if not path.exists():
            raise MusicError(f"{path}: no such file or folder; give .abc files, folders of them or builtin:NAME")
        found = sorted(path.rglob("*.abc")) if path.is_dir() else [path]
        if not found:
            raise MusicError(f"{path}: folder has no .abc files; point at ABC files (*.abc)")
        files.extend(found)
    ensure_out_dir(out_dir)
    methods: Counter = Counter()
    differ = 0  # files whose notes could not be made to match the score by any fallback
    with quiet_progress(err, *Progress.get_default_columns()) as progress:
        task = progress.add_task("exporting", total=len(files))
        for results in process_map(functools.partial(export_abc_file, out_dir=out_dir), files):
            methods.update(r.method for r in results)
            differ += sum(bool(r.mismatch) for r in results)
            progress.advance(task)
    written = sum(n for m, n in methods.items() if m != "failed")
    table = Table(title=f"MIDI export -> {out_dir}")
    table.add_column("result")
    table.add_column("tunes", justify="right")
    table.add_row("tunes found", str(sum(methods.values())))
    table.add_row("parsed by music21", str(sum(methods.values()) - methods["failed"]))
    for method, n in methods.most_common():
        table.add_row("not parsed by music21 (no MIDI)" if method == "failed" else f"written ({method})", str(n))
    table.add_row("MIDI files written", str(written))
    table.add_row("  of which every note checked against the score", str(written - differ))
    out.print(table)
