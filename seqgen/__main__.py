"""``python -m seqgen`` and the ``seqgen`` command.

The command line loads in a fraction of a second (typer, rich, every command's options); a
command then loads what it needs (torch, music21), for a second or more, longer on a busy
machine. A Ctrl-C or SIGTERM at any moment of that ends it as it ends any command, in one line and
130 or 143, never in a stack trace from inside an import or in silence (``signals.py``).
"""

from . import signals


def run() -> None:
    # From here on a signal is held back until a command runs, and there ends it in one line.
    signals.install()
    from .cli import main

    main()


if __name__ == "__main__":
    run()
