"""The studio's ASGI app: the page, and the JSON API it calls.

    GET  /api/checkpoints          the checkpoints under the served folder, newest first
    POST /api/sample               text (streamed as it is drawn) or checked tunes (JSON)
    GET  /api/files/{batch}/{name} a tune's .abc, .mid or .wav
    GET  /soundfont/{instrument}-mp3/{note}.mp3  a note for the page's player (soundfont.py)
    /api/batches...                every batch of tunes made, kept (``archive_api``)

Every request goes through the library (``seqgen.api``) as the command line does, so the same
settings and seed give the same text and tunes in the page as with ``seqgen sample``. Errors
reach the page as ``{"error": "one line saying what to do"}``: 400 for a bad option, 403 for
a path or origin refused, 404 for what is not there, 429 when the model is busy, 503 while the
server stops, 500 for a failure, never a stack trace.
"""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..errors import Cancelled, SeqgenError, UsageError
from ..evaluate import json_safe
from ..music import tools
from ..sample import cancelled_by
from .catalog import Catalog
from .archive import Archive, Starred
from .archive_api import add_routes
from .jobs import Busy, Jobs, Limits
from .requests import AbandonedStreamLog, GuardedStream, SampleRequest, command_line, page_options, tune_entries
from .security import Forbidden, NotFound, SameOriginOnly, allowed_hosts, checkpoint_path
from .soundfont import soundfont_routes

STATIC = Path(__file__).parent / "static"
STATUS = {UsageError: 400, Forbidden: 403, NotFound: 404, Starred: 409, Busy: 429, Cancelled: 503}
MEDIA = {"abc": "text/vnd.abc; charset=utf-8", "mid": "audio/midi", "wav": "audio/wav"}
log = logging.getLogger("seqgen.studio")


class SafeJSON(JSONResponse):
    """JSON as UTF-8 can hold it (``json_safe``): a name that is not UTF-8 (the root folder's, in
    an error a checkpoint's) would otherwise fail the answer itself, as a server failure."""

    def render(self, content) -> bytes:
        return super().render(json_safe(content))


def create_app(root: Path, host: str = "127.0.0.1", soundfont: Path | None = None,
               limits: Limits = Limits()) -> FastAPI:
    """The studio for the checkpoints under ``root`` (its batches kept in ``root/studio-archive``),
    answering as ``host``; ``soundfont``: the General MIDI soundfont for audio (else one installed
    in the usual places, else none)."""
    app = FastAPI(title="seqgen studio", docs_url=None, redoc_url=None, openapi_url=None,
                  default_response_class=SafeJSON)
    catalog, jobs, archive = Catalog(root), Jobs(limits), Archive(root)
    font = soundfont or tools.find_soundfont()
    hosts = allowed_hosts(host)
    app.state.archive, app.state.font, app.state.jobs = archive, font, jobs
    server_log = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, AbandonedStreamLog) for f in server_log.filters):
        server_log.addFilter(AbandonedStreamLog())

    # A plain ASGI middleware: starlette's @app.middleware("http") hides the page going away
    # from the request, so drawing for a closed page could not be stopped.
    app.add_middleware(SameOriginOnly, hosts=hosts)

    @app.exception_handler(SeqgenError)
    async def seqgen_error(request: Request, exc: SeqgenError):
        return SafeJSON({"error": str(exc)}, status_code=_status(exc))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        message = "no such page or file here" if exc.status_code == 404 else str(exc.detail)
        return SafeJSON({"error": message}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError):
        return SafeJSON({"error": _validation_message(exc)}, status_code=400)

    @app.exception_handler(Exception)
    async def failure(request: Request, exc: Exception):
        log.exception("studio: unexpected failure")  # the stack trace goes to the server's log only
        return SafeJSON({"error": f"the server failed ({type(exc).__name__}); see its terminal"}, status_code=500)

    @app.get("/api/checkpoints")
    def checkpoints() -> dict:
        """Checkpoints newest first; what the page needs to know about sound and limits."""
        return {"root": str(root), "checkpoints": catalog.listing(),
                "sound": {"available": font is not None,
                          "note": "" if font else f"For sound: {tools.INSTALL_HINTS['soundfont']}, or start "
                                                  "seqgen studio with --soundfont FILE."},
                "limits": {"max_length": limits.max_length, "max_tunes": limits.max_tunes},
                "options": page_options()}

    def tunes_answer(body: SampleRequest, model, job) -> dict:
        settings = body.settings(model)
        wanted = model.tune_conditions(body.meter, body.key, body.prime_abc)
        with cancelled_by(job.stop):
            batch = model.tunes(body.tunes, meter=body.meter, key=body.key, prime_abc=body.prime_abc, **settings)
        shown = {**settings, "meter": wanted.meter, "key": wanted.key, "prime_abc": wanted.opening or None}
        batch_id = archive.open_batch(shown, body.checkpoint)
        for text, check in batch.valid + batch.invalid:
            archive.add_tune(batch_id, text, check)
        archive.finish(batch_id, {
            "kind": "music", "checkpoint": body.checkpoint, "settings": shown,
            "command": command_line(body.checkpoint, root, settings, body.tunes, wanted, bool(batch.invalid),
                                    out=archive.out_path(batch_id)),
            "summary": {"requested": body.tunes, "valid": len(batch.valid),
                        "first_try_valid": batch.first_try_valid, "attempts": batch.attempts,
                        "resampled": batch.resampled, "reasons": dict(batch.reasons)},
            "tunes": tune_entries(batch, batch_id, font is not None)})
        return archive.get(batch_id)  # as a reload of its link gives it

    def text_answer(body: SampleRequest, model) -> GuardedStream:
        settings = body.settings(model)
        limits.check(body.length, None)
        cfg = model.sample_config(length=body.length, streaming=True, **settings)
        unknown = model.unknown_symbols(cfg.prime)
        header = {"kind": model.kind, "checkpoint": body.checkpoint, "settings": {**settings, "length": body.length},
                  "command": command_line(body.checkpoint, root, {**settings, "length": body.length}),
                  "unknown_symbols": unknown[:10]}
        job = jobs.acquire(body.checkpoint)  # held until the stream ends, stalls, or the page stops it
        return GuardedStream(model.stream(length=body.length, **settings), job, limits.stall_seconds,
                             media_type="text/plain; charset=utf-8",
                             headers={"X-Seqgen-Sample": json.dumps(json_safe(header), ensure_ascii=True),
                                      "Cache-Control": "no-store"})

    @app.post("/api/sample")
    async def sample(body: SampleRequest, request: Request):
        path = checkpoint_path(Path(root), body.checkpoint)
        model = await run_in_threadpool(catalog.model, path)
        if model.kind != "music":
            return await run_in_threadpool(text_answer, body, model)
        limits.check(None, body.tunes)
        with jobs.running(body.checkpoint) as job:
            return await _watched(request, job, lambda: tunes_answer(body, model, job))

    @app.get("/api/files/{batch}/{name}")
    def file(batch: str, name: str):
        path = archive.path(batch, name, font)
        kind = path.suffix[1:]
        return FileResponse(path, media_type=MEDIA[kind], filename=f"seqgen-{batch}-{name}",
                            content_disposition_type="inline" if kind == "wav" else "attachment")

    add_routes(app, archive)

    @app.get("/")
    def page():
        return FileResponse(STATIC / "index.html", media_type="text/html; charset=utf-8",
                            headers={"Cache-Control": "no-store"})

    app.include_router(soundfont_routes(font))
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app


async def _watched(request: Request, job, work):
    """``work()`` in a worker thread, stopped (``job.stop``) when the page goes away: nobody
    would see what it draws."""
    task = asyncio.ensure_future(run_in_threadpool(work))
    while not task.done():
        await asyncio.wait({task}, timeout=0.25)
        if not task.done() and await request.is_disconnected():
            job.stop.set()
    return task.result()


def _status(exc: SeqgenError) -> int:
    return next((code for kind, code in STATUS.items() if isinstance(exc, kind)), 500)


def _validation_message(exc: RequestValidationError) -> str:
    """One line from pydantic's list of problems: "temperature: Input should be a valid number"."""
    problems = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
        problems.append(f"{where}: {err.get('msg', 'invalid')}" if where else err.get("msg", "invalid request"))
    return "; ".join(problems) or "invalid request: send JSON with the settings"
