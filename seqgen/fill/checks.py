"""Whether a drawn fill can stand in its gap: a word is a word, a line has text, and a bar lasts
what the meter in force says, as the tune's bar check counts it, without changing the key."""

from __future__ import annotations

import re

_INLINE_FIELD = re.compile(r"\[[A-Za-z]:")
_NOTE = re.compile(r'[A-Ga-gzx]')
_QUOTED = re.compile(r'"[^"]*"|![^!]*!')


def fill_problem(unit: str, prefix: str, fill: str) -> str | None:
    """Why ``fill`` cannot stand in a gap of ``unit`` after ``prefix``; None when it can."""
    if not fill.strip():
        return "empty"
    if unit == "word":
        return "not one word" if any(c.isspace() for c in fill) else None
    if unit == "line":
        return "more than a line" if "\n" in fill else None
    return bar_problem(prefix, fill)


def bar_problem(prefix: str, fill: str) -> str | None:
    """Why ``fill`` is not a whole bar after ``prefix`` (a tune's text up to the bar line before
    the gap): it changes a field (a key, a meter), has no note or rest, cannot be read, or does not
    add up to the meter's bar. None when it is right."""
    from ..music.bars import NotReadable, written_bars

    if _INLINE_FIELD.search(fill) or "\n" in fill:
        return "changes a field (a key, a meter or a length) inside the bar"
    if not _NOTE.search(_QUOTED.sub("", fill)):
        return "has no note or rest"
    try:
        bars = written_bars(prefix + fill + "|")
    except (NotReadable, ValueError) as exc:
        return f"cannot be read ({exc})"
    if not bars:
        return "cannot be read as a bar"
    bar = bars[-1]
    if bar.meter is not None and bar.length != bar.meter.full:
        return f"lasts {bar.meter.speak(bar.length)}, not {bar.meter.text}"
    return None
