"""Where the gaps of a text are, and what each stands for.

In text a gap is ``[...]``: a whole line when it stands alone on its line, else a word. In a tune
a gap is a bar written as ``...`` between bar lines (``|d2B AFD| ... |GFE D3|``); the dots and
the spaces around them are what the fill replaces, so everything else stays byte for byte.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import UsageError

TEXT_GAP = "[...]"
BAR_GAP = "..."
# A bar of dots: after a bar line (or an ending's number, or the start of a line) and before a bar
# line (or the end of the line), with the spaces around it.
_BAR = re.compile(r"(?:(?<=[|:\]])|(?<=\[\d)|(?<=[|:]\d)|^)[ \t]*\.\.\.[ \t]*(?=[|:]|$)", re.MULTILINE)
_K_FIELD = re.compile(r"^K:.*$", re.MULTILINE)


@dataclass(frozen=True)
class Gapped:
    """A text cut at its gaps: ``pieces[0]``, gap 0, ``pieces[1]``, gap 1, ..., ``pieces[-1]``."""

    pieces: tuple[str, ...]
    units: tuple[str, ...]  # what each gap holds: "bar", "word" or "line"

    def joined(self, fills) -> str:
        """The text with ``fills`` in its gaps, in order."""
        return self.before(len(self.units), fills)

    def before(self, gap: int, fills) -> str:
        """The text before gap number ``gap``, with ``fills`` in the gaps before it."""
        out = [self.pieces[0]]
        for fill, piece in zip(fills[:gap], self.pieces[1:gap + 1]):
            out += [fill, piece]
        return "".join(out)


def split_gaps(text: str, music: bool) -> Gapped:
    """``text`` cut at its gaps (bars of ``...`` for a music model, ``[...]`` for text);
    UsageError when it has none."""
    spans = _bar_gaps(text) if music else _text_gaps(text)
    if not spans:
        shown = f"a bar written as {BAR_GAP} between bar lines (| {BAR_GAP} |)" if music else f"{TEXT_GAP} where text is missing"
        raise UsageError(f"no gap to fill: mark it with {shown}")
    pieces, units, at = [], [], 0
    for start, end, unit in spans:
        pieces.append(text[at:start])
        units.append(unit)
        at = end
    pieces.append(text[at:])
    return Gapped(tuple(pieces), tuple(units))


def _bar_gaps(text: str) -> list[tuple[int, int, str]]:
    body = _K_FIELD.search(text)
    if body is None:
        if BAR_GAP in text:
            raise UsageError("the tune has no K: field: a bar to fill is in the tune's body, which starts after K:")
        return []
    return [(m.start(), m.end(), "bar") for m in _BAR.finditer(text, body.end())]


def _text_gaps(text: str) -> list[tuple[int, int, str]]:
    spans = []
    for m in re.finditer(re.escape(TEXT_GAP), text):
        line_start = text.rfind("\n", 0, m.start()) + 1
        line_end = text.find("\n", m.end())
        line = text[line_start: len(text) if line_end < 0 else line_end]
        if line.strip() == TEXT_GAP:  # the whole line, its own spaces kept
            spans.append((m.start(), m.end(), "line"))
        else:
            spans.append((m.start(), m.end(), "word"))
    return spans
