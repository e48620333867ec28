"""``seqgen bench``: how fast training, sampling and tokenising are on this machine."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from .common import app, friendly
from .streams import write


@app.command()
@friendly
def bench(
    quick: Annotated[bool, typer.Option(help="Shorter batches and fewer repeats: well under a minute.")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object, one key per figure. [default: a table]", show_default=False)] = False,
    word_corpus: Annotated[Optional[Path], typer.Option(help="Text whose word vocabulary sizes the word models. [default: 18,000 words]", show_default=False)] = None,
    device: Annotated[str, typer.Option(help="Where to train: auto, cpu, cuda or mps (sampling runs on the CPU, as seqgen sample does).")] = "auto",
) -> None:
    """Measure training (a ladder from a textbook loop up to seqgen's step), sampling and tokenising speed here."""
    from rich.markup import escape
    from rich.table import Table

    from ..bench import run_bench, sizes_for, table_notes, table_sections
    from ..bench.report import number
    from ..data.corpus import read_text_file
    from ..evaluate import json_safe
    from ..hardware.device import choose_device
    from .display import err, out

    choose_device(device)  # a device that is not here: one line, before any work
    text = read_text_file(word_corpus) if word_corpus else None
    with err.status("benchmarking...") as status:
        figures = run_bench(sizes_for(quick), device, text,
                            on_figure=lambda name, value: status.update(f"benchmarking: {name} = {number(value)}"))
    if json_out:
        write(json.dumps(json_safe(figures), indent=2, allow_nan=False) + "\n")
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
