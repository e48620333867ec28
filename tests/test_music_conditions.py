"""Tunes to order: a meter, a key and first bars, checked before sampling and written into every
tune by a sampling constraint; the tune check says when a tune departs from them."""

import re

import pytest
import torch

from seqgen import api
from seqgen.errors import UsageError
from seqgen.music.conditions import AllOf, ForcedHeader, TuneConditions, conditions
from seqgen.music.m21 import parse_abc
from seqgen.music.tunes import HeaderOrder
from seqgen.music.validate import check_tune
from seqgen.data.vocab import Vocab

from .helpers import assert_one_line_error, run

VOCAB = Vocab.build(["X:1\nT:Reel\nM:6/8\nL:1/8\nR:jig\nK:Dmix\n|:d2B AFD|EFG A2B:|\nabc|\n"], "char")
OPENING = "|:d2B AFD|EFG A2B|"


@pytest.mark.parametrize("meter, key, opening", [
    ("6/8", "Dmix", ""), ("3/4", "G", ""), ("C|", "Ador", ""), ("C", "Bm", ""), ("12/8", "F#dor", ""),
    (None, "Bbmaj", ""), ("6/8", None, OPENING), (None, None, OPENING), ("6/8", "D", "A|d2B AFD|EFG A2B|A"),
    ("2/2", "G", "(3ABc dB \"Am\"c2 BA|"), ("6/8", "G", "|:d2B AFD|[1 EFG A2B:|[2 EFG ABc|"),
    ("4/4", None, "|Z|Z2|z8|"), ("6/8", None, "|[DF]2B AFD|"),
])
def test_meters_keys_and_bars_music21_reads_are_taken(meter, key, opening):
    assert conditions(meter, key, opening) == TuneConditions(meter, key, opening)


@pytest.mark.parametrize("meter, key, opening, words", [
    ("banana", None, "", ["--meter 'banana' is not a meter music21 reads", "6/8"]),
    ("7/0", None, "", ["--meter '7/0'"]),
    ("", None, "", ["--meter is empty"]),
    (None, "Xyz", "", ["--key 'Xyz' is not a key music21 reads", "Dmix"]),
    (None, "Hmix", "", ["--key 'Hmix'"]),
    (None, None, "[[[[", ["--prime-abc '[[[['", "does not parse"]),
    ("6/8", None, "d2B AFD|EFG A2|B2A", ["bar 2 lasts 2.5 quarter notes, a bar of 6/8 lasts 3"]),
    ("4/4", None, OPENING, ["bar 1 lasts 3 quarter notes, a bar of 4/4 lasts 4"]),
    (None, None, "|d2B AFD|EFG A2B A|", ["bar 2 lasts 3.5 quarter notes, another lasts 3", "--meter"]),
    ("6/8", None, "M:3/4\nabc|", ["one line", "no header fields"]),
    ("6/8", None, "|:d2B AFD|[M:3/4]EFG A2B|", ["not the inline field '[M:3/4]'", "--meter and --key"]),
    (None, "G", "|[K:D]d2B AFD|", ["inline field '[K:D]'"]),
    (None, None, "|d2B AFD|[L:1/4]EF G|", ["inline field '[L:1/4]'"]),
    (None, None, "|Z|Z|", ["whole-bar rests (Z)", "give --meter", "z8"]),
    (None, None, "|z8|Z2|", ["whole-bar rests (Z)"]),
])
def test_what_cannot_be_written_is_a_usage_error_saying_what_to_give(meter, key, opening, words):
    with pytest.raises(UsageError) as caught:
        conditions(meter, key, opening)
    for word in words:
        assert word in str(caught.value)


def test_whole_bar_rests_in_the_first_bars_are_bars_of_the_meter_asked_for():
    wanted = conditions("4/4", None, "|Z|Z|")
    tune = "X:1\nT:a\nM:4/4\nL:1/8\nK:G\n|Z|Z|d2B AFD dB|d2B AFD dB|d2B AFD dB|d2B AFD dB|]\n"
    assert check_tune(tune, conditions=wanted).valid
    assert not check_tune(tune.replace("|Z|Z|", "|z6|z6|"), conditions=wanted).valid


def test_a_symbol_the_model_never_wrote_is_refused_before_sampling():
    with pytest.raises(UsageError, match=r"never wrote '#'.*--key"):
        conditions(key="F#dor").check_model(VOCAB)
    conditions("6/8", "Dmix", OPENING).check_model(VOCAB)  # every symbol known


def allowed(constraint, rows: int = 1) -> list[set[str]]:
    scores = constraint.restrict(torch.zeros(rows, len(VOCAB)))
    return [{VOCAB.tokens[i] for i in torch.isfinite(row).nonzero().squeeze(1).tolist()} for row in scores]


def write(constraint, text: str) -> None:
    for ch in text:
        constraint.advance(torch.tensor([VOCAB.index[ch]]))


def forced(constraint) -> str:
    """What the constraint writes by itself from here: tokens while only one is allowed."""
    out = ""
    while len(allowed(constraint)[0]) == 1:
        (ch,) = allowed(constraint)[0]
        out += ch
        write(constraint, ch)
    return out


def header(cond: TuneConditions, prime: str = "X:1\n"):
    return AllOf(HeaderOrder(VOCAB, prime, 1), ForcedHeader(VOCAB, cond, prime, 1))


def test_the_meter_key_and_first_bars_are_written_for_the_model():
    c = header(TuneConditions("6/8", "Dmix", OPENING))
    assert forced(c) == "" and "<eos>" not in allowed(c)[0]
    write(c, "T")
    assert forced(c) == ":"  # a header line is a field: its letter, then a colon
    write(c, "Reel\n")
    assert allowed(c)[0] == {"M", "L", "R"}  # fields not yet written; the key waits for the meter...
    write(c, "M")
    assert forced(c) == ":6/8\n"
    assert "K" not in allowed(c)[0]  # ... and for L:, as first bars are read in eighths
    write(c, "L")
    assert forced(c) == ":1/8\n"
    write(c, "R:jig\nK")
    assert forced(c) == ":Dmix\n" + OPENING
    write(c, "abc|\n")
    assert not {"M", "K"} & allowed(c)[0]  # no change of meter or key in the body
    assert "a" in allowed(c)[0]


def test_the_models_own_key_line_comes_before_the_first_bars():
    c = header(TuneConditions(opening=OPENING))
    write(c, "T:Reel\nM:6/8\nL:1/8\nK:G")
    assert len(allowed(c)[0]) > 1  # the key is the model's
    write(c, "\n")
    assert forced(c) == OPENING
    write(c, "abc|\n")
    assert {"M", "K"} <= allowed(c)[0]  # nothing asked of meter or key: the model may change them


def test_rows_are_forced_each_on_its_own():
    c = ForcedHeader(VOCAB, TuneConditions(meter="6/8"), "X:1\n", rows=2)
    for a, b in zip("T:a\nM", "T:Reel"):
        c.advance(torch.tensor([VOCAB.index[a], VOCAB.index[b]]))
    first, second = allowed(c, rows=2)
    assert first == {":"} and len(second) > 1


def test_the_tune_check_says_when_a_tune_departs_from_the_order():
    tune = "X:1\nT:a\nM:3/4\nL:1/8\nK:G\n|:d2B AFD|EFG A2B|d2B AFD|EFG A2B:|\n"
    wanted = TuneConditions("6/8", "Dmix", OPENING)
    reasons = check_tune(tune, conditions=wanted).reasons
    assert "meter is 3/4, not 6/8 as asked" in reasons and "key is G, not Dmix as asked" in reasons
    assert check_tune(tune.replace("3/4", "6/8").replace("K:G", "K:Dmix"), conditions=wanted).valid
    changed = tune.replace("K:G", "K:Dmix").replace("M:3/4", "M:6/8").replace("|d2B AFD|E", "|d2B AFD|\nM:3/4\nE")
    assert "meter is 3/4, not 6/8 as asked" in check_tune(changed, conditions=wanted).reasons
    late = tune.replace("3/4", "6/8").replace("K:G", "K:Dmix").replace("|:d2B", "|:B2B", 1)
    assert "does not start with the first bars asked for" in check_tune(late, conditions=wanted).reasons


# -- a trained model ---------------------------------------------------------------------------

def test_every_tune_has_the_meter_key_and_first_bars_asked_for(music_run):
    model = api.load(music_run.best_path)
    batch = model.tunes(3, meter="6/8", key="Dmix", prime_abc=OPENING, seed=4, max_rounds=1)
    assert len(batch.valid) + len(batch.invalid) == 3
    for text, check in batch.valid + batch.invalid:
        assert re.search(r"(?m)^M:6/8$", text) and re.search(r"(?m)^K:Dmix$", text), text
        assert text.split("K:Dmix\n", 1)[1].startswith(OPENING)
        assert not re.search(r"(?m)^[MK]:(?!6/8$|Dmix$)", text)
        assert not [r for r in check.reasons if "as asked" in r or "first bars" in r]
    assert any(parse_abc(text) is not None for text, _ in batch.valid + batch.invalid)
    again = model.tunes(3, meter="6/8", key="Dmix", prime_abc=OPENING, seed=4, max_rounds=1)
    assert [t for t, _ in again.valid + again.invalid] == [t for t, _ in batch.valid + batch.invalid]


def test_tunes_to_order_parse_with_that_meter_and_key(music_run):
    from music21 import key, meter

    batch = api.load(music_run.best_path).tunes(4, meter="3/4", key="G", seed=2, max_rounds=1)
    parsed = [check for _, check in batch.valid + batch.invalid if check.score is not None]
    assert len(parsed) >= 2, batch.reasons  # a tiny model: not every tune parses
    for check in parsed:
        assert check.score.recurse().getElementsByClass(meter.TimeSignature).first().ratioString == "3/4"
        assert check.score.recurse().getElementsByClass(key.Key).first().tonic.name == "G"


def test_the_command_line_samples_tunes_to_order(music_run, in_tmp):
    done = run("sample", music_run.best_path, "--tunes", "2", "--meter", "6/8", "--key", "G", "--seed", "3",
               "--keep-invalid", "--out", "t")
    assert done.exit_code == 0, done.output
    written = sorted((in_tmp / "t").glob("*.abc"))
    assert len(written) == 2
    for path in written:
        text = path.read_text()
        assert "\nM:6/8\n" in text and "\nK:G\n" in text
    one = run("sample", music_run.best_path, "--prime-abc", OPENING, "--seed", "1")
    assert one.exit_code == 0 and OPENING in one.stdout


@pytest.mark.parametrize("args, words", [
    (["--meter", "banana"], ["--meter 'banana'"]),
    (["--prime-abc", "d2B AFD|EFG A2|B2A", "--meter", "6/8"], ["bar 2 lasts 2.5"]),
    (["--meter", "6/8", "--prime", "X:1\n"], ["--prime does not apply with --meter"]),
    (["--meter", "6/8", "--prime-abc", "|:d2B AFD|[M:3/4]EFG A2B|"], ["inline field '[M:3/4]'"]),
    (["--prime-abc", "|z8|Z|"], ["whole-bar rests (Z)", "--meter"]),
])
def test_bad_orders_on_the_command_line_are_one_line_and_exit_2(music_run, in_tmp, args, words):
    assert_one_line_error(run("sample", music_run.best_path, "--tunes", "1", *args), 2, *words)


def test_a_text_model_refuses_tunes_to_order(char_run, in_tmp):
    assert_one_line_error(run("sample", char_run.best_path, "--meter", "6/8"), 2, "--meter does not apply")


def test_eval_measures_tunes_to_order(music_run, in_tmp):
    import json

    done = run("eval", music_run.best_path, "--tunes", "2", "--meter", "6/8", "--key", "G", "--json")
    assert done.exit_code == 0, done.output
    row = json.loads(done.stdout)
    assert row["tunes_to_order"] == {"--meter": "6/8", "--key": "G"} and row["tunes_sampled"] == 2
    assert_one_line_error(run("eval", music_run.best_path, "--tunes", "2", "--key", "Xyz"), 2, "--key 'Xyz'")
