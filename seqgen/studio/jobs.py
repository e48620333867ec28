"""One generation at a time per model, limits per request, and the files each batch of tunes made.

Files live in a folder of the server's own (removed when it stops), one sub-folder per batch
named by a random id, so that one page cannot guess another's files; only the newest
``Limits.batches_kept`` batches are kept. A batch is opened before its first tune is drawn, each
tune's ``.abc`` is written as soon as it is ready (the page shows it while the others are drawn),
and the batch is finished with the answer the page got. A tune's
``.mid`` and ``.wav`` when first asked for, so that the sheet music need not wait for them
(``music.tune_files`` writes them, as it does for ``seqgen sample --tunes``).
"""

from __future__ import annotations

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

# A page that stops a job and starts another at once can be heard before the server has seen the
# first one's connection close, or while that job lets go of its model (at its next step): a model
# that is taken is waited for a moment, and one whose job is stopping a while longer, before Busy.
LETTING_GO_SECONDS = 0.5
STOPPING_WAIT_SECONDS = 5.0
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
        self._running: dict[str, Stop] = {}  # model id -> the stop flag of the job holding it
        self._freed = threading.Condition()

    def close(self) -> None:
        """Stop every generation at its next token; safe to call from a signal handler."""
        self.closing.set()

    def acquire(self, model_id: str) -> Job:
        """Hold ``model_id`` for one generation: the ``Job``, which lets it go when called.
        Busy when the model (or the server) is taken by a job that is not stopping, Cancelled
        when the server is stopping."""
        self._check_open()
        with self._freed:
            self._freed.wait_for(lambda: not self._taken(model_id), LETTING_GO_SECONDS)
            self._freed.wait_for(lambda: not (self._taken(model_id) and self._stopping()), STOPPING_WAIT_SECONDS)
            self._check_open()
            if model_id in self._running:
                raise Busy(f"{model_id} is generating for another request; wait for it to finish or stop it")
            if len(self._running) >= self.limits.generations:
                raise Busy(f"{len(self._running)} generations are running; wait for one to finish")
            stop = self._running[model_id] = Stop(self.closing)

        def release() -> None:
            with self._freed:
                self._running.pop(model_id, None)
                self._freed.notify_all()
        return Job(stop, release)

    def _check_open(self) -> None:
        if self.closing.is_set():
            raise Cancelled("the server is stopping; start it again to generate")

    def _taken(self, model_id: str) -> bool:
        return model_id in self._running or len(self._running) >= self.limits.generations

    def _stopping(self) -> bool:
        return any(stop.is_set() for stop in self._running.values())


class Files:
    """The files of the tunes sampled by this server, by batch."""

    def __init__(self, limits: Limits, folder: Path | None = None):
        self.limits = limits
        self.folder = Path(folder) if folder else Path(tempfile.mkdtemp(prefix="seqgen-studio-"))
        self.folder.mkdir(parents=True, exist_ok=True)
        self._order: list[str] = []
        self._open: dict[str, TuneFolder] = {}  # batches whose tunes are being drawn
        self._lock = threading.Lock()
        self._closed = False

    def open_batch(self) -> str:
        """A new, empty batch, before its first tune is drawn; its id."""
        batch = secrets.token_hex(8)
        with self._lock:  # held while writing: close() must not remove the folder half-way
            self._check_open()
            (self.folder / batch).mkdir()
            self._open[batch] = TuneFolder(self.folder / batch)
            self._order.append(batch)
            old, self._order = self._order[:-self.limits.batches_kept], self._order[-self.limits.batches_kept:]
        for gone in old:
            shutil.rmtree(self.folder / gone, ignore_errors=True)
        return batch

    def add_tune(self, batch_id: str, text: str) -> None:
        """The next tune of an open batch, written now as 001.abc, 002.abc, ..."""
        with self._lock:
            self._check_open()
            self._open[batch_id].write(text)

    def finish(self, batch_id: str, answer: dict) -> None:
        """The batch is whole (``answer``: what the page got); no tune is added to it after this.
        These files last only as long as the server: the answer is not kept."""
        with self._lock:
            self._open.pop(batch_id, None)

    def _check_open(self) -> None:
        if self._closed:  # a job that outlived the server must not make its folder again
            raise Cancelled("the server is stopping; start it again to sample tunes")

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

