"""A batch of tunes as files: the one writer of ``seqgen sample --tunes``, the studio and
``TuneBatch.write`` (``seqgen.music.tune_files``)."""

import pytest

import seqgen
from seqgen import SeqgenError, SeqgenWarning, UsageError
from seqgen.music.abc import clean_tune
from seqgen.music.tunes import TuneBatch
from seqgen.music.validate import check_tune

from .test_music_export import RAW


def one_tune_batch() -> TuneBatch:
    tune = clean_tune(RAW)
    return TuneBatch(valid=[(tune, check_tune(tune))], attempts=1, first_try_valid=1)


def test_sampled_tunes_are_written_and_read_back(music_run, tmp_path):
    from music21 import converter

    batch = seqgen.load(music_run.best_path).tunes(3, seed=1, max_rounds=1)
    files = batch.write(tmp_path / "tunes", keep_invalid=True)
    tunes = batch.valid + batch.invalid
    stems = [f"{n:03d}{'' if check.valid else '-invalid'}" for n, (_, check) in enumerate(tunes, 1)]
    made = [f"{stem}.{suffix}" for stem, (_, check) in zip(stems, tunes)
            for suffix in (("abc", "mid") if check.score is not None else ("abc",))]
    assert [p.name for p in files] == sorted(made) and all(p.parent == tmp_path / "tunes" for p in files)
    heard = 0
    for stem, (text, check) in zip(stems, tunes):
        assert (tmp_path / "tunes" / f"{stem}.abc").read_text(encoding="utf-8").rstrip("\n") == text.rstrip("\n")
        if check.score is not None:
            played = len(converter.parse(str(tmp_path / "tunes" / f"{stem}.mid")).flatten().notes)
            assert played >= len(check.score.flatten().notes)  # repeats played out
            heard += played
    assert heard > 0


def test_an_earlier_batch_is_refused_then_replaced_and_other_files_are_left(tmp_path):
    folder = tmp_path / "tunes"
    assert [p.name for p in one_tune_batch().write(folder)] == ["001.abc", "001.mid"]
    (folder / "notes.txt").write_text("mine")
    with pytest.raises(SeqgenError, match="already holds tunes of an earlier batch .001.abc"):
        one_tune_batch().write(folder)
    (folder / "002.abc").write_text("of the earlier batch")
    assert [p.name for p in one_tune_batch().write(folder, overwrite=True)] == ["001.abc", "001.mid"]
    assert sorted(p.name for p in folder.iterdir()) == ["001.abc", "001.mid", "notes.txt"]


def test_what_cannot_be_made_is_a_warning(tools, tmp_path):
    with pytest.warns(SeqgenWarning, match="audio needs a General MIDI soundfont"):
        files = one_tune_batch().write(tmp_path, wav=True)
    assert [p.name for p in files] == ["001.abc", "001.mid"]


@pytest.mark.parametrize("arguments, words", [
    ({"folder": 5}, "folder must be a folder path"),
    ({"folder": "t", "wav": "yes"}, "wav must be True or False"),
    ({"folder": "t", "overwrite": 1}, "overwrite must be True or False"),
])
def test_wrong_arguments_are_usage_errors_naming_them(in_tmp, arguments, words):
    with pytest.raises(UsageError, match=words):
        one_tune_batch().write(**arguments)
    assert not (in_tmp / "t").exists()


@pytest.mark.filterwarnings("ignore:only .* passed their check")  # the tiny model's luck is not the point here
def test_a_batch_is_written_as_the_command_line_writes_it_byte_for_byte(music_run, tools, tmp_path):
    from .helpers import run

    done = run("sample", music_run.best_path, "--tunes", "3", "--seed", "4", "--keep-invalid", "--wav",
               "--out", tmp_path / "cli")
    assert done.exit_code == 0, done.output
    batch = seqgen.load(music_run.best_path).tunes(3, seed=4)
    with pytest.warns(SeqgenWarning, match="soundfont"):  # as the command line's note says
        files = batch.write(tmp_path / "api", keep_invalid=True, wav=True)
    cli = sorted((tmp_path / "cli").iterdir())
    assert [p.name for p in files] == [p.name for p in cli] and len(cli) >= 6
    assert all(a.read_bytes() == c.read_bytes() for a, c in zip(files, cli))
    assert "audio needs a General MIDI soundfont" in done.stderr


def test_write_takes_folder_keep_invalid_and_wav_in_that_order_the_rest_by_name(tmp_path):
    import inspect

    shown = inspect.signature(TuneBatch.write).parameters
    assert list(shown)[:4] == ["self", "folder", "keep_invalid", "wav"]
    assert shown["keep_invalid"].default is False and shown["wav"].default is False
    assert all(shown[name].kind is inspect.Parameter.KEYWORD_ONLY for name in ("overwrite", "sheet"))
    assert [p.name for p in one_tune_batch().write(tmp_path / "t", False, False)] == ["001.abc", "001.mid"]
    with pytest.raises(TypeError):
        one_tune_batch().write(tmp_path / "t", False, False, True)  # overwrite only by name


def test_the_same_batch_drawn_again_leaves_the_folder_and_another_is_refused_at_its_first_file(tmp_path):
    from seqgen.music.tune_files import DrawnAgain

    folder = tmp_path / "tunes"
    one_tune_batch().write(folder)
    (folder / "001.mid").unlink()  # a file the folder lacks is added
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    again = DrawnAgain(folder)
    again.write_batch(one_tune_batch())
    assert again.settle() == ["001.mid"]
    again.discard()
    after = {p.name: p.read_bytes() for p in folder.iterdir()}
    assert {k: after[k] for k in before} == before and set(after) == {"001.abc", "001.mid"}
    other = DrawnAgain(folder)
    (tune, check), = one_tune_batch().valid
    with pytest.raises(SeqgenError, match="already holds tunes of an earlier batch .001.abc is not"):
        other.write(tune.replace("T:", "T:Another "), check)
    other.discard()
    fewer = DrawnAgain(folder)
    (folder / "002.abc").write_text(tune)  # the folder holds a tune more than this batch
    fewer.write_batch(one_tune_batch())
    with pytest.raises(SeqgenError, match="002.abc is not this batch's"):
        fewer.settle()
    fewer.discard()
    assert sorted(p.name for p in folder.iterdir()) == ["001.abc", "001.mid", "002.abc"]  # no scratch left
