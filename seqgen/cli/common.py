"""What every command shares: the Typer app, and the one place where errors become one line on
stderr and an exit code (2 for usage errors, 1 for runtime failures, 130/143 when interrupted).
"""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import sys
import threading
import warnings
from pathlib import Path

import typer

from ..training.process_env import LAUNCHED, PeerLost, rank_from_env
from ..errors import SeqgenError, SeqgenWarning, Terminated, does_not_apply
from ..signals import EXCEPTIONS, command_runs, excuse_what_it_cut_short, raise_signal
from .streams import OutputError, ReaderGone, quiet_stdout, stdout

app = typer.Typer(help="Train recurrent language models on text and folk tunes, and generate from them.",
                  add_completion=False, pretty_exceptions_enable=False, no_args_is_help=True,
                  context_settings={"max_content_width": 100})


def fail(message: str, code: int) -> None:
    """One line on stderr and exit ``code``; in a run of several processes only rank 0 speaks."""
    say_error(message)
    raise typer.Exit(code)


def say_error(message: str) -> None:
    """The one line of an error on stderr (rank 0's alone)."""
    if rank_from_env() == 0:
        sys.stderr.write(f"error: {message}\n")


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    if issubclass(category, SeqgenWarning):
        if rank_from_env() == 0:
            sys.stderr.write(f"warning: {message}\n")
    else:
        _python_show_warning(message, category, filename, lineno, file, line)


_python_show_warning = warnings.showwarning


def friendly(fn):
    """Turn library errors into one line on stderr and an exit code; never a traceback.

    Also: seqgen's warnings (fallbacks) are one line each; output that cannot be written (a
    full disk, a closed stdout) is said in one line too; a reader gone (``| head``) stops it quietly.
    """
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        warnings.showwarning = _show_warning
        previous = _on_signals(dict.fromkeys(EXCEPTIONS, raise_signal))  # SIGINT, SIGTERM
        command_runs()
        try:
            result = fn(*args, **kwargs)
            stdout.flush()
            return result
        except OutputError as exc:
            quiet_stdout()
            fail(str(exc), exc.exit_code)
        except Terminated as exc:
            excuse_what_it_cut_short(exc)
            quiet_stdout()
            fail("terminated", 143)
        except PeerLost as exc:
            if os.environ.get(LAUNCHED):  # the launcher names the process that died, in one line
                raise typer.Exit(exc.exit_code) from None
            fail(str(exc), exc.exit_code)
        except SeqgenError as exc:
            fail(str(exc), exc.exit_code)
        except KeyboardInterrupt as exc:
            excuse_what_it_cut_short(exc)
            quiet_stdout()
            fail("interrupted", 130)
        except ReaderGone:
            quiet_stdout()  # output piped into `head`: stop quietly
            raise typer.Exit(0)
        finally:
            warnings.showwarning = _python_show_warning
            _on_signals(previous)
    return wrapper



def _on_signals(handlers: dict | None) -> dict | None:
    """Install ``handlers`` (signal: handler; None: leave them) and return the ones before; only
    the main thread may (a test runner may call a command from another)."""
    if handlers is None or threading.current_thread() is not threading.main_thread():
        return None
    return {s: signal.signal(s, handler) for s, handler in handlers.items()}


def given(ctx: typer.Context, *names: str) -> list[str]:
    """Which of the options ``names`` the user gave on the command line (or in the environment)."""
    out = []
    for name in names:
        source = ctx.get_parameter_source(name)
        if source is not None and source.name in ("COMMANDLINE", "ENVIRONMENT"):
            out.append(name)
    return out


def refuse_options(ctx: typer.Context, names: tuple[str, ...], why: str) -> None:
    """A usage error naming each of ``names`` the user gave: they cannot apply (``why``)."""
    wrong = given(ctx, *names)
    if wrong:
        raise does_not_apply(["--" + n.replace("_", "-") for n in wrong], why)


def announce(path: Path) -> None:
    """Say which checkpoint a command uses when the user did not name one (``Model.load``'s
    ``on_found``)."""
    sys.stderr.write(f"using {path}\n")


class SignalFlag:
    """Which stopping signal came (``signum``; None while none has)."""

    reasons = {signal.SIGINT: "interrupted", signal.SIGTERM: "terminated"}
    exit_codes = {signal.SIGINT: 130, signal.SIGTERM: 143}

    def __init__(self):
        self.signum = None

    def note(self, signum, frame=None) -> None:
        """A signal handler: the first stopping signal is the one that counts."""
        self.signum = self.signum or signum

    def is_set(self) -> bool:
        """Whether a signal came (as ``threading.Event.is_set``: the library's stop flags)."""
        return self.signum is not None

    @property
    def reason(self) -> str:
        return self.reasons[self.signum]

    @property
    def exit_code(self) -> int:
        return self.exit_codes[self.signum]


@contextlib.contextmanager
def signals_as_flag():
    """While the block runs, Ctrl-C and SIGTERM only set the flag it yields: a loop that writes a
    file checks it between steps and stops with what it wrote kept and complete, where an
    exception would land anywhere, mid-write included."""
    flag = SignalFlag()
    previous = {s: signal.signal(s, flag.note) for s in SignalFlag.reasons}
    try:
        yield flag
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


class Interrupts:
    """Ctrl-C / SIGTERM ask training to stop at the next step and save; repeats are ignored.

    Before the loop runs (reading and checking the data), there is nothing to save: the signal
    stops the command at once, as Ctrl-C does anywhere else.
    """

    reasons = SignalFlag.reasons
    exit_codes = {"interrupted": 130, "terminated": 143}

    def __init__(self):
        self.stop = threading.Event()
        self.stop.reason = "interrupted"  # what the training loop reports, the same on every rank
        self.signum = None
        self.training = False  # set when the loop has started and can save

    def __enter__(self) -> "Interrupts":
        self.previous = {s: signal.signal(s, self._handle) for s in self.reasons}
        return self

    def _handle(self, signum, frame):
        if not self.training:
            raise_signal(signum, frame)
            return  # held back until the import under way has ended
        if self.signum is None:
            self.signum = signum
            self.stop.reason = self.reasons[signum]
            if rank_from_env() == 0:
                sys.stderr.write("\nstopping: saving the last checkpoint (this can take a moment)...\n")
        self.stop.set()

    def hold(self) -> None:
        """The run has stopped for a signal: further signals (a second Ctrl-C, a launcher's
        SIGTERM to the processes left) must not break its exit."""
        self.signum = self.signum or signal.SIGINT

    def __exit__(self, *exc):
        for s, handler in self.previous.items():
            # After a stop was asked for, a repeated Ctrl-C must not break the exit either.
            signal.signal(s, signal.SIG_IGN if self.signum is not None else handler)
