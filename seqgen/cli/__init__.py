"""The seqgen command line: each command builds its settings and calls one library function.

Library errors (SeqgenError) become one line on stderr and an exit code in ``common.friendly``,
and only there: 2 for usage errors, 1 for runtime failures, 130/143 when interrupted.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from .. import __version__
from ..errors import Terminated
from ..signals import excuse_what_it_cut_short
from . import train, sample, music, studio, bench  # noqa: F401, I001  (each registers its commands, in this order)
from .common import app, say_error
from .streams import Diagnostics, Guarded, OutputError, ReaderGone, quiet_stdout, write


def _version(value: bool) -> None:
    if value:
        write(f"seqgen {__version__}\n")
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """Train recurrent language models on text and folk tunes, and generate from them."""


def main() -> None:
    """The ``seqgen`` command. Standard output is guarded from the start, so that output that
    cannot be written ends in one line outside a command too: help (written by click and rich) and
    --version; a reader gone (``| head``) ends it quietly, as it ends a command. Standard error
    carries only messages: where they cannot be written, they are lost, and the command goes on."""
    stream = sys.stdout
    sys.stdout = Guarded(lambda: stream)
    sys.stderr = Diagnostics(sys.stderr)
    try:
        app()
    except OutputError as exc:  # inside a command, ``friendly`` has said it already
        quiet_stdout()
        say_error(str(exc))
        sys.exit(exc.exit_code)
    except KeyboardInterrupt as exc:  # before a command started (inside one, ``friendly`` has said it)
        excuse_what_it_cut_short(exc)
        quiet_stdout()
        say_error("interrupted")
        sys.exit(130)
    except Terminated as exc:  # likewise
        excuse_what_it_cut_short(exc)
        quiet_stdout()
        say_error("terminated")
        sys.exit(143)
    except ReaderGone:  # help or --version; inside a command, ``friendly`` has stopped already
        quiet_stdout()
        # The pipe cuts the output, not the verdict: no command at all is still a usage error.
        sys.exit(2 if len(sys.argv) <= 1 else 0)


__all__ = ["app", "main"]
