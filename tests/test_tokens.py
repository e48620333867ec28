"""Token ids: cached on disk and memory-mapped, re-encoded when a file changes, split right."""

import os
from pathlib import Path

import numpy as np
import pytest

from seqgen.data import tokens
from seqgen.data.corpus import Corpus
from seqgen.errors import SeqgenWarning
from seqgen.formats import format_for, tokenize_corpus
from seqgen.music.abc import builtin_paths
from seqgen.music.abc_format import AbcFormat, held_out_documents
from seqgen.data.text_format import TextFormat
from seqgen.data.tokens import split_ids, tokenize_with
from seqgen.data.vocab import EOS_ID, Vocab


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache" / "seqgen" / "tokens"


def test_second_run_reads_the_cache_not_the_text(prose_file, cache, monkeypatch):
    first = tokenize_corpus([str(prose_file)], "char")
    assert isinstance(first.ids, np.memmap) and first.ids.dtype == np.uint8
    assert first.vocab.decode(first.ids[:-1]) == prose_file.read_text()  # one <eos> closes the file
    monkeypatch.setattr(TextFormat, "read", lambda *a, **k: pytest.fail("read the text again"))
    second = tokenize_corpus([str(prose_file)], "char")
    assert second.from_cache and second.vocab == first.vocab
    np.testing.assert_array_equal(second.ids, first.ids)
    assert len(list(cache.iterdir())) == 1


def test_a_changed_file_or_other_settings_are_encoded_again(tmp_path, cache):
    path = tmp_path / "t.txt"
    path.write_text("one two three\n" * 50)
    words = tokenize_corpus([str(path)], "word")
    assert not tokenize_corpus([str(path)], "char").from_cache  # other settings, other entry
    path.write_text("four five six\n" * 50)
    os.utime(path, ns=(1, 1))  # even with an old modification time: the size differs here
    changed = tokenize_corpus([str(path)], "word")
    assert not changed.from_cache and changed.vocab != words.vocab


def test_unwritable_cache_still_works(prose_file, tmp_path, monkeypatch):
    (tmp_path / "blocker").write_text("a file where the cache folder should be")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "blocker"))
    with pytest.warns(SeqgenWarning, match="could not write the token cache"):
        data = tokenize_corpus([str(prose_file)], "char")
    assert not data.from_cache and len(data.ids) == len(prose_file.read_text()) + 1


def test_old_entries_are_pruned(tmp_path, cache, monkeypatch):
    monkeypatch.setattr(tokens, "CACHE_ENTRIES", 2)
    for i in range(4):
        (tmp_path / f"{i}.txt").write_text(f"text number {i}\n" * 20)
        tokenize_corpus([str(tmp_path / f"{i}.txt")], "char")
    assert len(list(cache.iterdir())) == 2


def test_text_split_holds_out_the_end(prose_file, cache):
    data = tokenize_corpus([str(prose_file)], "char")
    split = split_ids(data, 0.1)
    assert len(split.val) == int(len(data.ids) * 0.1)
    assert np.shares_memory(split.train, data.ids)  # views of the memory map, not copies
    np.testing.assert_array_equal(np.concatenate([split.train, split.val]), data.ids)


def test_tunes_are_held_out_whole():  # the session's cache: the folk tunes are checked once a session
    data = tokenize_corpus(["builtin:folk"], "char")
    assert data.kind == "abc" and len(data.starts) - 1 > 150
    split = split_ids(data, 0.1, seed=3)
    train, val = held_out_documents(len(data.starts) - 1, 0.1, seed=3)
    assert len(split.val) == sum(data.starts[d + 1] - data.starts[d] for d in val)
    assert split.val[-1] == EOS_ID and data.vocab.decode(split.val).startswith("X:1\n")
    assert not set(train) & set(val) and len(train) + len(val) == len(data.starts) - 1


def test_given_vocabulary_is_used(tmp_path, cache):
    path = tmp_path / "t.txt"
    path.write_text("abc xyz\n")
    vocab = Vocab.build(["abc"], "char")
    data = tokenize_corpus([str(path)], "char", vocab=vocab)
    assert data.vocab == vocab and data.ids.tolist() == [2, 3, 4, 0, 0, 0, 0, 0, EOS_ID]  # " xyz\\n" unknown


def test_source_files_match_what_is_read(tmp_path):
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "a.txt").write_text("a")
    (tmp_path / "notes" / ".hidden.txt").write_text("b")
    assert format_for([str(tmp_path / "notes")]).files([str(tmp_path / "notes")]) == [tmp_path / "notes" / "a.txt"]
    assert format_for(["builtin:folk"]).files(["builtin:folk"]) == builtin_paths("folk")


def test_a_file_rewritten_at_the_same_size_and_time_is_encoded_again(tmp_path, cache):
    path = tmp_path / "t.txt"
    path.write_text("one two three\n" * 50)
    stamp = path.stat().st_mtime_ns
    first = tokenize_corpus([str(path)], "char")
    path.write_text("one two tree!\n" * 50)  # same size
    os.utime(path, ns=(stamp, stamp))  # and the same modification time
    again = tokenize_corpus([str(path)], "char")
    assert not again.from_cache and again.vocab != first.vocab
    assert again.vocab.decode(again.ids[:-1]) == path.read_text()


@pytest.mark.parametrize("damage", ["truncate ids", "garbage ids", "garbage meta", "meta of wrong types",
                                    "meta missing", "starts wrong"])
def test_a_damaged_cache_entry_is_rebuilt_with_a_warning(prose_file, cache, damage):
    first = np.array(tokenize_corpus([str(prose_file)], "char").ids)  # a copy: the map's file is damaged below
    (entry,) = cache.iterdir()
    ids, meta, starts = entry / "ids.npy", entry / "meta.json", entry / "starts.npy"
    if damage == "truncate ids":
        ids.write_bytes(ids.read_bytes()[: ids.stat().st_size // 2])
    elif damage == "garbage ids":
        raw = bytearray(ids.read_bytes())
        raw[-100:] = os.urandom(100)
        ids.write_bytes(bytes(raw))
    elif damage == "garbage meta":
        meta.write_text("{not json")
    elif damage == "meta of wrong types":
        meta.write_text('{"vocab": 3, "tokens": "many"}')
    elif damage == "meta missing":
        meta.unlink()
    else:
        np.save(starts, np.array([0, 5, 3]))
    with pytest.warns(SeqgenWarning, match="token cache entry .* is damaged"):
        again = tokenize_corpus([str(prose_file)], "char")
    assert not again.from_cache
    np.testing.assert_array_equal(again.ids, first)
    third = tokenize_corpus([str(prose_file)], "char")  # repaired: read from the cache, no warning
    assert third.from_cache
    np.testing.assert_array_equal(third.ids, first)


class Shouted:
    """A format of this test's own, never registered: text read in capitals."""

    name = "shouted"

    def __init__(self, tag: str):
        self.tag = tag

    def cache_tag(self) -> str:
        return self.tag

    def claims(self, spec: str) -> bool:
        return True

    def files(self, specs):
        return [Path(s) for s in specs]

    def read(self, specs, encoding="utf-8", on_progress=None):
        return Corpus([Path(s).read_text(encoding=encoding).upper() for s in specs], self.name, list(specs))

    def split(self, ids, starts, val_fraction, seed):
        return ids[:3], ids[3:]


def test_the_format_is_handed_in_and_tags_the_cache(tmp_path, cache):
    path = tmp_path / "t.txt"
    path.write_text("quiet words\n")
    first = tokenize_with(Shouted("rules 1"), [str(path)], "char")
    assert first.kind == "shouted" and first.vocab.decode(first.ids[:-1]) == "QUIET WORDS\n"
    assert tokenize_with(Shouted("rules 1"), [str(path)], "char").from_cache
    again = tokenize_with(Shouted("rules 2"), [str(path)], "char")  # the format reads otherwise now
    assert not again.from_cache and len(list(cache.iterdir())) == 2
    split = split_ids(tokenize_with(Shouted("rules 1"), [str(path)], "char"), 0.5)  # the format's own split
    assert len(split.train) == 3 and len(split.val) == len(first.ids) - 3


def test_the_format_is_chosen_once_per_corpus(prose_file, cache, monkeypatch):
    asked = []
    claims = AbcFormat.claims
    monkeypatch.setattr(AbcFormat, "claims", lambda self, spec: asked.append(spec) or claims(self, spec))
    tokenize_corpus([str(prose_file)], "char")
    assert asked == [str(prose_file)]
