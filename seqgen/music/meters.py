"""Meters and unit note lengths that a tune can have, decided from the text alone, before
music21 sees it.

music21's work on a tune grows about quadratically with the length of its bar (a 4-bar tune in
``M:99/1`` takes a second to read, in ``M:999/1`` thirteen, in ``M:9999/1`` many minutes), and it
reads ``-3/4`` as 3/4 without a word. A unit note length (``L:``) costs the same way. So both are
checked here first, by their numbers, and one no tune needs is refused (an option) or its tune
passed over (a corpus, an export) in bounded time.
"""

from __future__ import annotations

import re

# The longest bar in music21's bundled collections is 4/1 (16 quarter notes, in the Essen songs);
# twice that leaves room for any real tune and keeps music21's parse of a tune under a second.
MAX_BAR_QUARTERS = 32
# ABC's note values: a whole note down to a 64th. A smaller one makes music21 cut each note
# into many bars, which costs as much as a huge bar.
NOTE_VALUES = (1, 2, 4, 8, 16, 32, 64)
_FRACTION = re.compile(r"(-?)\s*\(?\s*(-?[\d+\s]*\d)\s*\)?\s*/\s*(-?\d+)")
_MAX_DIGITS = 6  # a count of beats or a note value longer than this is refused without arithmetic
_METER_FIELD = re.compile(r"(?m)^M:(.*)$|\[M:([^\]\n]*)\]")
_UNIT_FIELD = re.compile(r"(?m)^L:(.*)$|\[L:([^\]\n]*)\]")
_UNIT = re.compile(r"\s*(\d{1,6})\s*/\s*(\d{1,6})\s*(?:%.*)?")


def meter_problem(value: str) -> str | None:
    """Why the meter ``value`` (an ``M:`` field's value) cannot be a tune's meter, or None.

    Only the fractions in it are judged (``6/8``, ``(2+3)/8``); anything else (``C``, ``C|``,
    ``none``) is left to music21, whose work on it is bounded.
    """
    for sign, beats, unit in _FRACTION.findall(value):
        if sign or "-" in beats or unit.startswith("-"):
            return f"{value.strip()} is a negative meter"
        digits = beats.replace("+", "").replace(" ", "")  # music21 reads 2+3/8 as 23/8: its cost
        if len(digits) > _MAX_DIGITS or len(unit) > _MAX_DIGITS:
            return f"{value.strip()} is not a meter a tune can have"
        count, note = int(digits), int(unit)
        if count == 0 or note == 0:
            return f"{value.strip()} is a meter with no length"
        if note not in NOTE_VALUES:
            return f"{value.strip()}: the note value of a meter is one of {', '.join(map(str, NOTE_VALUES))}"
        if count * 4 / note > MAX_BAR_QUARTERS:
            return (f"a bar of {value.strip()} lasts {count * 4 / note:g} quarter notes; "
                    f"a tune's bar lasts at most {MAX_BAR_QUARTERS}")
    return _as_music21_reads(value)


def _as_music21_reads(value: str) -> str | None:
    """Why the meter music21 makes of ``value`` cannot be a tune's, or None. music21 takes every
    digit on each side of a lone "/" for one number, so a garbled field (``M:x1.b-N6..k*b/4``,
    sampled from a model early in training) would ask it for a bar of billions of beats."""
    left, slash, right = value.partition("/")
    if not slash or "/" in right:
        return None  # no fraction (C, C|, none), or several, which music21 refuses by itself
    beats, unit = re.sub(r"\D", "", left), re.sub(r"\D", "", right)
    if not beats or not unit:
        return None  # music21 refuses it by itself
    if len(beats) > _MAX_DIGITS or len(unit) > _MAX_DIGITS or int(beats) * 4 / max(int(unit), 1) > MAX_BAR_QUARTERS:
        return f"M:{value.strip():.40} is not a meter a tune can have"
    return None


def unit_problem(value: str) -> str | None:
    """Why ``value`` (an ``L:`` field's value) cannot be a tune's unit note length, or None.

    A unit is ``1/N``, a note value from a whole note down to a 64th (abc2abc, too, wants 1/N
    with N a power of two). music21 reads anything else by a guess (``L:|``), into nothing
    (``L:1/65536``), or for minutes (``L:64/1``).
    """
    found = _UNIT.fullmatch(value)
    if not found:
        return f"L:{value.strip()} is not a note length (1/8, 1/16, ...)"
    if int(found.group(1)) != 1 or int(found.group(2)) not in NOTE_VALUES:
        return f"L:{value.strip()}: the unit note length is one of 1/1, 1/2, 1/4, ... 1/64"
    return None


def first_field_problem(fields: re.Pattern, tune: str, judge) -> str | None:
    """``judge``'s verdict on the first value of ``fields`` (a pattern of a field line and its
    inline form, one group each) in ``tune`` that it finds a problem with, or None."""
    for line, inline in fields.findall(tune):
        problem = judge(line or inline)
        if problem:
            return problem
    return None


def tune_meter_problem(tune: str) -> str | None:
    """Why one of the meters of ABC ``tune`` (``M:`` lines and inline ``[M:...]``) cannot be a
    tune's meter, or one of its unit note lengths (``L:``) a unit, or None."""
    return first_field_problem(_METER_FIELD, tune, meter_problem) or first_field_problem(_UNIT_FIELD, tune, unit_problem)
