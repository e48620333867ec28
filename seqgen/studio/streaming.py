"""Drawing for the page in a thread of its own, sent as it comes: text in pieces, tunes as lines
of JSON (``tune_stream``). However the page goes (it closes, it stops reading, the server
stops), the drawing stops at its next step and the model is let go."""

from __future__ import annotations

import asyncio
import contextvars
import logging
import socket
import threading
import time
import weakref
from collections.abc import AsyncIterator, Callable, Iterator

from fastapi.responses import StreamingResponse

from ..errors import SeqgenError

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


Send = Callable[[str], bool]  # hands the page a chunk; False once nobody will read it: stop drawing
Work = Callable[[Send, object], None]  # work(send, stop): draws in its own thread until done or stop.is_set()


def text_work(pieces: Iterator[str]) -> Work:
    """A streamed sample's pieces as work for ``GuardedStream``: one chunk per ``PIECE_SECONDS``."""
    def work(send: Send, stop) -> None:
        try:
            for chunk in _gathered(pieces, stop):
                if not send(chunk):
                    return
        finally:
            if hasattr(pieces, "close"):
                pieces.close()
    return work


def text_failure(message: str) -> str:
    """How a text stream ends when drawing failed: one line saying what it was."""
    return f"\n[error: {message}]\n"


async def drawn_pieces(work: Work, job, stall_seconds: float, failure: Callable[[str], str] = text_failure,
                       raise_early: bool = False) -> AsyncIterator[str]:
    """What ``work(send, stop)`` sends, drawn in a thread of its own.

    Torch's inference mode, which the sampler enters, holds for one thread only, so every step of
    one sample must run in the same thread. Closing this iterator (the page stopped), ``job.stop``
    (the server stopping) or a page that takes nothing for ``stall_seconds`` sets ``stop``, and
    ``send`` then answers False; ``job`` is called by that thread when it has finished with the
    model. A failure on the way ends the pieces with ``failure(one line)``; with ``raise_early``,
    one before anything was sent is raised here instead (a plain HTTP error for the page).
    """
    loop = asyncio.get_running_loop()
    chunks: asyncio.Queue = asyncio.Queue()
    room = threading.Semaphore(CHUNKS_AHEAD)  # the drawing waits for a page that reads slowly
    stop = job.stop
    begun = threading.Event()  # something was sent: a failure from here on is said in the stream

    def deliver(item) -> None:
        try:
            loop.call_soon_threadsafe(chunks.put_nowait, item)
        except RuntimeError:
            stop.set()  # the server's loop is gone: nobody reads any more

    def send(chunk: str) -> bool:
        """Whether the page took enough to send it more, within ``stall_seconds``: then it is sent."""
        until = time.monotonic() + stall_seconds
        while not room.acquire(timeout=0.1):
            if stop.is_set() or time.monotonic() > until:
                stop.set()  # a page that reads nothing must not hold the model for good
                return False
        begun.set()
        deliver(chunk)
        return not stop.is_set()

    def produce() -> None:
        try:
            work(send, stop)
        except Exception as exc:  # noqa: BLE001  (said in the stream, and a failure in the server's log)
            if raise_early and not begun.is_set():
                deliver(exc)
            elif isinstance(exc, SeqgenError):
                deliver(failure(str(exc)))
            else:
                log.exception("studio: sampling failed")
                deliver(failure(f"the server failed ({type(exc).__name__}); see its terminal"))
        finally:
            job()
            deliver(None)

    threading.Thread(target=produce, name="seqgen-sample", daemon=True).start()
    try:
        while (chunk := await chunks.get()) is not None:
            if isinstance(chunk, Exception):
                raise chunk
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

    def __init__(self, work: Work, job, stall_seconds: float, failure: Callable[[str], str] = text_failure,
                 raise_early: bool = False, **kwargs):
        self.job, self.stall_seconds = job, stall_seconds
        self.release = _Once(job)
        super().__init__(drawn_pieces(work, self.release, stall_seconds, failure, raise_early), **kwargs)
        weakref.finalize(self, self.release)  # never sent: nothing was drawn

    async def begun(self) -> None:
        """Waits for the first piece: with ``raise_early``, what failed before it is raised here,
        before any answer is sent."""
        pieces = self.body_iterator
        first = await anext(pieces, None)

        async def again() -> AsyncIterator[str]:
            try:
                if first is not None:
                    yield first
                async for piece in pieces:
                    yield piece
            finally:
                await pieces.aclose()
        self.body_iterator = again()

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


class _Once:
    """Calls ``fn`` once however often it is called (the stream's model let go once)."""

    def __init__(self, fn: Callable[[], None]):
        self.fn = fn
        self.stop = getattr(fn, "stop", None)

    def __call__(self) -> None:
        fn, self.fn = self.fn, None
        if fn is not None:
            fn()
