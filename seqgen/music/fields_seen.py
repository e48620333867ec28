"""The meters and keys a music model has seen: counted in its training tunes when it is trained
(the checkpoint keeps them), so that an interface can offer them, most common first.

A checkpoint of a seqgen before this records none; it gets common values instead, those its
vocabulary can write, said as such (``source``: "common").
"""

from __future__ import annotations

import re
from collections import Counter

FIELDS = {"meter": "M", "key": "K"}
# The meters and keys most folk tunes have (O'Neill's, the Session): for a checkpoint that did not
# count its own. Most common first.
COMMON = {"meter": ["4/4", "6/8", "3/4", "2/4", "9/8", "C|", "C", "12/8", "3/2", "2/2"],
          "key": ["D", "G", "A", "Ador", "Edor", "Dmix", "Em", "Bm", "Amix", "C", "F", "Gmix", "Dm", "Am"]}
_TUNE_START = re.compile(r"(?m)^X:")


def count_fields(text: str) -> dict:
    """How many tunes of ``text`` (tunes back to back, each from its X: line) have each meter and
    key in their header: ``{"meter": [["6/8", 120], ...], "key": [...]}``, most common first."""
    counts = {name: Counter() for name in FIELDS}
    for tune in _TUNE_START.split(text)[1:]:
        for name, letter in FIELDS.items():
            found = re.search(rf"(?m)^{letter}:[ \t]*(\S[^\n%]*?)[ \t]*(?:%.*)?$", tune)
            if found:
                counts[name][found[1]] += 1
    return {name: [[value, n] for value, n in sorted(c.items(), key=lambda item: (-item[1], item[0]))]
            for name, c in counts.items()}


def field_choices(recorded, can_write) -> dict:
    """The meters and keys to offer for a model, those ``can_write(name, value)`` allows: from
    ``recorded`` (a checkpoint's ``count_fields``), or when it has none, the common ones, without
    counts. ``{"meter": [[value, count or None], ...], "key": [...], "source": "training tunes" |
    "common"}``."""
    if _well_formed(recorded):
        offered, source = {name: [tuple(pair) for pair in recorded[name]] for name in FIELDS}, "training tunes"
    else:
        offered, source = {name: [(value, None) for value in values] for name, values in COMMON.items()}, "common"
    return {**{name: [[value, n] for value, n in pairs if can_write(name, value)] for name, pairs in offered.items()},
            "source": source}


def _well_formed(recorded) -> bool:
    """Whether ``recorded`` is what ``count_fields`` makes: an older or damaged record is not used."""
    return isinstance(recorded, dict) and all(
        isinstance(recorded.get(name), list) and recorded[name] and all(
            isinstance(pair, (list, tuple)) and len(pair) == 2 and isinstance(pair[0], str) and type(pair[1]) is int
            for pair in recorded[name]) for name in FIELDS)
