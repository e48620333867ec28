import os

import pytest
import torch

from seqgen.training import checkpoint
from seqgen.errors import CheckpointError


@pytest.mark.parametrize("make", ["zero", "truncated", "random", "text", "damaged"])
def test_broken_files(tmp_path, char_run, make):
    path = tmp_path / "broken.pt"
    good = char_run.best_path.read_bytes()
    content = {"zero": b"", "truncated": good[: len(good) // 2], "random": os.urandom(4096),
               "text": b"hello, not a checkpoint\n", "damaged": good[:2000] + os.urandom(3000) + good[5000:]}[make]
    path.write_bytes(content)
    # Random bytes inside the pickled part can also read as code to run: refused either way.
    with pytest.raises(CheckpointError, match="corrupt or truncated" if make != "damaged" else "corrupt|refused"):
        checkpoint.load(path)


def test_plain_state_dict_is_not_a_seqgen_checkpoint(tmp_path):
    path = tmp_path / "plain.pt"
    torch.save(torch.nn.Linear(2, 2).state_dict(), path)
    with pytest.raises(CheckpointError, match="not a seqgen checkpoint"):
        checkpoint.load(path)


def test_future_format_version(tmp_path, char_run):
    payload = torch.load(char_run.best_path, weights_only=True)
    payload["version"] = checkpoint.FORMAT_VERSION + 1
    path = tmp_path / "future.pt"
    torch.save(payload, path)
    with pytest.raises(CheckpointError, match="newer than this seqgen"):
        checkpoint.load(path)


def test_atomic_save_keeps_old_file_when_writing_fails(tmp_path, monkeypatch, char_run):
    path = tmp_path / "last.pt"
    payload = checkpoint.load(char_run.best_path)
    checkpoint.save({**payload, "n": 1}, path)

    def disk_full(*args, **kwargs):  # some file systems report a full disk only when flushing
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(CheckpointError, match="No space left"):
        checkpoint.save({**payload, "n": 2}, path)
    monkeypatch.undo()
    assert checkpoint.load(path)["n"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]


def test_latest_picks_the_newest_run(tmp_path):
    for i, name in enumerate(["old", "new"]):
        run = tmp_path / name
        run.mkdir()
        checkpoint.save({"model_type": "rnn", "vocab": {}, "data": {}}, run / "best.pt")
        os.utime(run / "best.pt", (1000 + i, 1000 + i))
    assert checkpoint.latest(tmp_path) == tmp_path / "new" / "best.pt"
    with pytest.raises(CheckpointError, match="no checkpoint found"):
        checkpoint.latest(tmp_path / "nothing")


def test_missing_checkpoint(tmp_path):
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        checkpoint.load(tmp_path / "nope.pt")
