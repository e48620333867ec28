"""The studio's archive: every batch of tunes it made, kept under the served folder.

    <root>/studio-archive/
      2026-12-03-42/        a batch: the date, then its seed (-2, -3, ... when the name is taken)
        001.abc  001.mid    the tunes, as ``seqgen sample --tunes`` writes them (``TuneFolder``)
        004-invalid.abc     one that failed its check
        001.wav             audio, made when first asked for
        batch.json          the answer the page got: settings, command, summary, tunes; created, starred

``open_batch`` makes the folder and a batch.json marked incomplete, ``add_tune`` writes each tune
as it is ready, ``finish`` writes the whole batch.json. Every file is written atomically, so a
server stopped half-way leaves a batch that is listed as incomplete, never a file cut short.
A tune's .mid is written from the score its check parsed, as the command line writes it, but in a
thread of the archive's own: the page gets the tunes without waiting for music21's MIDI writer (a
tenth of a second a tune), and a request for the file waits for it.

A batch is named by a plain name (``BATCH_ID``), and a file by ``FILE_NAME``: a request can name
nothing else, and a folder or file that is a symbolic link is never served nor deleted.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

from ..atomic import write_text
from ..errors import Cancelled, SeqgenError
from ..evaluate import json_safe
from ..music.abc import tune_title
from ..music.tune_files import TUNE_FILE, TuneFolder, midi_of, wav_of
from .security import ARCHIVE_FOLDER, NotFound

BATCH_ID = re.compile(r"^\d{4}-\d{2}-\d{2}-\d{1,19}(-\d{1,4})?$")
FILE_NAME = re.compile(r"^(\d{3}(?:-invalid)?)\.(abc|mid|wav)$")
RECORD = "batch.json"
MAX_SAME_NAME = 9999  # batches of one seed on one day: the suffix BATCH_ID allows
SHOWN_SETTINGS = ("meter", "key", "seed", "temperature", "top_k", "top_p", "prime_abc")


class Starred(SeqgenError):
    """A starred batch asked to be deleted without saying so (HTTP 409)."""


class Archive:
    """The batches under ``root/studio-archive``; ``close`` (the server stopping) ends new ones."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.folder = self.root / ARCHIVE_FOLDER
        self._writers: dict[str, TuneFolder] = {}  # batches being written
        self._files = ThreadPoolExecutor(max_workers=1, thread_name_prefix="seqgen-archive")
        self._pending: dict[Path, Future] = {}  # .abc file -> the writing of its .mid
        self._lock = threading.Lock()
        self._closed = False

    def out_path(self, batch: str) -> str:
        """The batch's folder as the command shown names it (from the server's working folder)."""
        return (self.folder / batch).as_posix()

    # -- writing ------------------------------------------------------------------------------

    def open_batch(self, settings: dict, checkpoint: str = "") -> str:
        """A new batch for tunes drawn with ``settings`` (which hold the ``seed``): its id, the
        name of its folder."""
        created = datetime.now(timezone.utc)
        base = f"{created.astimezone():%Y-%m-%d}-{int(settings['seed'])}"
        with self._lock:
            if self._closed:  # a job that outlived the server must not make a folder
                raise Cancelled("the server is stopping; start it again to sample tunes")
            batch = self._new_folder(base)
            self._writers[batch] = TuneFolder(self.folder / batch)
        self._write_record(batch, {"batch": batch, "link": link(batch), "checkpoint": checkpoint,
                                   "settings": settings, "created": created.isoformat(timespec="milliseconds"),
                                   "starred": False, "complete": False})
        return batch

    def add_tune(self, batch: str, text: str, check=None) -> None:
        """The batch's next tune: 00k.abc, and with its ``check`` (``validate.TuneCheck``) the
        name and .mid file ``seqgen sample --tunes`` gives it (004-invalid.abc for a tune that
        failed). Without one, the tune counts as valid and its .mid is made when first asked for."""
        writer = self._writer(batch)
        abc = writer.write(text, check, files=False)
        if check is None or check.score is None:
            return
        with self._lock:
            if self._closed:  # the server is stopping: no thread to hand it to
                writer.write_files(abc, check, text)
                return
            pending = self._pending[abc] = self._files.submit(writer.write_files, abc, check, text)
        pending.add_done_callback(lambda done: self._forget(abc, done))  # outside the lock: it may run here

    def finish(self, batch: str, answer: dict) -> None:
        """The batch is whole: ``answer`` (what the page was sent) becomes its batch.json."""
        with self._lock:
            self._writers.pop(batch, None)
        opened = self._record(batch)
        self._write_record(batch, {**answer, "batch": batch, "link": link(batch), "created": opened["created"],
                                   "starred": opened.get("starred", False), "complete": True})

    def close(self) -> None:
        """No batch is opened after this (the server is stopping); the MIDI files being written
        are finished. The archive stays."""
        with self._lock:
            self._closed = True
        self._files.shutdown(wait=True)

    # -- reading ------------------------------------------------------------------------------

    def list(self) -> list[dict]:
        """One short entry per batch, newest first; a batch whose batch.json is missing or
        unreadable (a server stopped half-way) is listed as incomplete."""
        if not self.folder.is_dir():
            return []
        entries = [self._entry(p.name) for p in self.folder.iterdir() if BATCH_ID.match(p.name) and _is_folder(p)]
        return sorted(entries, key=lambda e: (e["created"], e["id"]), reverse=True)

    def get(self, batch: str) -> dict:
        """The batch's batch.json, as the page got it when it was made; for an incomplete batch,
        what there is, with a tune entry per .abc file written."""
        record = self._record(batch)
        if not record.get("complete"):
            record["tunes"] = [_bare_entry(batch, path) for path in self._abc_files(batch)]
        return record

    def path(self, batch: str, name: str, soundfont: Path | None) -> Path:
        """The file ``name`` of ``batch``, made now if it is a .mid or .wav not made yet.

        NotFound for a batch or name not in the archive (so never a path outside it),
        SeqgenError when the file cannot be made (music21 cannot read the tune; no soundfont).
        """
        match = FILE_NAME.match(name)
        if match is None or not BATCH_ID.match(batch):
            raise NotFound(f"no file {batch}/{name} here; sample tunes first")
        stem = self._folder(batch) / match[1]
        path = stem.parent / name
        if not _is_file(stem.with_suffix(".abc")) or (os.path.lexists(path) and not _is_file(path)):
            raise NotFound(f"no file {batch}/{name} here; sample tunes first")
        self._written(stem.with_suffix(".abc"))
        with self._lock:  # two requests for one file make it once
            if match[2] == "mid":
                midi_of(stem)
            elif match[2] == "wav":
                wav_of(stem, soundfont)
        return path

    # -- changing -----------------------------------------------------------------------------

    def star(self, batch: str, on: bool) -> dict:
        """Star the batch (or not); its short entry."""
        with self._lock:
            record = self._record(batch)
            self._write_record(batch, {**record, "starred": bool(on)})
        return self._entry(batch)

    def delete(self, batch: str, even_starred: bool = False) -> None:
        """Remove the batch and its files. A starred batch only with ``even_starred``."""
        folder = self._folder(batch)
        for abc in self._abc_files(batch):  # a .mid still being written would land in a removed folder
            self._written(abc)
        with self._lock:
            if batch in self._writers:
                raise SeqgenError(f"batch {batch} is still being made; stop it first")
            if not even_starred and self._readable(batch).get("starred"):
                raise Starred(f"batch {batch} is starred; unstar it first, or confirm deleting a starred batch")
            shutil.rmtree(folder)  # the folder itself is no link (``_folder``); links inside are removed, not followed

    # -- inside -------------------------------------------------------------------------------

    def _folder(self, batch: str) -> Path:
        folder = self.folder / batch
        if not BATCH_ID.match(batch) or not _is_folder(folder):
            raise NotFound(f"no batch {batch!r} in the archive; pick one from the history")
        return folder

    def _new_folder(self, base: str) -> str:
        """A new batch folder named ``base``, or ``base``-2, -3, ... when taken: its name."""
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            for n in range(1, MAX_SAME_NAME + 1):
                batch = base if n == 1 else f"{base}-{n}"
                try:
                    (self.folder / batch).mkdir()
                    return batch
                except FileExistsError:
                    continue
        except OSError as exc:
            raise SeqgenError(f"cannot keep tunes in {self.folder}: {exc.strerror or exc}; make the served "
                              "folder writable, or serve another") from None
        raise SeqgenError(f"{MAX_SAME_NAME:,} batches named {base} already; delete some, or choose another seed")

    def _writer(self, batch: str) -> TuneFolder:
        with self._lock:
            if batch not in self._writers:
                raise NotFound(f"batch {batch!r} is not open; open_batch first")
            return self._writers[batch]

    def _written(self, abc: Path) -> None:
        """Wait for the .mid of ``abc`` being written from its score, if it is; a failure there
        leaves it to ``midi_of``, which says what it was."""
        with self._lock:
            pending = self._pending.get(abc)
        if pending is not None:
            pending.exception()

    def _forget(self, abc: Path, done: Future) -> None:
        with self._lock:
            if self._pending.get(abc) is done:
                del self._pending[abc]

    def _record(self, batch: str) -> dict:
        """batch.json of ``batch``; NotFound when the batch is not there."""
        folder = self._folder(batch)
        record = self._readable(batch)
        return record or {"batch": batch, "link": link(batch), "checkpoint": "", "settings": {},
                          "created": _mtime(folder), "starred": False, "complete": False}

    def _readable(self, batch: str) -> dict:
        """batch.json as a dict, or {} when it is missing, a link or not what it should be."""
        path = self.folder / batch / RECORD
        try:
            record = json.loads(path.read_text(encoding="utf-8")) if _is_file(path) else {}
        except (OSError, ValueError):
            return {}
        return record if isinstance(record, dict) and isinstance(record.get("created"), str) else {}

    def _write_record(self, batch: str, record: dict) -> None:
        write_text(self.folder / batch / RECORD, json.dumps(json_safe(record), ensure_ascii=False, indent=1) + "\n")

    def _abc_files(self, batch: str) -> list[Path]:
        folder = self._folder(batch)
        return sorted(p for p in folder.iterdir() if TUNE_FILE.match(p.name) and p.suffix == ".abc" and _is_file(p))

    def _entry(self, batch: str) -> dict:
        """The short entry of the history panel."""
        record = self._record(batch)
        settings = record.get("settings") if isinstance(record.get("settings"), dict) else {}
        complete = bool(record.get("complete")) and isinstance(record.get("tunes"), list)
        tunes = record["tunes"] if complete else self._abc_files(batch)
        valid = (sum(bool(t.get("valid")) for t in tunes if isinstance(t, dict)) if complete
                 else sum("-invalid" not in p.name for p in tunes))
        return {"id": batch, "created": record["created"], "checkpoint": record.get("checkpoint", ""),
                "settings": {k: settings.get(k) for k in SHOWN_SETTINGS}, "tunes": len(tunes), "valid": valid,
                "starred": bool(record.get("starred")), "complete": complete, "link": link(batch)}


def link(batch: str) -> str:
    """The page's address that opens ``batch``."""
    return f"/?batch={batch}"


def _bare_entry(batch: str, abc: Path) -> dict:
    """A tune entry for a tune of an incomplete batch: its text and files, no verdict."""
    text = abc.read_text(encoding="utf-8", errors="replace")
    valid = "-invalid" not in abc.name
    base = f"/api/files/{batch}/{abc.stem}"
    return {"n": int(abc.name[:3]), "title": tune_title(text), "abc": text, "valid": valid,
            "verdict": "unfinished batch", "reasons": [], "files": {"abc": base + ".abc", "mid": base + ".mid",
                                                                  "wav": None}}


def _is_folder(path: Path) -> bool:
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)  # lstat: a link to a folder is not one of ours
    except OSError:
        return False


def _is_file(path: Path) -> bool:
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def _mtime(path: Path) -> str:
    return datetime.fromtimestamp(path.stat().st_mtime, timezone.utc).isoformat(timespec="milliseconds")
