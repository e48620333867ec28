"""The studio's filling of gaps (``seqgen.fill``):

    POST /api/fill   {"checkpoint": "run/best.pt", "text": "...| ... |...", "n": 5, "seed": 7, "temperature": 1}

answers the alternatives, best first, each with its whole text, its score and what went into each
gap. A gap is a bar written ``...`` between bar lines in a tune, ``[...]`` in a text. For a music
model each alternative is also a tune as ``/api/sample`` sends it (``requests.tune_entry``: its
ABC as played, its verdict, the links to its files), kept as a batch of the archive like any other
tunes. One fill at a time per model (``jobs.Jobs``), as for sampling; the answer comes whole,
since the alternatives are ranked only once all are drawn.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Optional

from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from ..errors import Cancelled
from ..fill.filling import fill_gaps
from ..fill.gaps import split_gaps
from ..music.validate import check_tune
from .requests import new_seed, tune_entry
from .security import checkpoint_path

TEXT_LIMIT = 20_000  # characters of the text with its gaps: a tune, or a page of prose


class FillRequest(BaseModel):
    """``POST /api/fill``'s body: the checkpoint (its path under the served folder), the text with
    its gaps marked, how many alternatives, and the settings ``seqgen sample --fill`` takes."""

    model_config = ConfigDict(extra="forbid")
    checkpoint: str = Field(max_length=1000)
    text: str = Field(max_length=TEXT_LIMIT)
    n: int = Field(default=5, ge=1)
    seed: Optional[int] = Field(default=None, ge=0)
    temperature: Optional[float] = None


def add_routes(app: FastAPI, root: Path, catalog, jobs, archive, sound: bool) -> None:
    """``POST /api/fill`` on ``app``: models from ``catalog``, held through ``jobs``, the tunes
    kept in ``archive`` (``sound``: their audio can be made)."""

    @app.post("/api/fill")
    async def fill(body: FillRequest) -> dict:
        model = await run_in_threadpool(catalog.model, checkpoint_path(Path(root), body.checkpoint))
        return await run_in_threadpool(fill_answer, body, model, root, jobs, archive, sound)


def fill_answer(body: FillRequest, model, root: Path, jobs, archive, sound: bool) -> dict:
    """The alternatives for ``body``'s gaps, drawn by ``model`` while it is held; what is wrong
    with the request is found before the model is taken."""
    music = model.kind == "music"
    gaps = len(split_gaps(body.text, music).units)  # UsageError when there is none
    jobs.limits.check_fills(body.n, gaps)
    settings = {"seed": body.seed if body.seed is not None else new_seed(),
                "temperature": model.sample_config(**_given(body, "temperature")).temperature}
    job = jobs.acquire(body.checkpoint)
    try:
        results = fill_gaps(model, body.text, body.n, stop=job.stop, **settings)
    finally:
        job()
    if jobs.closing.is_set():
        raise Cancelled("the server stopped while filling; start it again to fill")
    answer = {"kind": model.kind, "checkpoint": body.checkpoint, "gaps": gaps,
              "settings": {**settings, "n": body.n},
              "command": fill_command(body.checkpoint, root, settings, body.n, music),
              "alternatives": [{"rank": rank, "text": r.text, "score": r.score, "fills": list(r.fills)}
                               for rank, r in enumerate(results, 1)]}
    return _as_tunes(answer, archive, sound) if music else answer


def _given(body: FillRequest, *names: str) -> dict:
    return {name: getattr(body, name) for name in names if getattr(body, name) is not None}


def _as_tunes(answer: dict, archive, sound: bool) -> dict:
    """Each alternative also as a tune of a new batch of the archive, checked and with its files,
    as ``/api/sample`` gives tunes; the batch's record is the answer."""
    batch = archive.open_batch(answer["settings"], answer["checkpoint"])
    checks = [check_tune(alternative["text"]) for alternative in answer["alternatives"]]
    for alternative, check in zip(answer["alternatives"], checks):
        archive.add_tune(batch, alternative["text"], check)
        alternative.update(tune_entry(alternative["rank"], alternative["text"], check, check.valid, batch, sound))
    valid = sum(check.valid for check in checks)
    answer["tunes"] = answer["alternatives"]  # what the archive's history shows of a batch
    answer["summary"] = {"requested": answer["settings"]["n"], "valid": valid, "first_try_valid": valid,
                         "attempts": len(checks), "resampled": 0, "reasons": {}}
    archive.finish(batch, answer)
    return {**answer, "batch": batch}


def fill_command(checkpoint: str, root: Path, settings: dict, n: int, music: bool) -> str:
    """The ``seqgen sample --fill -`` command that fills the same text (given on its input) the same way."""
    args = ["seqgen", "sample", (Path(root) / checkpoint).as_posix(), "--fill", "-"]
    args += ["--tunes", str(n)] if music else ["--num-samples", str(n)]
    args += ["--seed", str(settings["seed"]), "--temperature", f"{settings['temperature']:g}"]
    return " ".join(shlex.quote(a) for a in args)
