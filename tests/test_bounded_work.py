"""Work that user input starts is bounded, decided before it starts: a meter or note length no
tune has is refused as an option and passed over in a corpus or an export, in seconds, not minutes."""

import time

import pytest

from .helpers import TINY, assert_one_line_error, run

TUNE = """X:{n}
T:Tune {n}
M:{meter}
L:1/8
K:{key}
|:GABc dedB|dedB dedB|c2ec B2dB|c2A2 A2BA:|
|:GABc dedB|dedB dedB|c2ec B2dB|A2F2 G4:|
"""


def tunes_file(path, *meters):
    path.write_text("\n".join(TUNE.format(n=n, meter=m, key="GDAEBC"[n % 6]) for n, m in enumerate(meters, 1)), encoding="utf-8")
    return path


@pytest.mark.parametrize("meter, words", [
    ("9999/1", ["lasts 39996 quarter notes", "at most 32"]),
    ("-3/4", ["negative"]),
    ("3/-4", ["negative"]),
    ("0/4", ["no length"]),
    ("1/9999", ["note value"]),
    ("123456789/4", ["not a meter"]),
    ("2+3/8", ["one fraction", "5/8"]),
])
def test_a_meter_no_tune_has_is_refused_at_once(music_run, in_tmp, meter, words):
    started = time.monotonic()
    result = run("sample", music_run.best_path, "--tunes", "1", "--meter", meter, "--seed", "1")
    assert_one_line_error(result, 2, f"--meter {meter!r}", *words)
    assert time.monotonic() - started < 20
    assert not (in_tmp / "tunes").exists() or not any((in_tmp / "tunes").iterdir())


def test_the_api_refuses_it_too(music_run):
    from seqgen import UsageError, load

    with pytest.raises(UsageError, match="at most 32"):
        load(music_run.best_path).tunes(1, meter="9999/1")


def test_export_passes_over_a_tune_with_a_huge_meter(in_tmp):
    source = tunes_file(in_tmp / "mixed.abc", "9999/1", "4/4")
    started = time.monotonic()
    result = run("export", source, "--out", "midi")
    assert result.exit_code == 0, result.output
    assert time.monotonic() - started < 30
    assert len(list((in_tmp / "midi").glob("*.mid"))) == 1
    assert "meter or note length no tune has" in result.stderr and "9999/1" in result.stderr


def test_export_of_only_such_tunes_fails_in_one_line(in_tmp):
    source = tunes_file(in_tmp / "huge.abc", "9999/1", "-3/4")
    assert_one_line_error(run("export", source, "--out", "midi"), 1, "no MIDI file was written", "9999/1")


def test_training_passes_over_a_tune_with_a_huge_meter(in_tmp):
    folder = in_tmp / "tunes"
    folder.mkdir()
    tunes_file(folder / "a.abc", "4/4", "9999/1", "4/4", "4/4")
    started = time.monotonic()
    result = run("train", folder, *TINY, "--max-steps", "2", "--out", "run")
    assert result.exit_code == 0, result.output
    assert time.monotonic() - started < 60
    assert "skipped 1 tune with a meter or note length no tune has" in result.output + result.stderr


def test_a_corpus_of_only_such_tunes_is_refused(in_tmp):
    source = tunes_file(in_tmp / "huge.abc", "9999/1", "999/1")
    assert_one_line_error(run("train", source, *TINY, "--out", "run"), 1, "meter", "9999/1")


def test_first_bars_longer_than_a_tune_are_refused_before_they_are_checked(music_run, in_tmp):
    started = time.monotonic()
    result = run("sample", music_run.best_path, "--tunes", "1", "--prime-abc", "|GABc dedB" * 200 + "|")
    assert_one_line_error(result, 2, "--prime-abc is 2,001 characters", "at most 1,000")
    assert time.monotonic() - started < 20


def test_a_huge_number_of_tunes_names_tunes(music_run, in_tmp):
    assert_one_line_error(run("sample", music_run.best_path, "--tunes", "100000000"), 2, "--tunes must be from 1 to 5,000")


@pytest.mark.parametrize("option", [("--prime", "T:My"), ("--length", "50"), ("--num-samples", "2")])
def test_options_tunes_cannot_use_are_refused(music_run, in_tmp, option):
    assert_one_line_error(run("sample", music_run.best_path, "--tunes", "1", *option), 2, option[0], "does not apply")


def test_the_bound_on_first_bars_is_half_a_tune():
    from seqgen.music.conditions import MAX_OPENING
    from seqgen.music.tunes import MAX_TUNE_TOKENS

    assert MAX_OPENING == MAX_TUNE_TOKENS // 2


# Garbled meter fields as a model early in training writes them. music21 reads every digit on each
# side of a lone "/" as one number: the first asked it for a list of billions of beats (it raised
# OverflowError, which ended `seqgen sample --tunes` with a traceback).
@pytest.mark.parametrize("meter, reason", [
    ('< fuk(sUqC^kJ1.Qbc-N6KrhSl^if,mJ(JfkJi E}:.|!{ 0:{0]i) kA)Sh*l{4L:f\\Q!<0"m(H}}9U198.|0f^xHP <k*b/4k',
     "is not a meter a tune can have"),
    ("x1.Qb-N6Kr9Sl/4", "is not a meter a tune can have"),  # read as 169/4: a bar of 169 quarter notes
    ("k*b/4", "does not parse"),
    ("3/4/2", "does not parse"),
    ("A3/B5", "is not a meter"),
    ("2/2]", "is not a meter"),  # one of the Essen songs
])
def test_a_garbled_meter_makes_a_tune_invalid_at_once(meter, reason):
    from seqgen.music.validate import check_tune

    started = time.monotonic()
    check = check_tune(TUNE.format(n=1, meter=meter, key="G"))
    assert not check.valid and any(reason in r for r in check.reasons), check.reasons
    assert time.monotonic() - started < 10
