"""``python -m seqgen`` and the ``seqgen`` command.

The command line takes a second or more to load (typer, rich, every command's module), longer on
a busy machine: a Ctrl-C or SIGTERM in that time ends it as it ends any command, in one line and
130 or 143, not in a stack trace from inside an import (or, for SIGTERM, with no word at all).
"""

import signal
import sys

from .errors import Terminated, raise_terminated


def run() -> None:
    previous = signal.signal(signal.SIGTERM, raise_terminated)
    try:
        from .cli import main
    except KeyboardInterrupt:
        _stop("interrupted", 130)
    except Terminated:
        _stop("terminated", 143)
    finally:
        signal.signal(signal.SIGTERM, previous)
    main()


def _stop(reason: str, code: int) -> None:
    try:
        sys.stderr.write(f"error: {reason}\n")
    except OSError:
        pass  # stderr closed or full: the exit code still says it
    raise SystemExit(code)


if __name__ == "__main__":
    run()
