"""Checkpoints that are odd in one way: each is refused (or listed) for what it is, naming the file
and never an option the user did not give, and one such file never hides the others."""

import os
import shutil

import pytest
import torch
from fastapi.testclient import TestClient

from seqgen import checkpoint
from seqgen.studio.app import create_app

from .helpers import assert_one_line_error, run


def odd_copy(source, target, **config):
    payload = checkpoint.load(source)
    payload["model_config"] = {**payload["model_config"], **config}
    target.parent.mkdir(parents=True, exist_ok=True)
    torch.save(payload, target)
    return target


@pytest.mark.parametrize("config", [{"cell": "banana"}, {"layers": 0}, {"hidden": -3}])
def test_a_bad_stored_setting_blames_the_checkpoint_not_an_option(char_run, in_tmp, config):
    odd = odd_copy(char_run.best_path, in_tmp / "odd.pt", **config)
    result = run("sample", odd, "--length", "5")
    assert_one_line_error(result, 1, "odd.pt", "model setting")
    assert "--cell" not in result.stderr and "--layers" not in result.stderr and "--hidden" not in result.stderr


def test_one_odd_checkpoint_is_an_error_entry_and_the_rest_are_listed(studio_root, tmp_path, tools):
    root = tmp_path / "checkpoints"
    shutil.copytree(studio_root, root)
    odd_copy(studio_root / "prose-char" / "best.pt", root / "odd" / "best.pt", cell="banana")
    with TestClient(create_app(root), base_url="http://127.0.0.1:8000") as client:
        answer = client.get("/api/checkpoints")
        assert answer.status_code == 200, answer.text
        entries = {c["id"]: c for c in answer.json()["checkpoints"]}
    assert "model setting" in entries["odd/best.pt"]["error"]
    assert entries["prose-char/best.pt"]["kind"] == "text" and entries["folk-music/best.pt"]["kind"] == "music"


# -- --overwrite replaces earlier output files, nothing else --------------------------------------


def _not_regular(kind, path, tmp):
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "link":
        (tmp / "precious.txt").write_text("keep me")
        path.symlink_to(tmp / "precious.txt")
    else:
        path.mkdir()


@pytest.mark.parametrize("kind, word", [("fifo", "a FIFO"), ("link", "a symbolic link"), ("dir", "a folder")])
@pytest.mark.parametrize("overwrite", [[], ["--overwrite"]])
def test_overwrite_never_replaces_what_is_not_a_regular_file(char_run, in_tmp, kind, word, overwrite):
    target = in_tmp / "out.txt"
    _not_regular(kind, target, in_tmp)
    result = run("sample", char_run.best_path, "--length", "5", "--out", target, *overwrite)
    assert_one_line_error(result, 1, word, "never replaces")
    assert (target.is_fifo() if kind == "fifo" else target.is_symlink() if kind == "link" else target.is_dir())
    if kind == "link":
        assert (in_tmp / "precious.txt").read_text() == "keep me"


def test_overwrite_refuses_dev_null(char_run, in_tmp):
    assert_one_line_error(run("sample", char_run.best_path, "--length", "5", "--out", "/dev/null", "--overwrite"),
                          1, "a device", "never replaces")


def test_overwrite_of_a_run_folder_never_replaces_a_link(char_run, in_tmp, prose_file):
    from .helpers import TINY

    (in_tmp / "run").mkdir()
    (in_tmp / "precious.pt").write_bytes(b"keep me")
    (in_tmp / "run" / "best.pt").symlink_to(in_tmp / "precious.pt")
    result = run("train", prose_file, *TINY, "--out", "run", "--overwrite")
    assert_one_line_error(result, 1, "a symbolic link", "never replaces")
    assert (in_tmp / "run" / "best.pt").is_symlink() and (in_tmp / "precious.pt").read_bytes() == b"keep me"
