"""Tunes to order: a fixed meter, a fixed key, and first bars the body starts with.

``TuneConditions`` holds what was asked for, checked before anything is sampled (music21 must read
the meter and the key; the first bars must parse and fit the meter; the model must know every
symbol). ``ForcedHeader`` then holds each sampled row to it, through the sampler's ``Constraint``
mechanism, as ``HeaderOrder`` does:

    X:1                      (the prime every tune starts from)
    T:<drawn>
    M + forced ":6/8\\n"      when the row writes M at the start of a header line
    L + forced ":1/8\\n"      only with first bars, which are read in eighth notes
    K + forced ":Dmix\\n" + first bars
    <drawn body>             M and K lines are not drawn here: the tune keeps its meter and key

Until the key line, each header line starts with a field letter and a colon, and the key line
waits until the forced fields before it are written, so that none can be skipped.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass

import torch

from ..config import TuneOptions
from ..options import check_types
from ..errors import UsageError

UNIT = "1/8"  # first bars are read in eighth notes, the unit of nearly every folk tune
# First bars leave at least half of a tune's tokens (tunes.MAX_TUNE_TOKENS, 2,000; not imported:
# tunes imports this module) to the model; the header takes a few dozen.
MAX_OPENING = 1000
_MODES = ("maj", "major", "ion", "ionian", "m", "min", "minor", "aeo", "aeolian", "mix", "mixolydian",
          "dor", "dorian", "phr", "phrygian", "lyd", "lydian", "loc", "locrian")
_BAR = re.compile(r":*\|[\]|]*:*(?:\[?\d+)?|::")  # | || |: :| |] :: and endings |1 :|[2
_KEY = re.compile(rf"^([A-G])([#b]?)\s*({'|'.join(_MODES)})?$", re.IGNORECASE)


@dataclass(frozen=True)
class TuneConditions:
    """What every tune must have: ``meter`` (M:), ``key`` (K:) and the ``opening`` bars of its
    body; each optional. Build it with ``conditions`` (which checks the values)."""

    meter: str | None = None
    key: str | None = None
    opening: str = ""

    def __bool__(self) -> bool:
        return bool(self.meter or self.key or self.opening)

    @property
    def fields(self) -> dict[str, str]:
        """Header fields whose values are forced, by letter, in header order."""
        forced = {"M": self.meter, "L": UNIT if self.opening else None, "K": self.key}
        return {k: v for k, v in forced.items() if v}

    def as_options(self) -> dict[str, str]:
        """The command-line options that ask for these conditions (empty ones left out)."""
        given = {"--meter": self.meter, "--key": self.key, "--prime-abc": self.opening}
        return {k: v for k, v in given.items() if v}

    def check_model(self, vocab) -> None:
        """UsageError unless a model with ``vocab`` can write what is asked for."""
        if not self:
            return
        if vocab.level != "char":
            raise UsageError("--meter, --key and --prime-abc need a character-level music model")
        missing = sorted({c for c in "MLK\n:" + "".join(self.fields.values()) + self.opening if c not in vocab.index})
        if missing:
            raise UsageError(f"this model never wrote {', '.join(map(repr, missing))}, which --meter, --key or "
                             "--prime-abc ask for; choose values in the notation of its training tunes")

    def problems(self, text: str) -> list[str]:
        """How a tune's text departs from the conditions ("" fields aside): for the tune check."""
        found = []
        for letter, name in (("M", "meter"), ("K", "key")):
            want = getattr(self, name)
            if want is None:
                continue
            pattern = rf"(?m)^{letter}:(.*)$|\[{letter}:([^\]\n]*)\]"  # field lines and inline fields
            values = [(line or inline).strip() for line, inline in re.findall(pattern, text)]
            if not values:
                continue  # no such field at all: check_tune already says so
            other = next((v for v in values if _same(v, want, name) is False), None)
            if other is not None:
                found.append(f"{name} is {other}, not {want} as asked")
        if self.opening and not _body(text).startswith(self.opening):
            found.append("does not start with the first bars asked for")
        return found


def conditions(meter: str | None = None, key: str | None = None, prime_abc: str | None = None) -> TuneConditions:
    """Check the values asked for and return them as ``TuneConditions``; UsageError saying what is
    wrong. ``meter``: anything music21 reads as a time signature (``6/8``, ``C``, ``C|``);
    ``key``: a tonic and an optional mode (``G``, ``Bm``, ``Dmix``, ``F#dor``)."""
    given = TuneOptions(meter, key, prime_abc)
    check_types(given)  # its fields declare each option once: name, type and help
    meter, key = _clean(given.meter, "--meter"), _clean(given.key, "--key")
    opening = (given.prime_abc or "").strip()
    if "\n" in opening or re.search(r"(?m)^[A-Za-z]:", opening):
        raise UsageError("--prime-abc takes bars of music on one line (e.g. \"|:d2B AFD|EFG A2B|\"), "
                         "no header fields; use --meter and --key for those")
    inline = re.search(r"\[[A-Za-z]:[^\]]*\]?", opening)
    if inline:  # [M:3/4], [K:G], [L:1/4] would change what every tune is checked against, after the check
        raise UsageError(f"--prime-abc takes notes and bar lines, not the inline field {inline.group(0)!r}; "
                         "give the meter and key with --meter and --key")
    if meter is not None:
        _check_meter_text(meter)
        _meter_bar(meter)
    if key is not None:
        _check_key(key)
    if len(opening) > MAX_OPENING:  # each bar is parsed on its own: bounded before it starts
        raise UsageError(f"--prime-abc is {len(opening):,} characters; a tune is drawn up to {2 * MAX_OPENING:,} "
                         f"tokens, so give at most {MAX_OPENING:,} (the first bars, not a whole tune)")
    if opening:
        _check_opening(opening, meter)
    return TuneConditions(meter, key, opening)


def _clean(value: str | None, option: str) -> str | None:
    if value is None:
        return None
    value = " ".join(value.split())
    if not value:
        raise UsageError(f"{option} is empty; leave it out to let the model choose")
    if any(c in value for c in "[]%"):
        raise UsageError(f"{option} {value!r}: not a value of an ABC field")
    return value


def _parse(meter: str, key: str, body: str):
    from .m21 import parse_abc

    return parse_abc(f"X:1\nM:{meter}\nL:{UNIT}\nK:{key}\n{body}\n")


def _check_meter_text(meter: str) -> None:
    """UsageError for a meter refused from its text alone, before music21 spends time on it."""
    from .meters import meter_problem

    problem = meter_problem(meter)
    if problem:
        raise UsageError(f"--meter {meter!r}: {problem}; give e.g. 6/8, 3/4, 4/4, C or C|")
    if "+" in meter:  # music21 reads 2+3/8 as 23/8, and the tunes would be checked against that
        raise UsageError(f"--meter {meter!r}: give the meter as one fraction (e.g. 5/8 for 2+3/8)")


def _meter_bar(meter: str) -> float:
    """The length of a bar of ``meter`` in quarter notes; UsageError when music21 cannot read it."""
    from music21 import meter as m21meter

    score = _parse(meter, "C", "c")
    ts = score.recurse().getElementsByClass(m21meter.TimeSignature).first() if score is not None else None
    if ts is None:
        raise UsageError(f"--meter {meter!r} is not a meter music21 reads; give e.g. 6/8, 3/4, 4/4, C or C|")
    return float(ts.barDuration.quarterLength)


def _check_key(key: str) -> None:
    """UsageError unless ``key`` is a tonic and mode that music21 reads as that key."""
    from music21 import key as m21key

    match = _KEY.match(key)
    score = _parse("4/4", key, "c") if match else None
    found = score.recurse().getElementsByClass(m21key.Key).first() if score is not None else None
    tonic = (match.group(1).upper() + match.group(2).replace("b", "-")) if match else ""
    if found is None or found.tonic.name != tonic:
        raise UsageError(f"--key {key!r} is not a key music21 reads; give a tonic and a mode, e.g. G, Bm, "
                         "Dmix, Ador, F#dor or Bbmaj")


def _check_opening(opening: str, meter: str | None) -> None:
    """The first bars must parse, each with notes or rests. Every bar must last one bar of the
    meter (without a meter: all the same length), except a pick-up (the opening does not start
    with a bar line) and a bar the tune goes on with (it does not end with one).

    Each bar is read on its own: music21 re-bars a short fragment by its meter, which would hide
    a bar of the wrong length.
    """
    pieces = [p.strip() for p in _BAR.split(opening)]
    lengths = [_length(p, opening) for p in pieces if p]
    if not lengths:
        raise UsageError(f"--prime-abc {opening!r} holds no notes; give bars like \"|:d2B AFD|EFG A2B|\"")
    if None in lengths and not meter:  # Z lasts a bar of whichever meter the model then picks
        raise UsageError(f"--prime-abc {opening!r} has whole-bar rests (Z), which last a bar of any meter; give "
                         "--meter, or write the rests out (z8 for a bar of 4/4)")
    partial = ({0} if pieces[0] else set()) | ({len(lengths) - 1} if pieces[-1] else set())
    complete = [x for i, x in enumerate(lengths) if i not in partial and x is not None] or lengths
    full = _meter_bar(meter) if meter else complete[0]
    for i, length in enumerate(lengths):
        if length is None:
            continue  # whole bars of rest: a bar of the meter, however long
        if abs(length - full) > 1e-6 and not (length < full and i in partial):
            wants = f"a bar of {meter} lasts {full:g}" if meter else f"another lasts {full:g}"
            raise UsageError(f"--prime-abc {opening!r}: bar {i + 1} lasts {length:g} quarter notes, {wants} "
                             "(notes in eighths); check its notes" + ("" if meter else " or give --meter"))


def _length(bar: str, opening: str) -> float | None:
    """How long one bar of ABC lasts in quarter notes, read as the tune check reads bars
    (``bars.written_bars``); None for whole-bar rests (``Z``, ``Z4``), which last bars of the
    meter; UsageError when it holds no notes music21 can read."""
    from .bars import NotReadable, written_bars

    try:
        found = written_bars(f"X:1\nM:none\nL:{UNIT}\nK:C\n{bar}\n")
    except (NotReadable, ValueError):
        found = []
    if found and all(b.rests and b.length == 0 for b in found):
        return None
    if not found or any(b.length == 0 for b in found):
        raise UsageError(f"--prime-abc {opening!r}: {bar!r} does not parse as a bar of ABC notes; give bars "
                         "like \"|:d2B AFD|EFG A2B|\" (notes in eighths, bars split by |)")
    return float(sum(b.length for b in found) * 4)


def _same(found: str, want: str, name: str) -> bool:
    found, want = " ".join(found.split()), " ".join(want.split())
    if name == "key":
        return found.lower().replace(" ", "") == want.lower().replace(" ", "")
    return found == want


def _body(text: str) -> str:
    """The tune's text after its header (the K: line)."""
    match = re.search(r"(?m)^K:.*\n", text)
    return text[match.end():] if match else ""


class ForcedHeader:
    """The sampling constraint that gives each row the conditions' fields and first bars (see the
    module docstring). Until its key line, a row's header keeps the shape of the training tunes'
    headers, so that no row can leave out a field asked for: each line starts with a field letter
    not yet written (T, M, L, Q, R, then K) and its colon, and the tune cannot end there. Rows are
    followed one by one: each has its own queue of forced tokens."""

    def __init__(self, vocab, cond: TuneConditions, prime: str, rows: int):
        from .abc import HEADER_FIELDS

        cond.check_model(vocab)
        self.cond = cond
        colon = vocab.index[":"]
        self.forced = {vocab.index[k]: [vocab.index[c] for c in f":{v}\n"] for k, v in cond.fields.items()}
        self.k, self.newline = vocab.index["K"], vocab.index["\n"]
        self.letters = [vocab.index[c] for c in HEADER_FIELDS if c != "X" and c in vocab.index]
        self.colon = {i: [colon] for i in self.letters}
        self.opening = [vocab.index[c] for c in cond.opening]
        self.before_key = {vocab.index[k] for k in cond.fields if k != "K"}
        self.blocked_in_body = [vocab.index[k] for k in ("M", "K") if k in cond.fields]
        written = {vocab.index[c] for c in re.findall(r"(?m)^([A-Za-z]):", prime) if c in vocab.index}
        self.rows = [_Row(prime, written) for _ in range(rows)]

    def restrict(self, scores: torch.Tensor) -> torch.Tensor:
        from ..data.vocab import EOS_ID

        scores = scores.clone()
        for r, row in enumerate(self.rows):
            if row.queue:
                keep = scores[r, row.queue[0]].clone()
                scores[r] = float("-inf")
                scores[r, row.queue[0]] = keep if torch.isfinite(keep) else 0.0
            elif row.header:
                scores[r, EOS_ID] = float("-inf")  # a tune does not end in its header
                if row.line_start:
                    key_ready = self.before_key <= row.written  # the key line waits for the forced fields
                    allowed = [i for i in self.letters if i not in row.written and (i != self.k or key_ready)]
                    kept = scores[r, allowed].clone()
                    scores[r] = float("-inf")
                    scores[r, allowed] = kept
            elif row.line_start:
                scores[r, self.blocked_in_body] = float("-inf")  # no change of meter or key
        return scores

    def advance(self, drawn: torch.Tensor) -> None:
        for row, token in zip(self.rows, drawn.tolist()):
            if row.queue:
                row.queue.popleft()
            elif row.header and row.line_start:
                row.written.add(token)
                row.queue.extend(self.forced.get(token) or self.colon.get(token, []))
                row.key_line = token == self.k
                if token == self.k and token in self.forced:
                    row.queue.extend(self.opening)
                    row.header = False
            elif row.header and row.key_line and token == self.newline:
                row.queue.extend(self.opening)  # the model's own key, then the first bars
                row.header = False
            row.line_start = token == self.newline


class _Row:
    """Where one row is: in the header or not, at the start of a line, what it must write next."""

    def __init__(self, prime: str, written: set[int]):
        self.header = not re.search(r"(?m)^K:.*\n", prime)
        self.line_start = prime.endswith("\n") or not prime
        self.written = set(written)  # field letters (ids) that start a header line so far
        self.key_line = False
        self.queue: deque[int] = deque()


class AllOf:
    """Several constraints kept at once: each restricts the scores, each sees what was drawn."""

    def __init__(self, *constraints):
        self.constraints = [c for c in constraints if c is not None]

    def restrict(self, scores: torch.Tensor) -> torch.Tensor:
        for c in self.constraints:
            scores = c.restrict(scores)
        return scores

    def advance(self, drawn: torch.Tensor) -> None:
        for c in self.constraints:
            c.advance(drawn)
