"""Checkpoints that are odd in one way: each is refused (or listed) for what it is, naming the file
and never an option the user did not give, and one such file never hides the others."""

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
