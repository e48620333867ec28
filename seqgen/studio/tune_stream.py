"""A music model's answer to ``POST /api/sample``: the tunes as they are drawn, one line of JSON
per event (NDJSON, ``application/x-ndjson``)::

    {"event": "progress", "tune": 2, "of": 5, "attempt": 1}   tune 2 of 5 is drawn, for the first time
    {"event": "tune", "tune": {"n": 2, "abc": ...}}           tune 2 is ready (``requests.tune_entry``)
    {"event": "done", "kind": "music", ...}                    the whole answer: settings, command, summary, tunes
    {"event": "error", "error": "one line"}                    what ended the drawing instead

Each tune's .abc is written as it comes (``Archive.add_tune``), so that its links work as soon as
the page has it; the batch is kept in the archive, and the done answer is its batch.json. What is wrong with the request (an option, the limits, a busy model) is found
before anything is drawn and stays a plain HTTP error. The drawing is ``streaming.GuardedStream``'s
work: a page that goes away or stops reading, or the server stopping, ends it at its next step.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from ..evaluate import json_safe
from .requests import command_line, tune_entries, tune_entry
from .streaming import GuardedStream

NDJSON = "application/x-ndjson"


@dataclass(frozen=True)
class TuneOrder:
    """What one request asks for, checked before anything is drawn."""

    checkpoint: str
    count: int
    settings: dict  # as ``Model.tunes`` takes them (``SampleRequest.settings``), the seed chosen
    wanted: object  # ``conditions.TuneConditions``: the meter, key and first bars, checked
    ordered: dict  # meter, key and prime_abc as the request gave them


def tune_order(body, model) -> TuneOrder:
    """The request's tunes and settings, each checked as the command line checks them."""
    settings = body.settings(model)
    wanted = model.tune_conditions(body.meter, body.key, body.prime_abc)
    model.check_tune_count(body.tunes)
    return TuneOrder(body.checkpoint, body.tunes, settings, wanted,
                     {"meter": body.meter, "key": body.key, "prime_abc": body.prime_abc})


def event(name: str, /, **fields) -> str:
    """One line of the stream."""
    return json.dumps(json_safe({"event": name, **fields}), ensure_ascii=False) + "\n"


def tune_stream(model, order: TuneOrder, archive, root: Path, sound: bool, job, stall_seconds: float) -> GuardedStream:
    """The stream of ``order``'s tunes from ``model``, holding ``job`` until the drawing ends."""
    return GuardedStream(partial(_draw, model, order, archive, root, sound), job, stall_seconds,
                         failure=lambda message: event("error", error=message), raise_early=True,
                         media_type=NDJSON, headers={"Cache-Control": "no-store"})


def _draw(model, order: TuneOrder, archive, root: Path, sound: bool, send, stop) -> None:
    """Draws the tunes in this thread, sending each event as it happens."""
    batch_id = archive.open_batch(shown_settings(order), order.checkpoint)
    numbered: list[str] = []
    now = {"attempt": 1}

    def drawing(tune: int, of: int, attempt: int) -> None:
        now["attempt"] = attempt
        send(event("progress", tune=tune, of=of, attempt=attempt))

    def ready(text: str, check) -> None:
        archive.add_tune(batch_id, text, check)
        numbered.append(text)
        first_try = check.valid and now["attempt"] == 1
        send(event("tune", tune=tune_entry(len(numbered), text, check, first_try, batch_id, sound)))

    batch = model.tunes(order.count, on_attempt=drawing, on_tune=ready, stop=stop, **order.ordered, **order.settings)
    for text, check in batch.invalid:  # known only once the last round is over
        ready(text, check)
    archive.finish(batch_id, tunes_answer(order, batch, batch_id, root, sound, archive.out_path(batch_id)))
    if batch.stopped:
        send(event("error", error=f"drawing stopped after {len(batch.valid)} of {order.count} tunes"))
    else:
        send(event("done", **archive.get(batch_id)))  # as a reload of its link gives it


def shown_settings(order: TuneOrder) -> dict:
    """The settings as the answer shows them: the sampling settings and the tunes' order."""
    wanted = order.wanted
    return {**order.settings, "meter": wanted.meter, "key": wanted.key, "prime_abc": wanted.opening or None}


def tunes_answer(order: TuneOrder, batch, batch_id: str, root: Path, sound: bool, out: str | None = None) -> dict:
    """The whole answer: the settings and the command that give the same tunes (into ``out``),
    the tally, each tune."""
    wanted, settings = order.wanted, order.settings
    return {"kind": "music", "checkpoint": order.checkpoint, "settings": shown_settings(order),
            "command": command_line(order.checkpoint, root, settings, order.count, wanted, bool(batch.invalid), out),
            "summary": {"requested": order.count, "valid": len(batch.valid),
                        "first_try_valid": batch.first_try_valid, "attempts": batch.attempts,
                        "resampled": batch.resampled, "reasons": dict(batch.reasons)},
            "tunes": tune_entries(batch, batch_id, sound)}
