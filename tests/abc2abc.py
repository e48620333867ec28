"""abc2abc (Debian's abcmidi) as an independent oracle for the bar check.

abc2abc reports each written bar whose notes do not add up to the meter ("%Error : Bar 3 is 5/4
not 6/8"). Its bar numbers count bar lines: bar 0 is what comes before the first one. Its rules
differ from seqgen's in a few named ways, and ``compare`` explains every disagreement by one of
them or reports it:

- FIRST_BAR: abc2abc never checks bar 0, even one too long; seqgen lets only a short first bar
  (a pick-up) through.
- REPEAT_SIGN: abc2abc never reports a bar closed by a repeat sign (``|:``, ``:|``, ``::``,
  ``|1``, ``:|2``); what it is short of a bar it carries into the next bar, which it then
  reports with both lengths added. seqgen judges each bar on its own.
- OPEN_END: abc2abc checks a bar only at its closing bar line; seqgen checks a last bar left open.
- LENIENCY: seqgen lets a short bar through by a musician's rule (two pieces, section end,
  section pick-up; see ``seqgen.music.validate``); abc2abc does not.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass, field
from fractions import Fraction

from seqgen.music.bars import NotReadable, read_bars
from seqgen.music.keys import tune_key_problem
from seqgen.music.validate import judge_bars

REPEAT_SIGNS = {"|:", ":|", "::", ":|:", ":||:", "||:", ":||"}
_ERROR = re.compile(r"^%Error : Bar (\d+) is (\d+)/(\d+) not (\d+)/(\d+)")


def available() -> bool:
    return shutil.which("abc2abc") is not None


def abc2abc_bars(tunes: list[str], tmp_path) -> list[dict[int, Fraction]]:
    """For each tune, the bars abc2abc reports: bar number -> length in whole notes. One run per
    tune: in a file of many, a broken tune can leave abc2abc in a state that hides the next's bars."""
    path = tmp_path / "tune.abc"
    found = []
    for tune in tunes:
        path.write_text(tune, encoding="utf-8")
        out = subprocess.run(["abc2abc", str(path)], capture_output=True, text=True, timeout=60).stdout
        found.append({int(m.group(1)): Fraction(int(m.group(2)), int(m.group(3)))
                      for m in map(_ERROR.match, out.splitlines()) if m})
    return found


def as_abc2abc_reads(verdicts, signs: list[str]) -> dict[int, Fraction]:
    """The bars abc2abc would report, by its rules above, given seqgen's written bars and bar lines
    (``bars.read_bars``): where this equals what abc2abc reports, the two read the same lengths."""
    predicted, count = {}, Fraction(0)
    by_index = {v.bar.index: v for v in verdicts}
    meter = verdicts[0].bar.meter
    for index, sign in enumerate(signs):
        if index in by_index:
            bar = by_index[index].bar
            meter = bar.meter
            count += bar.length + bar.rests * meter.full
        if index == 0 or count in (0, meter.full):
            count = Fraction(0)
        elif sign not in REPEAT_SIGNS:
            predicted[index], count = count, Fraction(0)
    return predicted


@dataclass
class Comparison:
    tunes: int = 0  # tunes both read, with a meter
    no_key: int = 0  # tunes left out: a key field that names no key
    bars: int = 0
    same_lengths: int = 0  # tunes where seqgen's bar lengths give exactly abc2abc's reports
    length_mismatches: list = field(default_factory=list)  # (tune number, predicted, reported)
    agree: int = 0  # bars both call right, or both wrong
    both_wrong: int = 0
    differ: dict = field(default_factory=dict)  # rule -> bars judged differently by that rule
    unexplained: list = field(default_factory=list)  # (tune, bar index, seqgen's rule, abc2abc's length)


def same_signs(tune: str) -> str:
    """The tune with two signs written so that both tools count bar lines alike, meaning the same:
    ``::`` as ``:| |:`` (abc2abc counts ``::`` as one bar line, music21's tokenizer as two), and
    ``|1`` as ``| [1`` (abc2abc takes ``|1`` for a repeat sign, ``| [1`` for a bar line and an
    ending; music21 reads both as the latter)."""
    return re.sub(r"\|\[?(\d)", r"| [\1", re.sub(r":\|?\|?:", ":| |:", tune))


def compare(tunes: list[str], tmp_path) -> Comparison:
    """seqgen's written bars and verdicts against abc2abc's reports on the same tunes."""
    result = Comparison()
    tunes = [same_signs(t) for t in tunes]
    for n, (tune, reported) in enumerate(zip(tunes, abc2abc_bars(tunes, tmp_path)), 1):
        if tune_key_problem(tune):
            # seqgen calls it invalid for that alone; abc2abc skips such a field ("K:|") or refuses
            # it ("K:T:G") while music21 reads C major, so the two start its body at different lines
            result.no_key += 1
            continue
        try:
            bars, signs = read_bars(tune)
        except (NotReadable, ValueError):
            continue
        verdicts = judge_bars(bars)
        if not verdicts or any(v.bar.meter is None for v in verdicts):
            continue  # seqgen cannot read it, or it has no meter: no bars to compare
        result.tunes += 1
        predicted = as_abc2abc_reads(verdicts, signs)
        if predicted == reported:
            result.same_lengths += 1
        else:
            result.length_mismatches.append((n, predicted, reported))
        for v in verdicts:
            result.bars += 1
            theirs_wrong = v.bar.index in reported
            if v.ok != theirs_wrong:
                result.agree += 1
                result.both_wrong += theirs_wrong
                continue
            rule = _rule(v, verdicts, reported)
            if rule:
                result.differ[rule] = result.differ.get(rule, 0) + 1
            else:
                result.unexplained.append((n, v.bar.index, v.rule, reported.get(v.bar.index)))
    return result


def _rule(v, verdicts, reported) -> str | None:
    """The named rule by which the two judge bar ``v`` differently, or None."""
    bar = v.bar
    if not v.ok:  # seqgen says wrong, abc2abc says nothing
        if bar.index == 0:
            return "FIRST_BAR"
        if bar.closes in REPEAT_SIGNS:
            return "REPEAT_SIGN"  # abc2abc carried it into the next bar instead
        if not bar.closes:
            return "OPEN_END"
        before = [w for w in verdicts if w.bar.index < bar.index]
        if before and before[-1].bar.closes in REPEAT_SIGNS:
            return "REPEAT_SIGN"  # abc2abc added the carried piece, and the sum was a whole bar
        return None
    # abc2abc says wrong, seqgen lets it through
    if v.rule not in ("right", "multi-bar rest"):
        return "LENIENCY"
    if reported.get(bar.index) != bar.length:
        return "REPEAT_SIGN"  # a right bar, reported with a piece carried from before a repeat sign
    return None
