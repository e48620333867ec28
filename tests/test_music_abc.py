"""Reading ABC corpora: built-in collections, splitting, cleaning, de-duplication, parse checks."""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seqgen.errors import CorpusError, SeqgenWarning
from seqgen.music import verdicts
from seqgen.music.workers import process_map
from seqgen.music.abc import BUILTIN_CORPORA, builtin_paths, clean_tune, corpus_stats, is_builtin, read_tunes, split_tunes
from seqgen.music.m21 import music21_safe

RAW = """% a file header comment
%%abc-version 2.1

X: 17
T: The Test Reel
T: Alternative title
N: "collected by somebody"
R: reel
Z: transcribed by somebody else
L: 1/8
M: 4/4
K:G
GABc dedB | dedB dedB | c2ec B2dB | c2A2 A2BA |   % end-of-line comment
% a comment line inside the tune does not end it
W: words that are not music
GABc   dedB | [N:inline note]dedB dedB | c2ec B2dB | A2F2 G4 ||
w: lyrics under the notes

free text after the blank line that ends the tune
"""
BODY = ["GABc dedB | dedB dedB | c2ec B2dB | c2A2 A2BA |", "GABc dedB | dedB dedB | c2ec B2dB | A2F2 G4 ||"]
GARBAGE = "X:3\nT:Garbage\nM:4/4\nK:C\nA/0 B [[[[\n"  # music21 raises on it (division by zero)


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    """Each test gets its own verdict cache, so none reads or writes the user's."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache" / "seqgen" / "abc-parse.json"


def oneills_file(name="0626-0635.abc"):
    """A small file of O'Neill's (ten tunes): real data, a fraction of a second to parse."""
    return next(p for p in builtin_paths("oneills") if p.name == name)


def test_clean_keeps_the_music_and_drops_the_rest():
    (raw,) = split_tunes(RAW)
    tune = clean_tune(raw)
    assert tune.splitlines() == ["X:1", "T:The Test Reel", "M:4/4", "L:1/8", "R:reel", "K:G", *BODY]
    assert tune.endswith("||\n") and "%" not in tune and "free text" not in tune


def test_clean_orders_the_header_and_keeps_musical_changes_in_the_body():
    raw = ("X:5\nQ:1/4=120\nO:Ireland\nR:jig\nL:1/8\nT:A\nB:some book\nM:6/8\nK:D\n"
           "ABc def|[K:G] gfe dcB|\nM:9/8\nABc ABc ABc|\nH:history|\nP:B\nABc ABc ABc|]\n")
    assert clean_tune(raw).splitlines() == [
        "X:1", "T:A", "M:6/8", "L:1/8", "Q:1/4=120", "R:jig", "K:D",
        "ABc def|[K:G] gfe dcB|", "M:9/8", "ABc ABc ABc|", "P:B", "ABc ABc ABc|]"]


def test_clean_normalises_line_ends_and_whitespace():
    tune = clean_tune("X:2\r\nT:  Spaced   out  \r\nK:  D \r\n  ABc   d2e |\tf2 \r\n\r\n\r\nabc|\n")
    assert tune == "X:1\nT:Spaced out\nK:D\nABc d2e | f2\n"  # the blank line ended the tune


@pytest.mark.parametrize("raw", ["X:1\nT:no key\nM:4/4\nabc|\n", "X:1\nT:no notes\nK:C\nw: only words\n",
                                 "X:1\nK:C\n", "X:1\nK:C\nM:3/4\n"])
def test_clean_rejects_tunes_without_key_or_notes(raw):
    assert clean_tune(raw) is None


def test_notations_music21_misreads_are_rewritten():
    assert music21_safe('HG2 ">"d2 (3{a}gfg "^Hold"A [K:HP] !trill!B') == \
        '!fermata!G2 !>!d2 {a}(3gfg "^Hold"A [K:HP] !trill!B'


def test_split_drops_the_file_header():
    pieces = split_tunes("header\nX:1\nK:C\nabc\nX:2\r\nK:D\r\ndef\n")
    assert pieces == ["X:1\nK:C\nabc\n", "X:2\nK:D\ndef\n"]
    assert split_tunes("no tunes at all\n") == [] and split_tunes("") == []


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.text(), st.text(alphabet=st.sampled_from(list("X:TKMLWw\n\r |abcABC%[]\"!{}(3/8")), max_size=400)))
def test_splitting_and_cleaning_never_crash(text):
    for piece in split_tunes(text):
        assert piece.startswith("X:")
        cleaned = clean_tune(piece)
        assert cleaned is None or (cleaned.startswith("X:1\n") and "\nK:" in cleaned and "\n\n" not in cleaned)


def test_builtin_corpora_come_from_music21():
    assert set(BUILTIN_CORPORA) >= {"oneills", "ryans", "airds", "essen", "folk"}
    for name in BUILTIN_CORPORA:
        assert builtin_paths(name) and all(p.suffix == ".abc" for p in builtin_paths(name))
    assert is_builtin("builtin:oneills") and not is_builtin("oneills.abc")
    assert builtin_paths("builtin:ryans") == builtin_paths("ryans")


def test_unknown_builtin_lists_the_known_ones():
    with pytest.raises(CorpusError, match="builtin:oneills.*builtin:essen"):
        builtin_paths("beatles")


def test_corpus_stats_without_music21_parsing():
    stats = corpus_stats("builtin:folk")
    assert stats.files == 3 and 150 < stats.tunes < 200 and stats.characters > 30_000


def test_real_file_reads_checks_and_caches(private_cache, monkeypatch):
    path = oneills_file()
    first = read_tunes([path])
    # Two transcription errors, as written: "Young Catherine" has a bar of 7/8 in 4/4 (bar 7, after
    # the pick-up), and "Lamentation of Owen Roe O'Neill" is headed 3/4 but every bar is 4/4 (which
    # music21's re-barring hid from the check before bars were read as written).
    assert (first.files, first.skipped_unparsable, first.skipped_irregular, len(first.tunes)) == (1, 0, 2, 8)
    assert all(t.startswith("X:1\nT:") for t in first.tunes)
    assert not any("T:Young Catherine" in t or "T:Lamentation of Owen Roe" in t for t in first.tunes)
    cached = json.loads(private_cache.read_text())["verdicts"]
    assert sorted(cached.values()) == ["irregular"] * 2 + ["ok"] * 8
    monkeypatch.setattr(verdicts, "tune_verdict", lambda tune: pytest.fail("checked again despite the cache"))
    assert read_tunes([path]).tunes == first.tunes


def test_garbage_and_irregular_tunes_are_skipped_and_counted(tmp_path):
    irregular = RAW.replace("X: 17", "X: 5").replace("c2ec B2dB | c2A2", "c2ec B2 | c2A2").replace("GABc", "GABd")
    (tmp_path / "mixed.abc").write_text(RAW + "\n" + GARBAGE + "\nX:4\nT:No key\nabc|\n" + irregular)
    found = read_tunes([tmp_path / "mixed.abc"])
    assert (len(found.tunes), found.skipped_unparsable, found.skipped_incomplete, found.skipped_irregular) == (1, 1, 1, 1)
    unchecked = read_tunes([tmp_path / "mixed.abc"], check=False)
    assert len(unchecked.tunes) == 3 and unchecked.skipped_unparsable == unchecked.skipped_irregular == 0


def test_duplicates_are_dropped_titles_aside(tmp_path):
    sub = tmp_path / "nested" / "deeper"
    sub.mkdir(parents=True)
    (tmp_path / "a.abc").write_text(RAW)
    (sub / "b.abc").write_text(RAW.replace("The Test Reel", "Same Tune Other Name"))
    found = read_tunes([tmp_path], check=False)
    assert found.files == 2 and len(found.tunes) == 1 and found.duplicates == 1


def test_corrupt_cache_is_ignored(private_cache, tmp_path):
    private_cache.parent.mkdir(parents=True)
    private_cache.write_text("{not json")
    (tmp_path / "t.abc").write_text(RAW)
    with pytest.warns(SeqgenWarning, match="tune-check cache .* cannot be read .* checked again"):
        assert len(read_tunes([tmp_path / "t.abc"]).tunes) == 1
    assert json.loads(private_cache.read_text())["verdicts"]  # mended


def test_worker_processes_keep_the_order():
    tunes = [f"X:1\nM:4/4\nL:1/8\nK:C\nCDEF GABc|{'A/0 B' if i % 5 == 0 else 'c2c2 c4'}|dcBA GFED|C8|\n"
             for i in range(verdicts.POOL_MIN_TUNES)]
    expected = ["unparsable" if i % 5 == 0 else "ok" for i in range(len(tunes))]
    assert list(process_map(verdicts.tune_verdict, tunes, workers=2)) == expected


@pytest.mark.parametrize("make, words", [
    (lambda p: p / "missing.abc", "no such file"),
    (lambda p: (p / "empty").mkdir() or p / "empty", "no .abc files"),
    (lambda p: (p / "notunes.abc").write_text("just some words\n") and p / "notunes.abc", "no tunes"),
    (lambda p: (p / "nokey.abc").write_text("X:1\nT:t\nabc|\n") and p / "nokey.abc", "no complete tunes"),
    (lambda p: (p / "bad.abc").write_text(GARBAGE) and p / "bad.abc", "music21 cannot read any"),
])
def test_bad_abc_sources_say_what_to_do(tmp_path, make, words):
    with pytest.raises(CorpusError, match=words):
        read_tunes([make(tmp_path)])


def test_unreadable_file(tmp_path, monkeypatch):
    path = tmp_path / "secret.abc"
    path.write_text(RAW)

    real_open = open

    def denied(file, *args, **kwargs):  # chmod 000 does not stop root, who runs some CI jobs
        if str(file).endswith("secret.abc"):
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr("builtins.open", denied)
    with pytest.raises(CorpusError, match="cannot read .*secret.abc: Permission denied"):
        read_tunes([path])


def test_latin1_files_are_read(tmp_path):
    (tmp_path / "old.abc").write_bytes(RAW.replace("The Test Reel", "Caf\u00e9 Reel").encode("latin-1"))
    assert "T:Caf\u00e9 Reel" in read_tunes([tmp_path / "old.abc"], check=False).tunes[0]


@pytest.mark.parametrize("error", [MemoryError(), KeyError("a bug outside music21"), OSError(5, "I/O error")])
def test_an_unexpected_error_is_raised_never_cached_as_unparsable(private_cache, tmp_path, monkeypatch, error):
    import music21.converter

    def failing(*args, **kwargs):
        raise error

    (tmp_path / "t.abc").write_text(RAW)
    monkeypatch.setattr(music21.converter, "parseData", failing)
    with pytest.raises(type(error)):
        read_tunes([tmp_path / "t.abc"])
    assert not private_cache.exists() or not json.loads(private_cache.read_text())["verdicts"]


def test_music21_failing_inside_its_reader_is_a_verdict(private_cache, tmp_path):
    (tmp_path / "t.abc").write_text(RAW + "\n" + GARBAGE)  # GARBAGE: ZeroDivisionError inside music21
    assert read_tunes([tmp_path / "t.abc"]).skipped_unparsable == 1
    assert sorted(json.loads(private_cache.read_text())["verdicts"].values()) == ["ok", "unparsable"]
