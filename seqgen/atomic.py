"""Atomic file writing: a file appears complete or not at all, whatever happens while it is written.

Every file seqgen writes for a reader (checkpoints, token caches, metrics plots, MIDI and audio
files, samples, the tune folders of ``seqgen sample --tunes`` and the studio, the run folder's name
a launcher reads) goes through ``atomic_path``; only scratch files it removes again (a tool's
input, the benchmark's corpus) are written in place. The content is written to a temporary file
beside the target, flushed to disk, then renamed over it. On any failure, an interrupt included, the
temporary file is removed and the old file, if there was one, is left as it was.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_path(path: Path | str, durable: bool = False) -> Iterator[Path]:
    """A temporary path beside ``path`` to write to; renamed to ``path`` when the block ends.

    The temporary file keeps ``path``'s suffix (some writers choose the format by it) and gets
    the permissions a new file would get. With ``durable`` the data and the rename are flushed
    to disk (fsync) before returning, so that a power cut leaves the old file or the new one.
    """
    path = Path(path)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}")
    os.close(fd)
    tmp = Path(name)
    try:
        umask = os.umask(0)  # mkstemp makes the file private; the real file gets the usual mode
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        yield tmp
        if durable:
            _fsync(tmp)
        os.replace(tmp, path)
        if durable:
            _fsync(path.parent)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def check_replaceable(path: Path | str) -> None:
    """``--overwrite`` replaces an earlier output: a regular file. Anything else at ``path`` (a
    device such as /dev/null, a FIFO, a symbolic link, a folder) is refused, in one line."""
    from .errors import SeqgenError

    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    except OSError as exc:
        raise SeqgenError(f"cannot look at {path}: {exc.strerror or exc}; choose another --out") from None
    if not stat.S_ISREG(mode):
        raise SeqgenError(f"{path} is {file_kind(mode)}, which --overwrite never replaces (it replaces earlier output "
                          "files only); choose another --out")


def file_kind(mode: int) -> str:
    """What a file that is not a regular one is, for messages ("a folder", "a FIFO", ...)."""
    return ("a symbolic link" if stat.S_ISLNK(mode) else "a folder" if stat.S_ISDIR(mode)
            else "a FIFO (a pipe)" if stat.S_ISFIFO(mode) else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
            else "a regular file" if stat.S_ISREG(mode) else "not a regular file")


def write_bytes(path: Path | str, data: bytes | memoryview, durable: bool = False) -> Path:
    """Write ``data`` to ``path`` atomically."""
    with atomic_path(path, durable) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(data)
    return Path(path)


def write_text(path: Path | str, text: str, durable: bool = False) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    return write_bytes(path, text.encode("utf-8"), durable)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
