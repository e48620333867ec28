"""The SeqgenError family.

Library code raises these with a message that tells the user what to do; only the command line
(``cli/common.py``) prints them (one line on stderr) and turns them into an exit code, and only the
studio's server turns them into an answer to the page.
"""


class SeqgenError(Exception):
    """Base class: a runtime failure the user can fix. Exit code 1."""

    exit_code = 1


class UsageError(SeqgenError):
    """A bad option value or argument combination. Exit code 2."""

    exit_code = 2


class CorpusError(SeqgenError):
    """A text or ABC source that cannot be read or is unusable for training."""


class CheckpointError(SeqgenError):
    """A checkpoint that is missing, corrupt, unsafe or not a seqgen checkpoint."""


class MusicError(SeqgenError):
    """ABC parsing, validation or export failed."""


class Terminated(BaseException):
    """SIGTERM, raised where the command is, as Ctrl-C raises KeyboardInterrupt: the files being
    written are cleaned up or kept as their writers decide (never a temporary file left behind),
    and the command ends in one line, exit 143. A BaseException, so that no ``except Exception``
    takes it for a failure. Here, beside the errors, so that the command line's start-up
    (``seqgen.__main__``) can raise it before the command line itself has loaded."""


class Cancelled(SeqgenError):
    """Work stopped before it finished because nobody waits for it any more: its client went
    away, or the server is stopping."""


class SeqgenWarning(UserWarning):
    """Something went wrong that seqgen worked around (a fallback, a cache it could not use).

    The CLI prints each as one line on stderr; from Python they are ordinary warnings.
    """


def does_not_apply(names: list[str], why: str) -> UsageError:
    """The usage error for options (or request fields) the user gave that cannot apply: ``names``
    as the user wrote them, ``why`` from "to ..." or "with ..." on."""
    return UsageError(f"{', '.join(names)} {'does' if len(names) == 1 else 'do'} not apply {why}")


def first_line(exc: BaseException, limit: int = 160) -> str:
    """The first line of an exception's message, cut to ``limit`` characters, to quote in one of ours
    (a KeyError's quotes removed; the exception's type where it has no message)."""
    lines = str(exc).strip().strip("'\"").splitlines()
    return lines[0][:limit] if lines else type(exc).__name__


def warn(message: str) -> None:
    """Say what failed and what was done instead, through Python's warnings."""
    import warnings

    warnings.warn(message, SeqgenWarning, stacklevel=2)
