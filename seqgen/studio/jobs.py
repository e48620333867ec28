"""One generation at a time per model, limits per request, and the files each batch of tunes made.

Files live in a folder of the server's own (removed when it stops), one sub-folder per batch
named by a random id, so that one page cannot guess another's files; only the newest
``Limits.batches_kept`` batches are kept. A tune's ``.abc`` is written when it is sampled; its
``.mid`` and ``.wav`` when first asked for, so that the sheet music need not wait for them
(``music.tune_files`` writes them, as it does for ``seqgen sample --tunes``).
"""

from __future__ import annotations

import contextlib
import re
import secrets
import shutil
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..errors import Cancelled, SeqgenError, UsageError
from ..music.tune_files import TuneFolder, midi_of, wav_of
from .security import NotFound

FILE_NAME = re.compile(r"^(\d{3})\.(abc|mid|wav)$")
BATCH_ID = re.compile(r"^[0-9a-f]{16}$")


@dataclass(frozen=True)
class Limits:
    """What one request may ask for, and how much the server keeps."""

    max_length: int = 20_000  # tokens of one text sample
    max_tunes: int = 20  # tunes of one request
    generations: int = 2  # generations running at once, over all models
    stall_seconds: float = 30.0  # a text stream whose page reads nothing for this long is ended
    batches_kept: int = 50  # batches of tune files kept on disk

    def check(self, length: int | None, tunes: int | None) -> None:
        if length is not None and length > self.max_length:
            raise UsageError(f"length is at most {self.max_length:,} here (got {length:,}); "
                             "use seqgen sample for longer texts")
        if tunes is not None and tunes > self.max_tunes:
            raise UsageError(f"at most {self.max_tunes} tunes at a time here (got {tunes}); "
                             "use seqgen sample --tunes for more")


class Busy(SeqgenError):
    """The model (or the server) is already generating (HTTP 429)."""


class Stop:
    """A flag that ends one piece of work, set by its owner or by any of ``parents`` (the
    server stopping). Setting it takes no lock, so a signal handler may set it."""

    def __init__(self, *parents: "Stop"):
        self._set = False
        self.parents = parents

    def set(self) -> None:
        self._set = True

    def is_set(self) -> bool:
        return self._set or any(p.is_set() for p in self.parents)


class Job:
    """One generation holding its model: ``stop`` ends it; calling the job lets the model go."""

    def __init__(self, stop: Stop, release: Callable[[], None]):
        self.stop, self._release = stop, release

    def __call__(self) -> None:
        self._release()


class Jobs:
    """Who is generating now: at most one generation per model, ``limits.generations`` in all.
    ``close`` (the server stopping) stops every job, running or to come."""

    def __init__(self, limits: Limits):
        self.limits = limits
        self.closing = Stop()
        self._running: set[str] = set()
        self._lock = threading.Lock()

    def close(self) -> None:
        """Stop every generation at its next token; safe to call from a signal handler."""
        self.closing.set()

    def acquire(self, model_id: str) -> Job:
        """Hold ``model_id`` for one generation: the ``Job``, which lets it go when called.
        Busy when the model (or the server) is taken, Cancelled when the server is stopping."""
        if self.closing.is_set():
            raise Cancelled("the server is stopping; start it again to generate")
        with self._lock:
            if model_id in self._running:
                raise Busy(f"{model_id} is generating for another request; wait for it to finish or stop it")
            if len(self._running) >= self.limits.generations:
                raise Busy(f"{len(self._running)} generations are running; wait for one to finish")
            self._running.add(model_id)

        def release() -> None:
            with self._lock:
                self._running.discard(model_id)
        return Job(Stop(self.closing), release)

    @contextlib.contextmanager
    def running(self, model_id: str):
        """``acquire`` for the length of a ``with`` block, which gets the job."""
        job = self.acquire(model_id)
        try:
            yield job
        finally:
            job()


class Files:
    """The files of the tunes sampled by this server, by batch."""

    def __init__(self, limits: Limits, folder: Path | None = None):
        self.limits = limits
        self.folder = Path(folder) if folder else Path(tempfile.mkdtemp(prefix="seqgen-studio-"))
        self.folder.mkdir(parents=True, exist_ok=True)
        self._order: list[str] = []
        self._lock = threading.Lock()
        self._closed = False

    def new_batch(self, tunes: list[str]) -> str:
        """Write each tune's ABC text as 001.abc, 002.abc, ... of a new batch; its id."""
        batch = secrets.token_hex(8)
        where = self.folder / batch
        with self._lock:  # held while writing: close() must not remove the folder half-way
            if self._closed:  # a job that outlived the server must not make its folder again
                raise Cancelled("the server is stopping; start it again to sample tunes")
            where.mkdir()
            writer = TuneFolder(where)
            for text in tunes:
                writer.write(text)
            self._order.append(batch)
            old, self._order = self._order[:-self.limits.batches_kept], self._order[-self.limits.batches_kept:]
        for gone in old:
            shutil.rmtree(self.folder / gone, ignore_errors=True)
        return batch

    def path(self, batch: str, name: str, soundfont: Path | None) -> Path:
        """The file ``name`` of ``batch``, made now if it is a .mid or .wav not made yet.

        NotFound for a batch or name this server did not make (so never a path outside it),
        SeqgenError when the file cannot be made (music21 cannot read the tune; no soundfont).
        """
        match = FILE_NAME.match(name)
        if not BATCH_ID.match(batch) or match is None or not (self.folder / batch / f"{match[1]}.abc").is_file():
            raise NotFound(f"no file {batch}/{name} here; sample tunes first")
        stem = self.folder / batch / match[1]
        path = stem.with_suffix("." + match[2])
        with self._lock:  # two requests for one file make it once
            if match[2] == "mid":
                midi_of(stem)
            elif match[2] == "wav":
                wav_of(stem, soundfont)
        return path

    def close(self) -> None:
        """Remove the files; no batch is made after this."""
        with self._lock:
            self._closed = True
            shutil.rmtree(self.folder, ignore_errors=True)

