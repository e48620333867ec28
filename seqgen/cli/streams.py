"""The CLI's standard output and error. Output that cannot be written (a closed or full stdout,
an encoding that cannot hold the text) is an ``OutputError``, which ends a command in one line;
messages that cannot be written (a closed or full stderr) are lost, and the command goes on.
"""

from __future__ import annotations

import os
import sys

from ..errors import SeqgenError


class OutputError(SeqgenError):
    """Standard output cannot be written (``> /dev/full``, a full disk, a closed stdout, an
    encoding that cannot hold the text)."""


class ReaderGone(BaseException):
    """The reader of standard output has gone (``| head``), which is no failure: the command
    stops quietly, exit 0. Not an OSError, so that click and rich, which end in exit 1 on a
    broken pipe (help, --version, tables), let it through to the one place that stops; a
    BaseException, so that no ``except Exception`` takes it for a failure."""


class Guarded:
    """A text stream (``current()`` returns it) whose failed writes are an ``OutputError``, so
    that output that cannot be written ends the command in one line. A closed stdout (``>&-``) is
    None in Python: writing to it fails the same way. A broken pipe is ``ReaderGone``."""

    def __init__(self, current):
        self.current = current

    def write(self, text: str) -> int:
        return self._guard(lambda: self._write(self._stream(), text))

    @staticmethod
    def _write(stream, text: str) -> int:
        try:
            return stream.write(text)
        except UnicodeEncodeError:
            if not hasattr(stream, "buffer"):
                raise
        # A name that is not UTF-8 (a file's, a folder's) reaches Python as lone surrogates, which
        # a strict stream refuses: written back as the bytes it was, as ls does. What the
        # encoding cannot hold otherwise (é in ascii) still fails, and is said.
        data = text.encode(stream.encoding, "surrogateescape")
        stream.flush()
        stream.buffer.write(data)
        return len(text)

    def flush(self) -> None:
        if self.current() is not None:  # nothing written to a closed stdout: nothing to flush
            self._guard(self.current().flush)

    def isatty(self) -> bool:
        return self.current() is not None and self.current().isatty()

    def fileno(self) -> int:
        return self._stream().fileno()

    def __getattr__(self, name):  # encoding, errors, buffer, ...: the stream's own (none when closed)
        stream = self.current()
        if stream is None:
            raise AttributeError(name)
        return getattr(stream, name)

    def _stream(self):
        stream = self.current()
        if stream is None:
            raise OutputError("cannot write the output: standard output is closed")
        return stream

    def _guard(self, op):
        try:
            return op()
        except BrokenPipeError:
            raise ReaderGone from None
        except OSError as exc:
            raise OutputError(f"cannot write the output: {exc.strerror or exc}") from None
        except UnicodeEncodeError as exc:
            raise OutputError(f"cannot write the output: its encoding ({exc.encoding}) cannot hold "
                              f"{exc.object[exc.start:exc.end]!r}; set PYTHONIOENCODING=utf-8") from None


stdout = Guarded(lambda: sys.stdout)  # whichever stream is standard output at the moment


class Diagnostics:
    """Standard error as ``main`` installs it: messages go where they can. Where they cannot
    (``2>&-``, a full disk, a reader gone) they are dropped, so that neither the command's work
    nor its exit code depends on them: a sample written to --out stays a success."""

    def __init__(self, stream):
        self.stream = stream

    def write(self, text: str) -> int:
        self._try(lambda: self.stream.write(text))
        return len(text)

    def flush(self) -> None:
        self._try(lambda: self.stream.flush())

    def isatty(self) -> bool:
        return self.stream is not None and self.stream.isatty()

    def __getattr__(self, name):  # encoding, errors, fileno, ...: the stream's own (none when closed)
        if self.stream is None:
            raise AttributeError(name)
        return getattr(self.stream, name)

    def _try(self, op) -> None:
        if self.stream is None:
            return
        try:
            op()
        except (OSError, ValueError):  # full, gone, or closed meanwhile: nowhere to say it
            pass


def write(text: str) -> None:
    """Write ``text`` to standard output at once (streamed samples, JSON)."""
    stdout.write(text)
    stdout.flush()


def quiet_stdout() -> None:
    """Point stdout at /dev/null, so that Python's own flush at exit does not fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError, OutputError):
        pass  # stdout is closed, or not a real file (a test runner): nothing would be flushed at exit
