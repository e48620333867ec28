"""A key (K:) or unit note length (L:) field that names none makes a tune invalid, as abc2abc
reads the same fields: music21 alone reads such a field by a guess (C major, an eighth note)."""

import subprocess
import time

import pytest

from seqgen.music.keys import key_problem
from seqgen.music.meters import unit_problem
from seqgen.music.validate import check_tune

from . import abc2abc
from .helpers import run

TUNE = "X:1\nT:Fields\nM:4/4\nL:{unit}\nK:{key}\nGABc dedB|GABc dedB|c2ec B2dB|c2A2 A2BA|\n"
KEYS = ["G", "Edor", "A mix", "F#m", "Bb", "Gmajor", "C Lydian", "Dm treble", "none", "HP", "Bb exp _e",
        "G clef=bass", "G % a comment", "|", "T:G", "xyz", "G|", "d", "1", "H"]
UNITS = ["1/8", "1/16", "1/4", "1/1", "1/64", "1/8 % a comment", "|", "xyz", "1/7", "64/1", "3/8", "1"]
# Where seqgen and abc2abc part, and why: "-8va" (an octave clef sign in music21's own collections)
# abc2abc does not know; "L:1", which abc2abc reads as 1/1 with an error, music21 cannot read.
NAMED = {("K", "E phr -8va"): True, ("L", "1"): False}


def _abc2abc_accepts(tune: str, field: str, tmp_path) -> bool:
    path = tmp_path / "tune.abc"
    path.write_text(tune, encoding="utf-8")
    out = subprocess.run(["abc2abc", str(path)], capture_output=True, text=True, timeout=60).stdout
    return not any(line.startswith((f"%{field}:", "%Warning", "%Error : First K")) or
                   (line.startswith("%Error") and " Bar " not in line) for line in out.splitlines())


@pytest.mark.skipif(not abc2abc.available(), reason="abc2abc not installed (apt-get install abcmidi): no oracle")
def test_seqgen_reads_key_and_unit_fields_as_abc2abc_does(tmp_path):
    for key in KEYS + ["E phr -8va"]:
        ours = key_problem(key) is None
        theirs = NAMED.get(("K", key), _abc2abc_accepts(TUNE.format(unit="1/8", key=key), "K", tmp_path))
        assert ours == theirs, f"K:{key}: seqgen {'accepts' if ours else 'refuses'} it, abc2abc does not"
    for unit in UNITS:
        ours = unit_problem(unit) is None
        theirs = NAMED.get(("L", unit), _abc2abc_accepts(TUNE.format(unit=unit, key="G"), "L", tmp_path))
        assert ours == theirs, f"L:{unit}: seqgen {'accepts' if ours else 'refuses'} it, abc2abc does not"


def test_a_key_that_names_no_key_makes_the_tune_invalid():
    # A tiny model's garbled header, as sampled: music21 took "K:|" for C major and the first
    # M:1/8 for the unit, abc2abc skipped the line and read the bars in eighths.
    garbled = ("X:1\nT:D\nM:1/8\nK:|\nT:Corir Cor dar Mile\nM:6/8\nK:G\n|\n"
               "D A2 G2 e | G2d A2 c |G2 B A2 G |c2 d2 d2 |\nc2 A2 G A |G3 G2 d |d2 d2 B B |c2 c2 A2 |\n")
    assert check_tune(garbled).reasons == ["K:| names no key"]
    assert check_tune(TUNE.format(unit="1/8", key="T:G")).reasons == ["K:T:G names no key"]
    inline = TUNE.format(unit="1/8", key="G").replace("c2ec", "[K:Q]c2ec")
    assert check_tune(inline).reasons == ["K:Q names no key"]
    for key in ("Edor", "A mix", "none", "Bb exp _e", "E phr -8va"):
        assert check_tune(TUNE.format(unit="1/8", key=key)).valid, key


def test_a_unit_no_tune_has_makes_the_tune_invalid_at_once():
    started = time.monotonic()
    assert check_tune(TUNE.format(unit="|", key="G")).reasons == ["L:| is not a note length (1/8, 1/16, ...)"]
    for unit in ("64/1", "1/7", "1/65536"):  # music21 took minutes on the first, read nothing of the last
        assert check_tune(TUNE.format(unit=unit, key="G")).reasons == [
            f"L:{unit}: the unit note length is one of 1/1, 1/2, 1/4, ... 1/64"]
    assert time.monotonic() - started < 10


def test_check_and_export_pass_over_a_huge_unit_in_seconds(in_tmp):
    source = in_tmp / "units.abc"
    source.write_text(TUNE.format(unit="64/1", key="G") + "\n" + TUNE.format(unit="1/8", key="G").replace("X:1", "X:2"),
                      encoding="utf-8")
    started = time.monotonic()
    checked = run("check", source)
    assert checked.exit_code == 0, checked.output
    assert "L:64/1: the unit note length is one of" in checked.output
    exported = run("export", source, "--out", "midi")
    assert exported.exit_code == 0, exported.output
    assert len(list((in_tmp / "midi").glob("*.mid"))) == 1
    assert "meter or note length no tune has" in exported.stderr and "64/1" in exported.stderr
    assert time.monotonic() - started < 60
