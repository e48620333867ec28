"""What the page sends (``SampleRequest``) and what it gets back: the settings as the command
line would take them, text in pieces as it is drawn, and one entry per tune."""

from __future__ import annotations

import asyncio
import contextvars
import logging
import secrets
import shlex
import socket
import threading
import time
import weakref
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Optional

from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, create_model

from ..config import SampleConfig, TuneOptions
from ..errors import SeqgenError, does_not_apply
from ..music.abc import tune_title
from ..music.playback import playing_fields
from ..options import interface_options, options

TUNE_FIELDS = ("tunes", *(f.name for f in options(TuneOptions)))  # tunes, meter, key, prime_abc
TEXT_FIELDS = ("length", "prime")
PIECE_SECONDS = 0.05  # text is sent in pieces of what was drawn in this long: smooth, and few pieces
CHUNKS_AHEAD = 64  # pieces drawn and not yet sent, at most
# A page that stops reading is seen only once the bytes between the drawing and the page are full.
# Linux grows a connection's send buffer up to 4 MB by itself: hours of text, during which a page
# that reads nothing holds its model. A fixed buffer (the kernel doubles it) bounds that to about
# a hundred kilobytes with asyncio's own buffer, and is still far more than a page needs at once.
SEND_BUFFER_BYTES = 16_384
log = logging.getLogger("seqgen.studio")
_ABANDONED = contextvars.ContextVar("seqgen_stream_abandoned", default=False)


def limit_send_buffer(sock) -> None:
    """Every connection the listening ``sock`` accepts gets ``SEND_BUFFER_BYTES`` (they inherit it)."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER_BYTES)


class AbandonedStreamLog(logging.Filter):
    """uvicorn reports a response left unfinished as an error; for a stream the studio gave up
    on purpose (its page read nothing), that line is replaced by one saying so."""

    def filter(self, record: logging.LogRecord) -> bool:
        if _ABANDONED.get() and record.getMessage() == "ASGI callable returned without completing response.":
            log.warning("studio: a page read nothing for a while: its text stream was ended and its model freed")
            return False
        return True


class _Request(BaseModel):
    """What every request body is: no field it does not know."""

    model_config = ConfigDict(extra="forbid")

    def settings(self, model) -> dict:
        """The sampling settings as ``Model.generate``/``tunes`` take them, checked by
        ``SampleConfig`` (the one check of each), with the model's defaults filled in (top-p of
        music models) and a seed chosen when none was given."""
        music = model.kind == "music"
        given = [f for f in (TEXT_FIELDS if music else TUNE_FIELDS) if f in self.model_fields_set]
        if given:
            raise does_not_apply(given, "to a music model's tunes; use prime_abc for the first bars" if music else
                                 f"to a {model.kind} model; they are for models trained on ABC tunes")
        names = [f.name for f in options(SampleConfig) if f.name in type(self).model_fields and f.name != "length"]
        asked = {name: getattr(self, name) for name in names if not (music and name == "prime")}
        cfg = model.sample_config(**asked)
        settings = {name: getattr(cfg, name) for name in asked}
        settings["seed"] = self.seed if self.seed is not None else new_seed()
        return settings


def request_model(name: str, classes, leave_out: tuple[str, ...] = (), doc: str = "", base: type = _Request, **own):
    """A pydantic request model with a field per option of the config ``classes`` (their type and
    default; their checks stay theirs), bounded in size by ``SIZE_LIMITS``, and ``own`` fields."""
    fields = {f.name: (Optional[kind] if default is None else kind, Field(default=default, max_length=SIZE_LIMITS.get(f.name)))
              for f, kind, default in interface_options(classes, leave_out)}
    return create_model(name, __base__=base, __doc__=doc or base.__doc__, **own, **fields)


# What a request may hold, in characters: a body is bounded before any work is done on it.
SIZE_LIMITS = {"prime": 10_000, "meter": 20, "key": 20, "prime_abc": 1000}

SampleRequest = request_model("SampleRequest", [SampleConfig, TuneOptions], leave_out=("num_samples", "precision"),
                              doc="``POST /api/sample``: a checkpoint (its path under the served folder) and the "
                                  "options of ``seqgen sample``, by the same names. ``seed`` left out: the server "
                                  "picks one and says which.",
                              checkpoint=(str, Field(max_length=1000)), tunes=(int, Field(default=1, ge=1)))


def page_options() -> dict:
    """What the page's controls show, from the one declaration of each option: its default (None
    where it varies with the model) and its help, keyed by the request's field name."""
    return {f.name: {"default": default, "help": f.metadata["help"]}
            for f, _, default in interface_options([SampleConfig, TuneOptions]) if f.name in SampleRequest.model_fields}


def command_line(checkpoint: str, root: Path, settings: dict, tunes: int | None = None, wanted=None,
                 keep_invalid: bool = False, out: str | None = None) -> str:
    """The ``seqgen sample`` command that makes the same text or tunes (into ``out``, the
    batch's folder in the archive, which it then finds holding them already)."""
    args = ["seqgen", "sample", (Path(root) / checkpoint).as_posix()]
    if tunes is not None:
        args += ["--tunes", str(tunes)]
        for option, value in (wanted.as_options() if wanted else {}).items():
            args += [option, value]
        args += ["--keep-invalid"] if keep_invalid else []
        args += ["--out", out] if out else []
    for name in (f.name for f in options(SampleConfig)):
        value = settings.get(name)
        if value is not None and not (name == "prime" and value == ""):
            args += ["--" + name.replace("_", "-"), f"{value:g}" if isinstance(value, float) else str(value)]
    return " ".join(shlex.quote(a) for a in args)


def tune_entries(batch, batch_id: str, sound: bool) -> list[dict]:
    """One entry per tune, the valid ones first: its ABC, its verdict, how it is played
    (``playback.playing_fields``) and the links to its files."""
    entries = []
    for n, (text, check) in enumerate(batch.valid + batch.invalid, 1):
        first_try = check.valid and n <= batch.first_try_valid  # round 0's tunes come first
        base = f"/api/files/{batch_id}/{n:03d}{'' if check.valid else '-invalid'}"  # as TuneFolder names it
        playable = check.score is not None
        entries.append({"n": n, "title": tune_title(text),
                        "abc": text, "valid": check.valid,
                        "verdict": "valid" if first_try else "valid, re-sampled" if check.valid else "invalid",
                        "reasons": check.reasons, **playing_fields(text),
                        "files": {"abc": base + ".abc", "mid": base + ".mid" if playable else None,
                                  "wav": base + ".wav" if playable and sound else None}})
    return entries


async def text_pieces(pieces: Iterator[str], job, stall_seconds: float) -> AsyncIterator[str]:
    """The pieces of a streamed sample, gathered into one chunk per ``PIECE_SECONDS``.

    They are drawn in a thread of their own: torch's inference mode, which the sampler enters,
    holds for one thread only, so every step of one sample must run in the same thread. Closing
    this iterator (the page stopped), ``job.stop`` (the server stopping) or a page that takes
    nothing for ``stall_seconds`` stops the drawing at the next piece; ``job`` is called by that
    thread when it has finished with the model. A failure on the way ends the text with one line
    saying what it was.
    """
    loop = asyncio.get_running_loop()
    chunks: asyncio.Queue = asyncio.Queue()
    room = threading.Semaphore(CHUNKS_AHEAD)  # the drawing waits for a page that reads slowly
    stop = job.stop

    def deliver(item) -> None:
        try:
            loop.call_soon_threadsafe(chunks.put_nowait, item)
        except RuntimeError:
            stop.set()  # the server's loop is gone: nobody reads any more

    def wait_for_room() -> bool:
        """Whether the page took enough to send it more, within ``stall_seconds``."""
        until = time.monotonic() + stall_seconds
        while not room.acquire(timeout=0.1):
            if stop.is_set() or time.monotonic() > until:
                stop.set()  # a page that reads nothing must not hold the model for good
                return False
        return True

    def produce() -> None:
        try:
            for chunk in _gathered(pieces, stop):
                if not wait_for_room():
                    return
                deliver(chunk)
        except SeqgenError as exc:
            deliver(f"\n[error: {exc}]\n")
        except Exception as exc:  # noqa: BLE001  (reported in the text, and in the server's log)
            log.exception("studio: sampling failed")
            deliver(f"\n[error: the server failed ({type(exc).__name__}); see its terminal]\n")
        finally:
            if hasattr(pieces, "close"):
                pieces.close()
            job()
            deliver(None)

    threading.Thread(target=produce, name="seqgen-sample", daemon=True).start()
    try:
        while (chunk := await chunks.get()) is not None:
            room.release()
            yield chunk
    finally:
        stop.set()


def _gathered(pieces: Iterator[str], stop) -> Iterator[str]:
    """The pieces joined into one chunk per ``PIECE_SECONDS``, until they end or ``stop`` is set."""
    out, until = [], time.monotonic() + PIECE_SECONDS
    for piece in pieces:
        if stop.is_set():
            return
        out.append(piece)
        if time.monotonic() > until:
            yield "".join(out)
            out, until = [], time.monotonic() + PIECE_SECONDS
    if out:
        yield "".join(out)


class _Abandoned(Exception):
    """The page stopped reading (or the server is stopping): the response is given up."""


class GuardedStream(StreamingResponse):
    """A streamed sample that lets its model go however it ends: drawn to the end, failed,
    stopped by the page closing the connection, by a page that stopped reading, or by the server
    stopping; or, never sent, when it is dropped.

    A send to a page that reads nothing waits at most ``stall_seconds`` (and not at all once the
    server is stopping): the response is then left unfinished, and the server closes the
    connection, instead of waiting for good or being cancelled with a stack trace.
    """

    def __init__(self, pieces: Iterator[str], job, stall_seconds: float, **kwargs):
        self.job, self.stall_seconds = job, stall_seconds
        self.release = _Once(job)
        super().__init__(text_pieces(pieces, self.release, stall_seconds), **kwargs)
        weakref.finalize(self, self.release)  # never sent: nothing was drawn

    async def __call__(self, scope, receive, send) -> None:
        try:
            await super().__call__(scope, receive, self._bounded(send))
        except _Abandoned:
            _ABANDONED.set(True)  # expected: uvicorn closes the connection; the drawing has stopped
        finally:
            await self.body_iterator.aclose()  # stops the drawing, which then lets the model go

    def _bounded(self, send):
        async def bounded(message) -> None:
            sending = asyncio.ensure_future(send(message))
            until = time.monotonic() + self.stall_seconds
            while not sending.done():
                await asyncio.wait({sending}, timeout=0.1)
                if not sending.done() and (self.job.stop.is_set() or time.monotonic() > until):
                    sending.cancel()
                    self.job.stop.set()
                    raise _Abandoned()
            sending.result()
        return bounded


def new_seed() -> int:
    """A seed for a request that gave none: shown with the result, so that it can be made again."""
    return secrets.randbelow(2**31)


class _Once:
    """Calls ``fn`` once however often it is called (the stream's model let go once)."""

    def __init__(self, fn: Callable[[], None]):
        self.fn = fn
        self.stop = getattr(fn, "stop", None)

    def __call__(self) -> None:
        fn, self.fn = self.fn, None
        if fn is not None:
            fn()
