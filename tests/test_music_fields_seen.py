"""The meters and keys a music model has seen, counted when it is trained, and what a checkpoint
that did not count them offers instead."""

import re
from collections import Counter
from pathlib import Path

from seqgen import api
from seqgen.music.fields_seen import COMMON, count_fields, field_choices

OLD = Path(__file__).parent / "data" / "checkpoints_v2"

TUNES = """X:1
T:A jig
M:6/8
L:1/8
K:G
|:GAB d2B:|
X:1
T:Another jig
M: 6/8 % a comment
K:Dmix
|:ABc d2e:|
M:9/8
|ABc d2e f2g|
X:1
T:A reel
M:C|
K:G
|:GABc d2e2:|
"""


def test_each_tunes_header_counts_once_most_common_first():
    assert count_fields(TUNES) == {"meter": [["6/8", 2], ["C|", 1]],  # the 9/8 of a tune's body is no header
                                   "key": [["G", 2], ["Dmix", 1]]}
    assert count_fields("no tunes here") == {"meter": [], "key": []}


def test_a_music_model_records_the_meters_and_keys_of_its_training_tunes(music_run):
    from seqgen.music.abc_format import AbcFormat, held_out_documents

    data = api.load(music_run.best_path).data
    tunes = AbcFormat().read(data["sources"]).documents
    training = [tunes[i] for i in held_out_documents(len(tunes), data["val_fraction"], data["seed"])[0]]
    meters = Counter(re.search(r"(?m)^M:(.*)$", t)[1].strip() for t in training)  # read from the tunes, not the ids
    keys = Counter(re.search(r"(?m)^K:(.*)$", t)[1].strip() for t in training)
    assert dict(map(tuple, data["fields"]["meter"])) == meters and dict(map(tuple, data["fields"]["key"])) == keys
    counts = [n for _, n in data["fields"]["meter"]]
    assert counts == sorted(counts, reverse=True) and sum(counts) == len(training)


def test_a_text_model_records_none(char_run):
    assert "fields" not in api.load(char_run.best_path).data


def test_a_checkpoint_that_counted_none_offers_common_values_it_can_write():
    old = api.load(OLD / "tunes.pt")
    assert "fields" not in old.data  # written by an earlier seqgen
    offered = field_choices(old.data.get("fields"), lambda name, value: "|" not in value)
    assert offered["source"] == "common"
    assert [v for v, _ in offered["meter"]] == [m for m in COMMON["meter"] if "|" not in m]
    assert all(n is None for _, n in offered["meter"] + offered["key"])  # no counts to show


def test_a_damaged_record_is_not_offered():
    for recorded in ({"meter": "6/8", "key": [["G", 1]]}, {"meter": [["6/8", "many"]], "key": [["G", 1]]}, []):
        assert field_choices(recorded, lambda name, value: True)["source"] == "common"
    kept = field_choices({"meter": [["6/8", 3]], "key": [["G", 2], ["H", 1]]}, lambda name, value: value != "H")
    assert kept == {"meter": [["6/8", 3]], "key": [["G", 2]], "source": "training tunes"}
