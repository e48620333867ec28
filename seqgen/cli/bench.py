"""``seqgen bench``: how fast training, sampling and tokenising are on this machine."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from .common import app, friendly, write


@app.command()
@friendly
def bench(
    quick: Annotated[bool, typer.Option(help="Smaller sizes and fewer repeats: under a minute.")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object, one key per figure. [default: a table]", show_default=False)] = False,
    word_corpus: Annotated[Optional[Path], typer.Option(help="Text whose word vocabulary sizes the word model. [default: 18,000 words]", show_default=False)] = None,
) -> None:
    """Measure training, sampling and tokenising speed on this machine (medians of several runs)."""
    from rich.table import Table

    from ..bench import run_bench
    from ..corpus import read_text_file
    from .display import err, out

    text = read_text_file(word_corpus) if word_corpus else None
    with err.status("benchmarking...") as status:
        figures = run_bench(quick, text, on_figure=lambda name, value: status.update(f"benchmarking: {name} = {value:,.3g}"))
    if json_out:
        write(json.dumps(figures, indent=2) + "\n")
        return
    table = Table(title="seqgen bench (medians)")
    table.add_column("figure")
    table.add_column("value", justify="right")
    for name, value in figures.items():
        table.add_row(name, f"{value:,.3f}" if abs(value) < 100 else f"{value:,.0f}")
    out.print(table)
