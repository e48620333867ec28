"""The corpus formats seqgen reads, by name, and the one that reads a given list of sources.

This registry sits above the data layer and above ``music``: the data layer reads and encodes
with whichever format it is handed, and music brings its ABC format from above, so that no
module of the data layer knows of tunes.

Adding a format is a class with the members of ``corpus.CorpusFormat`` and one line,
``register_format(MyFormat())``. Formats are asked in order, the most specific first; plain
text, which reads anything, comes last.
"""

from __future__ import annotations

from collections.abc import Callable

from .data.corpus import Corpus, CorpusFormat
from .errors import UsageError
from .music.abc_format import AbcFormat
from .data.text_format import TextFormat
from .data.tokens import TokenizedCorpus, tokenize_with
from .data.vocab import Vocab

_FORMATS: dict[str, CorpusFormat] = {}


def register_format(fmt: CorpusFormat, first: bool = True) -> CorpusFormat:
    """Make ``fmt`` known under ``fmt.name``; asked before the others unless ``first`` is False."""
    global _FORMATS
    others = {k: v for k, v in _FORMATS.items() if k != fmt.name}
    _FORMATS = {fmt.name: fmt, **others} if first else {**others, fmt.name: fmt}
    return fmt


register_format(TextFormat())
register_format(AbcFormat())


def get_format(name: str) -> CorpusFormat:
    """The format a checkpoint's data was read with."""
    try:
        return _FORMATS[name]
    except KeyError:
        raise UsageError(f"unknown corpus format {name!r}; known: {', '.join(_FORMATS)}") from None


def format_for(specs: list[str]) -> CorpusFormat:
    """The format that reads every one of ``specs``; UsageError for a mix of formats."""
    if not specs:
        raise UsageError("give at least one text file, folder or builtin:NAME to train on")
    claimed = [next(f for f in _FORMATS.values() if f.claims(s)) for s in specs]
    if len({f.name for f in claimed}) > 1:
        kinds = " and ".join(sorted({f.name for f in claimed}))
        raise UsageError(f"a mix of {kinds} sources: train on one kind at a time")
    return claimed[0]


def read_corpus(specs: list[str], encoding: str = "utf-8",
                on_progress: Callable[[int, int], None] | None = None) -> Corpus:
    """Read every file, folder or ``builtin:NAME`` of ``specs`` with the format that claims them.

    ``on_progress(done, total)`` reports slow preparation (music21 checking tunes).
    """
    return format_for(specs).read(specs, encoding, on_progress)


def tokenize_corpus(specs: list[str], level: str, max_vocab: int = 0, min_count: int = 1,
                    encoding: str = "utf-8", vocab: Vocab | None = None,
                    on_progress: Callable[[int, int], None] | None = None) -> TokenizedCorpus:
    """Read and encode ``specs`` (with ``vocab``, or one built from them) with the format that
    claims them, chosen once here; through the token cache (``tokens.tokenize_with``)."""
    return tokenize_with(format_for(specs), specs, level, max_vocab, min_count, encoding, vocab, on_progress)
