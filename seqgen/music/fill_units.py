"""Where a tune may be cut to train filling in the middle (``data/arrange.py``): the tunes of a
stream of training ids, and the bar lines of a tune's body, so that a middle can be whole bars.

Bar lines are found in the text as written, not by music21 (thousands of tunes are cut at every
run's start, in a second): ``|``, ``||``, ``|]``, ``[|``, ``|:``, ``:|``, ``::``, with an
ending's number after them (``:|2``), outside chord names and annotations, decorations, inline
fields and header lines. A middle runs from just after one to just before a later one.
"""

from __future__ import annotations

import re

import numpy as np

from ..data.vocab import EOS_ID

_BAR_LINE = re.compile(r"::|[:\[]*\|[|\]:]*(?:\[?\d+)?")
# Text in which a "|" is no bar line: chord names and annotations, decorations, inline fields.
_NOT_MUSIC = re.compile(r'"[^"\n]*"|![^!\n]*!|\+[^+\s]*\+|\[[A-Za-z]:[^\]\n]*\]')
_FIELD_LINE = re.compile(r"^[A-Za-z+]:.*$", re.M)


def tune_starts(ids: np.ndarray, vocab) -> np.ndarray | None:
    """(D + 1,) where each tune of the training ``ids`` starts (after each <eos>), and their end;
    None at word level, where <eos> ends a line, not a tune."""
    if vocab.level != "char":
        return None
    ends = np.flatnonzero(np.asarray(ids) == EOS_ID) + 1
    starts = np.concatenate([[0], ends])
    return starts if starts[-1] == len(ids) else np.append(starts, len(ids))


def bar_line_spans(ids: np.ndarray, vocab) -> np.ndarray | None:
    """(K, 2) the start and end, in ``ids``, of each bar line of the tune's body (after its K:
    line); None at word level, where a bar line is no token of its own."""
    if vocab.level != "char":
        return None
    text = _NOT_MUSIC.sub(lambda m: "\0" * len(m.group()), _aligned_text(ids, vocab))
    body = _body_start(text)
    text = _FIELD_LINE.sub(lambda m: "\0" * len(m.group()), text[body:])
    spans = [(body + m.start(), body + m.end()) for m in _BAR_LINE.finditer(text)]
    return np.array(spans, dtype=np.int64).reshape(-1, 2)


def _aligned_text(ids: np.ndarray, vocab) -> str:
    """The text of character ids, one character per id (a special token is a NUL), so that
    positions in it are positions in ``ids``."""
    table = np.array([ord(t) if len(t) == 1 else 0 for t in vocab.tokens], dtype=np.uint32)
    return table[np.asarray(ids, dtype=np.int64)].tobytes().decode("utf-32-le", errors="replace")


def _body_start(text: str) -> int:
    """Where the body begins: after the header's K: line (the whole text when it has none)."""
    key = re.search(r"^K:.*$", text, re.M)
    return key.end() if key else 0
