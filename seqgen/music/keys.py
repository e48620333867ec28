"""Keys that a tune can have, decided from the text alone.

music21 reads any ``K:`` field it cannot make sense of (``K:|``, ``K:T:G``, ``K:xyz``) as C
major without a word, and abc2abc skips or refuses the same field, so the two start the tune's
body at different lines and read its bars differently. A tune whose key field names no key is
a garbled tune, so the check says so instead of reading its bars by a guess.

The grammar is the ABC standard's (2.1, section 3.1.14): a tonic with its accidental and mode
(only a mode's first three letters count, any case), or ``none``/``HP``/``Hp``, then clef and
other modifiers and explicit accidentals, and a comment.
"""

from __future__ import annotations

import re

from .meters import first_field_problem

_MODES = "maj|min|ion|dor|phr|lyd|mix|aeo|loc"
_TONIC = rf"(?-i:[A-G])[#b]?(?:\s*(?:m(?![a-z])|(?:{_MODES})[a-z]*))?"
_SPECIAL = r"none|HP|Hp"
_CLEFS = r"(?:treble|bass|alto|tenor|perc|none|[CFG][1-5]?)(?:[+-]?8)?|[+-]?8(?:va|vb)?"  # "-8va": an octave down
_MODIFIER = (r"(?:clef|middle|transpose|octave|stafflines|staffscale|cue|t|m)\s*=\s*\S+"
             rf"|exp|(?:{_CLEFS})(?![\w=])|[_^=]{{1,2}}[A-Ga-g]")
_KEY = re.compile(rf"\s*(?:(?:{_TONIC}|{_SPECIAL})(?![\w#]))?(?:\s*(?:{_MODIFIER}))*\s*(?:%.*)?",
                  re.IGNORECASE)
_KEY_FIELD = re.compile(r"(?m)^K:(.*)$|\[K:([^\]\n]*)\]")


def key_problem(value: str) -> str | None:
    """Why the value of a ``K:`` field names no key, or None (an empty value is left to the
    check's "no key")."""
    if not value.strip() or _KEY.fullmatch(value):
        return None
    return f"K:{value.strip()} names no key"


def tune_key_problem(tune: str) -> str | None:
    """Why one of the key fields of ABC ``tune`` (``K:`` lines and inline ``[K:...]``) names no
    key, or None."""
    return first_field_problem(_KEY_FIELD, tune, key_problem)
