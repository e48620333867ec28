"""``seqgen sample CKPT --fill FILE``: the gaps of a text or a tune filled, best first."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from ..errors import UsageError
from .common import refuse_options, signals_as_flag
from .display import err, out
from .streams import write

NOT_WITH_FILL = ("prime", "length", "meter", "key", "prime_abc")


def fill_command(ctx: typer.Context, model, filling: dict, tunes: int | None, num_samples: int, out_dir: Path | None,
                 overwrite: bool, keep_invalid: bool, wav: bool, sheet: bool, settings: dict) -> None:
    """Fill the gaps of ``filling["fill"]`` with ``model``: for ``--tunes`` (music), that many checked
    tunes written as ``sample --tunes`` writes them; else the ``--num-samples`` best texts printed."""
    from ..fill.filling import fill_gaps

    refuse_options(ctx, NOT_WITH_FILL, "with --fill (the text around the gaps is the file's)")
    if isinstance(settings.get("temperature"), list):
        raise UsageError("--fill draws at one temperature; give one value to --temperature")
    text = _read(filling["fill"])
    backward = _backward(filling["backward"])
    count = tunes if tunes is not None else num_samples
    if tunes is not None:
        model.check_tune_count(tunes)
    with signals_as_flag() as stop, err.status("filling...") as status:
        found = fill_gaps(model, text, count, candidates=filling["candidates"], backward=backward,
                          method=filling["fill_method"], stop=stop,
                          on_attempt=lambda gap, r: status.update(f"filling gap {gap + 1}, round {r}..."),
                          **{k: v for k, v in settings.items() if k != "prime"})
    if tunes is not None:
        return _write_tunes(found, tunes, out_dir or Path("tunes"), overwrite, keep_invalid, wav, sheet)
    for i, result in enumerate(found, 1):
        if len(found) > 1:
            write(f"--- fill {i} of {len(found)} (score {result.score:.2f}) ---\n")
        write(result.text if result.text.endswith("\n") else result.text + "\n")
    if len(found) < count:
        err.print(f"only {len(found)} different fills were found of the {count} asked for", highlight=False)


def _read(source: str) -> str:
    if source == "-":
        return sys.stdin.read()
    from ..data.corpus import read_text_file

    return read_text_file(Path(source))


def _backward(path: str | None):
    if path is None:
        return None
    from .. import api

    return api.Model.load(path)


def _write_tunes(found, count: int, out_dir: Path, overwrite: bool, keep_invalid: bool, wav: bool, sheet: bool) -> None:
    """The filled tunes, each checked whole, written as ``sample --tunes`` writes a batch."""
    from ..music.tunes import TuneBatch, reason_kind
    from ..music.validate import check_tune
    from .music import _say_what_is_missing, tune_table

    batch = TuneBatch(attempts=len(found))
    for result in found:
        check = check_tune(result.text)
        (batch.valid if check.valid else batch.invalid).append((result.text, check))
        if not check.valid:
            batch.reasons.update({reason_kind(r) for r in check.reasons})
    batch.first_try_valid = len(batch.valid)
    batch.write(out_dir, keep_invalid, wav, overwrite=overwrite, sheet=sheet)
    out.print(tune_table(batch, count, out_dir, keep_invalid))
    _say_what_is_missing(batch, count, keep_invalid)
