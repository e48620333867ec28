"""The run folder: its name, a lock against two trainings writing at once, the metrics log, and
the rule that a run is never replaced by accident."""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
import re
import time
import uuid
from pathlib import Path

from . import checkpoint
from .checkpoint import DEFAULT_ROOT
from ..config import RESUMABLE
from ..errors import CheckpointError, SeqgenError, UsageError, first_line, warn
from ..evaluate import json_safe


def resume_command(last: Path, processes: int = 1) -> str:
    """The command that continues a run from its ``last.pt``, with as many processes as it had."""
    return f"seqgen train --resume {last}" + (f" --nproc {processes}" if processes > 1 else "")

RUN_FILES = ("best.pt", "last.pt", "metrics.jsonl", "loss.png")


def new_run_dir(specs: list[str], level: str, tag: str, root: Path = DEFAULT_ROOT) -> Path:
    """checkpoints/<first source>-<level>-<tag>-<timestamp>, made unique if taken."""
    first = specs[0].removeprefix("builtin:") if specs else "run"
    stem = re.sub(r"[^A-Za-z0-9_-]+", "-", Path(first.rstrip("/")).stem or "run").strip("-") or "run"
    base = f"{stem}-{level}-{tag}-{time.strftime('%Y%m%d-%H%M%S')}"
    path, n = root / base, 1
    while path.exists():
        n += 1
        path = root / f"{base}-{n}"
    return path


def make_dir(path: Path) -> Path:
    if path.exists() and not path.is_dir():
        raise UsageError(f"--out {path} is a file; give a folder for the run")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SeqgenError(f"cannot create run folder {path}: {exc.strerror or exc}; choose another --out") from None
    if not os.access(path, os.W_OK):
        raise SeqgenError(f"run folder {path} is not writable; choose another --out")
    return path


def holds_run(path: Path) -> bool:
    """Whether ``path`` holds a run: a checkpoint to continue from. Metrics and a curve alone are
    what a run that saved nothing (its first save failed) left: nothing to resume."""
    return any((path / name).exists() for name in RUN_FILES[:2])


def claim_for_new_run(path: Path, overwrite: bool) -> None:
    """A new run may write into ``path`` only when it holds no run, or when ``overwrite`` says
    to replace it (its files are then removed). What a run that saved no checkpoint left is
    replaced, with a warning."""
    from ..atomic import check_replaceable

    held = holds_run(path)
    if held and not overwrite:
        last = path / "last.pt" if (path / "last.pt").exists() else path / "best.pt"
        raise UsageError(f"{path} already holds a run; continue it with --resume {last}, "
                         "choose another --out, or pass --overwrite to replace it")
    left = [name for name in RUN_FILES if (path / name).exists() or (path / name).is_symlink()]
    for name in left:
        check_replaceable(path / name)
    if left and not held:
        warn(f"{path} held {' and '.join(left)} of a run that saved no checkpoint; the new run replaces them")
    for name in left:
        (path / name).unlink()


def new_run_id() -> str:
    """A new run's id, stored in each of its checkpoints and each record of its metrics.jsonl."""
    return uuid.uuid4().hex


def run_id(state: dict) -> str:
    """The id of the run a loaded checkpoint belongs to.

    A checkpoint from before run ids carries none. Its id is derived from what a run never
    changes (model, vocabulary, data, the settings a resume cannot change), so that every
    checkpoint of one such run has the same id, and a resumed one stores it from then on. Two
    such runs with the same model, data and settings cannot be told apart.
    """
    stored = state.get("run_id")
    if isinstance(stored, str) and stored:
        return stored
    data = state["data"]
    fixed = {k: v for k, v in (state.get("train_config") or {}).items() if k not in RESUMABLE}
    kept = {k: data.get(k) for k in ("kind", "sources", "encoding", "val_fraction", "seed", "train_tokens")}
    described = [state["model_type"], state["model_config"], state["vocab"]["tokens"], fixed, kept]
    digest = hashlib.sha256(json.dumps(described, sort_keys=True, default=str).encode())
    digest.update(data["val_ids"].numpy().tobytes())
    return "legacy-" + digest.hexdigest()[:32]


def check_same_run(path: Path, state: dict) -> None:
    """Resuming checkpoint ``path`` in its own folder writes that folder's best.pt, last.pt and
    metrics.jsonl: refuse when they belong to another run (a checkpoint copied in from elsewhere)."""
    mine, found = run_id(state), _run_files(path.parent, besides=path)
    others = sorted({name for rid, name in found if rid != mine})
    if not others:
        return
    whose = (f"{path.parent}/ holds files of another run too" if mine in {rid for rid, _ in found}
             else f"{path} is from another run than the one in {path.parent}/")
    raise UsageError(f"{whose} ({', '.join(others)}); resuming there would replace that run's files: pass "
                     "--out NEW_FOLDER to continue this one in a folder of its own")


def _run_files(run_dir: Path, besides: Path) -> list[tuple[str, str]]:
    """(run id, file name) for the files of ``run_dir`` that say which run they belong to: the
    records of metrics.jsonl, else (a log from before run ids, or none) best.pt and last.pt."""
    found = [(r["run_id"], "metrics.jsonl") for r in read_metrics(run_dir) if isinstance(r.get("run_id"), str)]
    if found:
        return found
    for name in ("best.pt", "last.pt"):
        path = run_dir / name
        if not path.is_file() or path.resolve() == besides.resolve():
            continue
        try:
            found.append((run_id(checkpoint.load(path)), name))
        except CheckpointError as exc:  # whose it is cannot be told: it must not be replaced either
            raise UsageError(f"cannot tell which run {run_dir}/ holds ({first_line(exc)}), so resuming there could "
                             "replace another run's files: pass --out NEW_FOLDER to continue the run in a folder "
                             "of its own") from None
    return found


class RunLock:
    """An exclusive ``flock`` on ``<run>/.lock`` while training writes there. The kernel drops the
    lock when its process ends, however it ends, so a crash never leaves the folder locked."""

    def __init__(self, run_dir: Path):
        self.path = run_dir / ".lock"
        self.fd: int | None = None

    def acquire(self) -> "RunLock":
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise SeqgenError(f"cannot lock {self.path.parent}: {exc.strerror or exc}; choose another --out") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = os.read(fd, 32).decode(errors="replace").strip()
            os.close(fd)
            raise SeqgenError(f"another training{f' (pid {owner})' if owner else ''} is writing to "
                              f"{self.path.parent}; wait for it or choose another --out") from None
        try:
            os.ftruncate(fd, 0)
            os.write(fd, str(os.getpid()).encode())  # for the message above, nothing else
        except OSError as exc:  # a full disk: the run could write nothing there either
            os.close(fd)
            raise SeqgenError(f"cannot write {self.path}: {exc.strerror or exc}; free some disk space or choose "
                              "another --out") from None
        self.fd = fd
        return self

    def release(self) -> None:
        if self.fd is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None

    def __enter__(self) -> "RunLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def append_metrics(run_dir: Path, record: dict) -> None:
    """One JSON line per evaluation in metrics.jsonl, whole or not at all: a write that fails
    (a full disk) takes back the part of the line it wrote, and the OSError goes on."""
    line = (json.dumps(json_safe(record), allow_nan=False) + "\n").encode()  # a loss that is not finite: null
    path = run_dir / "metrics.jsonl"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
    try:
        end = os.lseek(fd, 0, os.SEEK_END)
        try:
            rest = memoryview(line)
            while rest:  # a nearly full disk takes part of a write, and refuses the next
                rest = rest[os.write(fd, rest):]
        except BaseException:  # a full disk, or an interrupt between two writes
            os.ftruncate(fd, end)  # shrinking needs no space
            if end == 0:
                path.unlink()  # an empty log would read as a run's leftovers
            raise
    finally:
        os.close(fd)


def write_failed(path: Path, exc: OSError, last: Path, processes: int = 1) -> SeqgenError:
    """The error for a file of a run that could not be written while it trained (a full disk): what
    is kept, and how to go on once there is room."""
    full = exc.errno in (errno.ENOSPC, errno.EDQUOT)
    room = "free some disk space" if full else "make it writable"
    then = (f"{last} is kept; {room}, then continue with: {resume_command(last, processes)}" if last.is_file()
            else f"no checkpoint was saved; {room}, or choose another --out, and train again")
    return SeqgenError(f"could not write {path}: {exc.strerror or exc}; {then}")


def read_metrics(run_dir: Path) -> list[dict]:
    path = run_dir / "metrics.jsonl"
    if not path.is_file():
        return []
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # a line cut short by a crash; the others still tell the story
    return records


def keep_metrics_until(run_dir: Path, step: int) -> None:
    """Drop the metrics of evaluations after ``step`` (a run continued from an earlier checkpoint)."""
    from ..atomic import write_text

    kept = [r for r in read_metrics(run_dir) if r.get("step", 0) <= step]
    if not (run_dir / "metrics.jsonl").exists():
        return
    try:
        write_text(run_dir / "metrics.jsonl", "".join(json.dumps(r) + "\n" for r in kept))
    except OSError as exc:  # written atomically: the old file is as it was
        raise SeqgenError(f"could not write {run_dir / 'metrics.jsonl'}: {exc.strerror or exc}; nothing was "
                          "changed (free some disk space or choose another --out)") from None
