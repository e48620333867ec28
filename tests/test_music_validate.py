"""Checking tunes: real O'Neill tunes pass, broken ones say why; novelty of sampled phrases."""

import math

import pytest

from seqgen.music.abc import builtin_paths, read_tunes
from seqgen.music.m21 import parse_abc
from seqgen.music.bars import written_bars
from seqgen.music.validate import check_tune, copied_share, judge_bars, note_phrases

GOOD = """X:1
T:The Test Reel
M:4/4
L:1/8
K:G
GABc dedB | dedB dedB | c2ec B2dB | c2A2 A2BA |
GABc dedB | dedB dedB | c2ec B2dB | A2F2 G4 ||
"""
# A pick-up, a repeat with first and second endings, a short bar before |: and a meter change.
LENIENT = """X:1
T:Real tunes do this
M:6/8
L:1/8
K:D
A|d2A F2A|d2f a2f|g2e f2d|1 e3 e2:|2 e3 d2||
fg|:a2f d2f|a2f d3|
M:9/8
ABc ABc ABc|d3 d3 d3:|
"""


@pytest.fixture(scope="module")
def oneills_sample():
    """Every 40th of O'Neill's tunes: 51 tunes from all through the collection."""
    return read_tunes(builtin_paths("oneills"), check=False).tunes[::40]


def test_real_tunes_pass(oneills_sample):
    # Over the whole collection 87% of the tunes have every written bar right (`seqgen check
    # builtin:oneills`); the rest have bars really too long or short in the transcription, which
    # abc2abc reports too (tests/test_music_bars.py).
    checks = [check_tune(t) for t in oneills_sample]
    assert sum(c.valid for c in checks) >= 0.7 * len(checks)
    assert all(c.score is not None for c in checks)


def test_pickups_endings_repeats_and_meter_changes_are_fine():
    for tune in (GOOD, LENIENT):
        check = check_tune(tune)
        assert check.valid and check.reasons == [] and check.score is not None


def test_wrong_bar_in_the_middle_is_named():
    wrong = GOOD.replace("c2ec B2dB | c2A2", "c2ec B2 | c2A2", 1)
    assert check_tune(wrong).reasons == ["bar 3 lasts 3/4, the meter says 4/4"]
    # The pick-up is bar 0; bar 9 is the first after M:9/8, measured against it, in its unit.
    after_change = LENIENT.replace("ABc ABc ABc|", "ABc ABc|", 1)
    assert check_tune(after_change).reasons == ["bar 9 lasts 6/8, the meter says 9/8"]


def test_missing_key_meter_bars_and_garbage():
    assert "no key (K:)" in check_tune(GOOD.replace("K:G\n", "")).reasons
    assert "no meter (M:)" in check_tune(GOOD.replace("M:4/4\n", "")).reasons
    assert check_tune("X:1\nM:4/4\nK:C\nCDEF|GABc|\n").reasons == ["only 2 bars (at least 4 needed)"]
    garbage = check_tune("X:1\nM:4/4\nK:C\nA/0 B [[[[\n")
    assert not garbage.valid and garbage.reasons == ["does not parse"] and garbage.score is None
    assert check_tune("").reasons == ["no meter (M:)", "no key (K:)", "does not parse"]


def test_a_given_score_is_not_parsed_again():
    score = parse_abc(GOOD)
    assert check_tune(GOOD, score=score).score is score


def _rules(body: str, meter: str = "4/4") -> list[str]:
    return [v.rule for v in judge_bars(written_bars(f"X:1\nM:{meter}\nL:1/8\nK:G\n{body}\n"))]


def test_bar_rules():
    assert _rules("GABc dedB | GABc dedB | GABc dedB | G8 |]") == ["right"] * 4
    assert _rules("GABc dedB | GABc | dedB GABc dedB | G8 |]")[:3] == ["right", "too short", "too long"]
    assert _rules("G2 | GABc dedB | GABc dedB | G6 |]") == ["pick-up", "right", "right", "section end"]
    assert _rules("G2 | GABc dedB | GABc dedB | G4 |]")[-1] == "too short"  # 4 + 2 eighths: no bar
    assert _rules("GABc dedB | GA | Bc dedB | G8 |]")[1:3] == ["two pieces", "two pieces"]
    assert _rules("GABc dedB | GABc dedB :| |: GA | Bc dedB GABc |")[2] == "section pick-up"
    assert _rules("GABc dedB | GABc dedBc | G8 |]")[1] == "too long"
    assert _rules("GABc dedBc | GABc dedB | G8 |]")[0] == "too long"  # a first bar is short or right
    long = check_tune("X:1\nM:2/4\nL:1/8\nK:G\n" + "GABc d |" * 6 + "\n")
    assert long.reasons[-1] == "and 3 more bars of the wrong length"  # six bars of 5/8 in 2/4


def test_note_phrases_read_only_notes():
    tune = 'X:1\nT:ABCDEFG\nK:G\n"Am"A !trill!B +fermata+c {g}d [K:D] ^e/f,2 g\'|\n'
    assert note_phrases(tune, n=3) == [("A", "B", "c"), ("B", "c", "d"), ("c", "d", "^e"),
                                       ("d", "^e", "f,"), ("^e", "f,", "g'")]


def test_copied_share(oneills_sample):
    training = oneills_sample
    assert copied_share(training[:3], training) == 1.0
    made_up = "X:1\nM:4/4\nK:C\n" + "C^D=EF_GAB^c d_e^fga^bc'd' | " * 2 + "\n"
    assert copied_share([made_up], training) == 0.0
    half = training[0] + made_up
    assert 0.0 < copied_share([half], training) < 1.0
    assert math.isnan(copied_share(["X:1\nK:C\nCDE|\n"], training))


def test_a_tune_its_bars_make_invalid_is_parsed_only_when_its_score_is_asked_for(monkeypatch):
    """While tunes are drawn, an invalid tune is not handed to music21 (seconds for a long garbled
    one) unless its score is wanted: a file of it, a figure of how many parse."""
    import seqgen.music.validate as validate

    wrong = "X:1\nT:Short bars\nM:4/4\nL:1/8\nK:G\nGABc dedB|dedB d|c2ec B2dB|c2A2 A2BA|GABc d2B2|]\n"
    right = wrong.replace("|dedB d|", "|dedB dedB|")
    parsed = []
    monkeypatch.setattr(validate, "parse_abc", lambda text: parsed.append(text) or parse_abc(text))
    lazy = check_tune(wrong, parse_invalid=False)
    assert not lazy.valid and lazy.reasons == ["bar 2 lasts 5/8, the meter says 4/4"] and parsed == []
    assert lazy.score is not None and parsed == [wrong]  # parsed once asked, as check_tune would have
    assert lazy.score is lazy.score and len(parsed) == 1
    eager = check_tune(wrong)
    assert eager.reasons == lazy.reasons and len(parsed) == 2
    assert check_tune(right, parse_invalid=False).valid and parsed[-1] == right  # a valid tune is always parsed
