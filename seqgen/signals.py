"""Ctrl-C and SIGTERM as exceptions (``KeyboardInterrupt``, ``Terminated``) where the program is,
except inside an import or before the command runs.

An exception raised while a module loads can be lost or changed on its way out: a class body
turns one raised in ``__set_name__`` into a RuntimeError (a traceback instead of "interrupted"),
a module that tries an optional import catches all, a finaliser swallows it. torch, numpy and
music21 load inside commands, for a second or more, so a signal often comes then. There it is
held back and sent again as soon as the import has ended (a timer looks every few
milliseconds). Free of torch and of the command line, so that start-up can use it.
"""

from __future__ import annotations

import signal
import sys

from .errors import Terminated

EXCEPTIONS = {signal.SIGINT: KeyboardInterrupt, signal.SIGTERM: Terminated}
_LOOK_AGAIN = 0.005  # seconds between looks while an import goes on
_held: int | None = None  # the signal waiting for an import (or start-up) to end
_starting = False  # the command line has started and no command runs yet


def raise_signal(signum: int, frame) -> None:
    """The handler for SIGINT and SIGTERM: the signal's exception here, or once the import under
    way (or the start-up) has ended."""
    global _held
    if not _held_back(frame):
        raise EXCEPTIONS[signum]
    if _held is None:
        _held = signum
        signal.signal(signal.SIGALRM, _raise_held)
        signal.setitimer(signal.ITIMER_REAL, _LOOK_AGAIN)


def _raise_held(_signum: int, frame) -> None:
    """The import (or start-up) has ended: the held signal again, to whatever handles it now (this
    handler, or one a command has put in its place since: a flag that stops a loop, training's
    save)."""
    global _held
    if _held_back(frame):
        signal.setitimer(signal.ITIMER_REAL, _LOOK_AGAIN)
        return
    signal.signal(signal.SIGALRM, signal.SIG_DFL)
    signum, _held = _held, None
    signal.raise_signal(signum)


def _held_back(frame) -> bool:
    return _starting or _importing(frame)


def _importing(frame) -> bool:
    """Whether ``frame`` runs inside an import: Python's import machinery is among its callers."""
    while frame is not None:
        if frame.f_code.co_filename.startswith("<frozen importlib._bootstrap"):
            return True
        frame = frame.f_back
    return False


def install() -> None:
    """At the command line's start: ``raise_signal`` handles SIGINT and SIGTERM, and holds them
    back until a command runs (``command_runs``). Typer, reading the options, would end a Ctrl-C
    in silence (exit 130, no word) and leave a SIGTERM to kill the process with no word at all."""
    global _starting
    _starting = True
    for signum in EXCEPTIONS:
        signal.signal(signum, raise_signal)


def command_runs() -> None:
    """A command has started: a signal held since start-up reaches it (within milliseconds)."""
    global _starting
    _starting = False


def excuse_what_it_cut_short(exc: BaseException) -> None:
    """The signal's exception ``exc`` ends the command, and may have landed inside a constructor
    (a ``zipfile.ZipFile`` checking a checkpoint, between two of its attributes): the half-built
    object's finaliser then fails once the exception is freed, after the command's one line
    ("Exception ignored in: <function ZipFile.__del__ ...>" and a traceback). The finalisers of
    the classes whose ``__init__`` the exception cut short are not reported; any other failure of
    a finaliser still is."""
    excused = set()
    seen = set()
    while exc is not None and id(exc) not in seen:  # the exception, and those it interrupted
        seen.add(id(exc))
        tb = exc.__traceback__
        while tb is not None:
            frame = tb.tb_frame
            if frame.f_code.co_name == "__init__" and "self" in frame.f_locals:
                finaliser = getattr(type(frame.f_locals["self"]), "__del__", None)
                if finaliser is not None:
                    excused.add(finaliser)
            tb = tb.tb_next
        exc = exc.__context__
    if excused:
        report = sys.unraisablehook

        def hook(unraisable) -> None:
            if unraisable.object not in excused:
                report(unraisable)

        sys.unraisablehook = hook
