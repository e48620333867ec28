"""The studio's ASGI app: the page, and the JSON API it calls.

    GET  /api/checkpoints          the checkpoints under the served folder, newest first
    POST /api/sample               text, or checked tunes (lines of JSON), streamed as they are drawn
    GET  /api/files/{batch}/{name} a tune's .abc, .mid or .wav
    POST /api/fill                 alternatives for the gaps of a tune or a text (``fill_api``)
    /api/batches...                every batch of tunes made, kept (``archive_api``)
    GET  /soundfont/{instrument}-mp3/{note}.mp3  a note for the page's player (soundfont.py)

Every request goes through the library (``seqgen.api``) as the command line does, so the same
settings and seed give the same text and tunes in the page as with ``seqgen sample``. Errors
reach the page as ``{"error": "one line saying what to do"}``: 400 for a bad option, 403 for
a path or origin refused, 404 for what is not there, 422 for a gap no fill drawn could fill, 429
when the model is busy, 503 while the server stops, 500 for a failure, never a stack trace.
"""

from __future__ import annotations

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
from ..fill.filling import NoFill
from ..music import tools
from .catalog import Catalog
from .archive import Archive, Starred
from .archive_api import add_routes
from . import fill_api
from .jobs import Busy, Jobs, Limits
from .requests import SampleRequest, command_line, page_options
from .streaming import AbandonedStreamLog, GuardedStream, text_work
from .tune_stream import tune_order, tune_stream
from .security import Forbidden, NotFound, SameOriginOnly, allowed_hosts, checkpoint_path
from .soundfont import soundfont_routes

STATIC = Path(__file__).parent / "static"
STATUS = {UsageError: 400, Forbidden: 403, NotFound: 404, Starred: 409, NoFill: 422, Busy: 429, Cancelled: 503}
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
                "limits": {"max_length": limits.max_length, "max_tunes": limits.max_tunes,
                           "max_fills": limits.max_fills, "max_gaps": limits.max_gaps},
                "options": page_options()}

    def text_answer(body: SampleRequest, model) -> GuardedStream:
        settings = body.settings(model)
        limits.check(body.length, None)
        cfg = model.sample_config(length=body.length, streaming=True, **settings)
        unknown = model.unknown_symbols(cfg.prime)
        header = {"kind": model.kind, "checkpoint": body.checkpoint, "settings": {**settings, "length": body.length},
                  "command": command_line(body.checkpoint, root, {**settings, "length": body.length}),
                  "unknown_symbols": unknown[:10]}
        job = jobs.acquire(body.checkpoint)  # held until the stream ends, stalls, or the page stops it
        return GuardedStream(text_work(model.stream(length=body.length, **settings)), job, limits.stall_seconds,
                             media_type="text/plain; charset=utf-8",
                             headers={"X-Seqgen-Sample": json.dumps(json_safe(header), ensure_ascii=True),
                                      "Cache-Control": "no-store"})

    def tunes_answer(body: SampleRequest, model) -> GuardedStream:
        limits.check(None, body.tunes)
        job = jobs.acquire(body.checkpoint)  # held until the drawing ends, however it ends
        try:
            order = tune_order(body, model)
        except BaseException:
            job()
            raise
        return tune_stream(model, order, archive, root, font is not None, job, limits.stall_seconds)

    @app.post("/api/sample")
    async def sample(body: SampleRequest):
        path = checkpoint_path(Path(root), body.checkpoint)
        model = await run_in_threadpool(catalog.model, path)
        if model.kind != "music":
            return await run_in_threadpool(text_answer, body, model)
        stream = await run_in_threadpool(tunes_answer, body, model)
        await stream.begun()  # what fails before the first tune is drawn is an HTTP error, not a line
        return stream

    @app.get("/api/files/{batch}/{name}")
    def file(batch: str, name: str):
        path = archive.path(batch, name, font)
        kind = path.suffix[1:]
        return FileResponse(path, media_type=MEDIA[kind], filename=f"seqgen-{batch}-{name}",
                            content_disposition_type="inline" if kind == "wav" else "attachment")

    add_routes(app, archive)
    fill_api.add_routes(app, root, catalog, jobs, archive, font is not None)

    @app.get("/")
    def page():
        return FileResponse(STATIC / "index.html", media_type="text/html; charset=utf-8",
                            headers={"Cache-Control": "no-store"})

    app.include_router(soundfont_routes(font))
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app


def _status(exc: SeqgenError) -> int:
    return next((code for kind, code in STATUS.items() if isinstance(exc, kind)), 500)


def _validation_message(exc: RequestValidationError) -> str:
    """One line from pydantic's list of problems: "temperature: Input should be a valid number"."""
    problems = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
        problems.append(f"{where}: {err.get('msg', 'invalid')}" if where else err.get("msg", "invalid request"))
    return "; ".join(problems) or "invalid request: send JSON with the settings"
