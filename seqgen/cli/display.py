"""How the CLI shows things: rich progress for training, tables for scores. Only the CLI uses it."""

from __future__ import annotations

import math

from ..training.timing import describe
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from .streams import stdout

err = Console(stderr=True, emoji=False)  # user text (a tune's "M:x:") is never an emoji code
out = Console(file=stdout, emoji=False)


def quiet_progress(console: Console, *columns) -> Progress:
    """A transient progress bar, shown on a terminal only: piped output stays free of it."""
    return Progress(*columns, console=console, transient=True, disable=not console.is_terminal)


class TrainDisplay:
    """Turns training events into a live progress bar and a line per evaluation."""

    def __init__(self, console: Console = err):
        self.console = console
        self.progress = Progress(
            TextColumn("[bold]step {task.fields[step]:>6}"),
            BarColumn(),
            TextColumn("{task.percentage:>3.0f}%"),
            TextColumn("loss {task.fields[loss]:.3f}"),
            TextColumn("val ppl {task.fields[val_ppl]}"),
            TextColumn("{task.fields[tps]:>7,.0f} tok/s"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=console,
            transient=False,
        )
        self.task = None
        self.preparing: Progress | None = None
        self.last_loss = math.nan

    def __call__(self, kind: str, info: dict) -> None:
        getattr(self, f"on_{kind}", lambda info: None)(info)

    def on_prepare(self, info: dict) -> None:
        """Work before training starts (music21 checking tunes); cached, so only the first time."""
        if self.preparing is None:
            self.preparing = quiet_progress(self.console, TextColumn("{task.description}"), BarColumn(),
                                            TextColumn("{task.completed}/{task.total}"), TimeRemainingColumn())
            self.preparing.start()
            self.preparing.add_task(info["message"], total=info["total"])
        self.preparing.update(self.preparing.task_ids[0], completed=info["done"])
        if info["done"] >= info["total"]:
            self.preparing.stop()

    def on_plan(self, info: dict) -> None:
        self.console.print(escape(info["message"]))

    def on_start(self, info: dict) -> None:
        if self.preparing is not None:
            self.preparing.stop()
        resumed = f", resuming at step {info['resumed_at']}" if info["resumed_at"] else ""
        world = f" x {info['world']} processes" if info.get("world", 1) > 1 else ""
        self.console.print(
            f"training a {info['model']} on {info['train_tokens']:,} tokens (validation {info['val_tokens']:,}), "
            f"vocabulary {info['vocab']:,}, {info['params']:,} parameters, {info['device']}{world} "
            f"{info['precision']}{resumed}")
        self.console.print(f"run folder: {escape(str(info['run_dir']))}")
        for note in info["notes"]:
            self.console.print(f"[yellow]note:[/] {escape(note)}")
        self.progress.start()
        self.task = self.progress.add_task("train", total=1000, step=info["resumed_at"], loss=math.nan,
                                           val_ppl="-", tps=0.0)

    def on_step(self, info: dict) -> None:
        self.progress.update(self.task, completed=info["progress"] * 1000, step=info["step"], loss=info["loss"],
                             tps=info["tokens_per_s"])
        self.last_loss = info["loss"]

    def on_eval(self, info: dict) -> None:
        mark = " [green]best[/]" if info["best"] else ""
        self.progress.update(self.task, val_ppl=f"{info['val_ppl']:.2f}")
        train = f"train {info['train_loss']:.4f}  " if info["train_loss"] is not None else ""
        self.progress.console.print(
            f"step {info['step']:>6}  {train}val {info['val_loss']:.4f} nats/token  ppl {info['val_ppl']:.2f}{mark}")

    def on_note(self, info: dict) -> None:
        self.progress.console.print(f"note: {escape(info['message'])}")

    def on_warning(self, info: dict) -> None:
        self.progress.console.print(f"[yellow]warning:[/] {escape(info['message'])}")

    def on_end(self, info: dict) -> None:
        if self.task is not None:  # the bar's last state is the run's last state, not that of 10 steps ago
            self.progress.update(self.task, completed=info["progress"] * 1000, step=info["step"],
                                 loss=info["last_loss"] if info["last_loss"] is not None else self.last_loss)
        self.stop()
        self.console.print(f"stopped ({info['reason']}) at step {info['step']} after {info['steps_done']:,} steps "
                           f"this session; best validation loss {info['best_val_loss']:.4f} nats/token")
        best = f"{info['best_path']} (best), " if info["best_path"] else \
            "no best.pt here (no validation loss was finite), " if not math.isfinite(info["best_val_loss"]) else \
            "no best.pt here (this session did not improve on the run's best), "
        self.console.print(escape(f"checkpoints: {best}{info['last_path']} (last)"))
        if info.get("val_loss_all") is not None:
            self.console.print(f"held-out loss of the last weights on all {info['val_tokens']:,} held-out tokens: "
                               f"{info['val_loss_all']:.4f} nats/token")
        if info.get("best_loss_all") is not None:  # a timed run that stopped early, past its best weights
            self.console.print(f"held-out loss of best.pt's weights on the same tokens: {info['best_loss_all']:.4f} "
                               "nats/token")
        if info.get("time"):
            self.console.print(escape(describe(info["time"])), soft_wrap=True)

    def on_counting(self, info: dict) -> None:
        self.counting = self.console.status(f"counting: {info['model']}...")
        self.counting.start()

    def on_counted(self, info: dict) -> None:
        self.counting.stop()
        self.console.print(f"counted in {info['seconds']:.1f} s; held-out cross-entropy {info['cross_entropy']:.4f} "
                           f"nats/token, perplexity {info['perplexity']:.2f}")
        self.console.print(f"checkpoint: {escape(str(info['path']))}")

    def stop(self) -> None:
        if self.task is not None:
            self.progress.stop()


def score_table(rows: list[dict]) -> Table:
    """One row per model: cross-entropy, perplexity and (for characters) bits per char on the same text."""
    with_bpc = any(r.get("bits_per_char") is not None for r in rows)
    counts = {r["tokens"] for r in rows}
    same_tokens = len(counts) == 1  # then the count goes in the title, leaving room for the paths
    title = f"evaluation on {counts.pop():,} tokens" if same_tokens else "evaluation"
    table = Table(title=title, caption="nats/token: cross-entropy; perplexity = exp(nats/token)")
    table.add_column("checkpoint", overflow="fold", min_width=12)
    table.add_column("model", min_width=10)
    numbers = ((), ("tokens",))[not same_tokens] + ("nats/token", "perplexity") + (("bits/char",) if with_bpc else ())
    for col in numbers:
        table.add_column(col, justify="right", no_wrap=True)
    for r in rows:
        bpc = r.get("bits_per_char")
        cells = [escape(str(r["checkpoint"])), r["model"]] + ([] if same_tokens else [f"{r['tokens']:,}"])
        cells += [f"{r['cross_entropy']:.4f}", f"{r['perplexity']:.3f}"]
        table.add_row(*cells, *([f"{bpc:.4f}" if bpc is not None else "-"] if with_bpc else []))
    return table


TUNE_FIGURES = (("parse_pct", "parse"), ("midi_pct", "MIDI"), ("bars_right_pct", "bars right"),
                ("valid_pct", "valid"), ("copied_phrases_pct", "copied"))


def tune_table(rows: list[dict]) -> Table:
    """Music models: the share of sampled tunes that parse, export, have right bars, are valid,
    and the share of their 16-note phrases copied from the training tunes."""
    ordered = " ".join(f"{k} {v}" for k, v in rows[0].get("tunes_to_order", {}).items())
    table = Table(title=f"{rows[0]['tunes_sampled']} sampled tunes{' (' + ordered + ')' if ordered else ''}, "
                        "drawn once each (%)",
                  caption="copied: 16-note phrases found verbatim in the training tunes")
    table.add_column("checkpoint", overflow="fold", min_width=12)
    for _, name in TUNE_FIGURES:
        table.add_column(name, justify="right", no_wrap=True)
    for r in rows:
        table.add_row(escape(str(r["checkpoint"])), *(f"{r[key]:.1f}" for key, _ in TUNE_FIGURES))
    return table
