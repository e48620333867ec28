"""Checkpoints that are odd in one way: each is refused (or listed) for what it is, naming the file
and never an option the user did not give, and one such file never hides the others."""

import os
import shutil

import pytest
import torch
from fastapi.testclient import TestClient

from seqgen.training import checkpoint
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


# -- each cause named for what it is --------------------------------------------------------------

COMMANDS = (["sample"], ["eval"], ["train", "--resume"])


def test_a_folder_given_as_a_checkpoint_says_it_is_a_folder(char_run, in_tmp):
    for command in COMMANDS[:1] + COMMANDS[2:]:
        assert_one_line_error(run(*command, char_run.run_dir), 1, "is a folder", str(char_run.best_path))
    (in_tmp / "empty").mkdir()
    assert_one_line_error(run("sample", in_tmp / "empty"), 1, "is a folder", "best.pt or last.pt")
    # eval reads folders of text too: a run folder is named for what it is
    assert_one_line_error(run("eval", char_run.run_dir), 2, "is a run folder", str(char_run.best_path))


@pytest.mark.parametrize("how", ["permissions", "read refused"])
def test_an_unreadable_checkpoint_is_not_called_corrupt(char_run, in_tmp, monkeypatch, how):
    path = in_tmp / "locked.pt"
    shutil.copy(char_run.best_path, path)
    if how == "permissions":
        if os.geteuid() == 0:
            pytest.skip("root reads any file whatever its permissions")
        path.chmod(0)
    else:  # as a file without read permission reads for anyone but root
        real_open = open

        def refusing_open(file, *args, **kwargs):
            if str(file) == str(path):
                raise PermissionError(13, "Permission denied", str(file))
            return real_open(file, *args, **kwargs)

        monkeypatch.setattr(checkpoint, "open", refusing_open, raising=False)
    for command in COMMANDS:
        result = run(*command, path)
        assert_one_line_error(result, 1, "cannot read", "Permission denied")
        assert "corrupt" not in result.stderr


def flip_a_byte_of_the_weights(source, target):
    """A copy of ``source`` with one bit changed inside a tensor's bytes: the archive stays whole,
    only that part's CRC-32 no longer matches."""
    import zipfile

    with zipfile.ZipFile(source) as archive:
        part = max((i for i in archive.infolist() if "/data/" in i.filename), key=lambda i: i.file_size)
    data = bytearray(source.read_bytes())
    start = part.header_offset + 30 + len(part.filename.encode()) + len(part.extra)  # past its local header
    data[start + part.file_size // 2] ^= 0x10
    target.write_bytes(data)
    return target


def test_a_changed_byte_inside_a_checkpoint_is_refused(char_run, in_tmp):
    flipped = flip_a_byte_of_the_weights(char_run.best_path, in_tmp / "flipped.pt")
    torch.load(flipped, weights_only=True)  # torch alone loads it without a word
    for command in COMMANDS:
        assert_one_line_error(run(*command, flipped), 1, "flipped.pt is corrupt", "checksum")


@pytest.mark.parametrize("version", ["missing", None, "2", 0, True])
def test_a_missing_or_odd_format_version_is_not_called_newer(char_run, in_tmp, version):
    payload = checkpoint.load(char_run.best_path)
    if version == "missing":
        del payload["version"]
    else:
        payload["version"] = version
    torch.save(payload, in_tmp / "odd.pt")
    result = run("sample", in_tmp / "odd.pt")
    assert_one_line_error(result, 1, "no valid checkpoint format version", "not written by seqgen")
    assert "newer" not in result.stderr


def test_eval_takes_a_checkpoint_under_any_name_as_sample_does(char_run, in_tmp):
    import json

    shutil.copy(char_run.best_path, in_tmp / "model.ckpt")
    assert run("sample", in_tmp / "model.ckpt", "--length", "5", "--seed", "1").exit_code == 0
    done = run("eval", in_tmp / "model.ckpt", "--json")
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["checkpoint"] == str(in_tmp / "model.ckpt")
    text = in_tmp / "notes.txt"
    text.write_text("Some text of the kind the model read.\n")
    both = json.loads(run("eval", in_tmp / "model.ckpt", text, "--json").stdout)
    assert both["tokens"] == len(text.read_text())  # the text file is still scored as text


@pytest.mark.parametrize("option", [["--meter", "6/8"], ["--key", "G"], ["--prime-abc", "|abc|"], ["--tunes", "5"]])
def test_eval_refuses_tune_options_for_a_text_model_as_sample_does(char_run, in_tmp, option):
    assert_one_line_error(run("eval", char_run.best_path, *option), 2, f"{option[0]} does not apply",
                          "text model")
    assert run("eval", char_run.best_path, "--tunes", "0", "--json").exit_code == 0  # none asked for


# -- odd progress records -------------------------------------------------------------------------

@pytest.mark.parametrize("progress, words", [
    ({}, ["progress record is missing or empty"]),
    (None, ["progress record is missing or empty"]),
    ({"best_val_loss": float("nan")}, ["best_val_loss nan"]),
    ({"step": -4}, ["step -4"]),
    ({"step": 2.5}, ["step 2.5"]),
    ({"lr_scale": 0.0}, ["lr_scale 0"]),
])
def test_a_damaged_progress_record_is_refused_on_resume(char_run, in_tmp, progress, words):
    payload = checkpoint.load(char_run.last_path)
    payload["progress"] = progress if progress in ({}, None) else {**payload["progress"], **progress}
    torch.save(payload, in_tmp / "odd.pt")
    result = run("train", "--resume", in_tmp / "odd.pt", "--max-steps", "200", "--out", in_tmp / "run")
    assert_one_line_error(result, 1, "odd.pt is damaged", *words)
    assert not (in_tmp / "run").exists()
    assert run("sample", in_tmp / "odd.pt", "--length", "5").exit_code == 0  # sampling needs no progress


def test_a_session_that_saves_no_best_does_not_name_one(char_run, in_tmp):
    payload = checkpoint.load(char_run.last_path)
    payload["progress"]["best_val_loss"] = 0.0  # no held-out loss of this session can beat it
    torch.save(payload, in_tmp / "best-ever.pt")
    done = run("train", "--resume", in_tmp / "best-ever.pt", "--max-steps", "70", "--eval-every", "5",
               "--out", in_tmp / "run")
    assert done.exit_code == 0, done.stderr
    assert not (in_tmp / "run" / "best.pt").exists() and (in_tmp / "run" / "last.pt").exists()
    said = " ".join(done.stderr.split())
    assert "no best.pt here (this session did not improve on the run's best)" in said
    assert str(in_tmp / "run" / "best.pt") not in said


SESSION_DAMAGE = {
    "no training configuration": (lambda p: p.pop("train_config"), ["odd.pt is damaged", "no training configuration"]),
    "a stored setting of the wrong type": (lambda p: p["train_config"].__setitem__("seq_len", "128"),
                                           ["odd.pt holds a training setting", "seq-len must be a whole number"]),
    "a stored setting out of range": (lambda p: p["train_config"].__setitem__("batch_size", 0),
                                      ["odd.pt holds a training setting", "batch-size must be at least 1"]),
    "no optimizer state": (lambda p: p.pop("optimizer"), ["odd.pt is damaged", "optimizer state"]),
    "an optimizer of another model": (lambda p: p["optimizer"]["param_groups"][0].__setitem__("params", [0]),
                                      ["optimizer state does not fit its model"]),
    "an optimizer moment of another shape": (lambda p: _reshape_moment(p, "exp_avg"),
                                             ["odd.pt is damaged", "optimizer state does not fit its model",
                                              "exp_avg of parameter 0"]),
    "an optimizer state of another model": (lambda p: p.__setitem__("optimizer", _optimizer_of_a_wider_model(p)),
                                            ["odd.pt is damaged", "optimizer state does not fit its model"]),
    "an optimizer step that is not a number": (lambda p: p["optimizer"]["state"][1].__setitem__("step", torch.ones(3)),
                                               ["odd.pt is damaged", "step of parameter 1 is 3"]),
    "an optimizer entry for no parameter": (lambda p: p["optimizer"]["state"].__setitem__(99, {}),
                                            ["odd.pt is damaged", "an entry 99 for no parameter"]),
    "a recurrent state of another size": (lambda p: p.__setitem__("hidden", tuple(h[:, :, :5] for h in p["hidden"])),
                                          ["odd.pt is damaged", "recurrent state does not fit its model"]),
    "a malformed random state": (lambda p: p["rng"].__setitem__("torch", torch.zeros(3, dtype=torch.uint8)),
                                 ["odd.pt is damaged", "random state"]),
    "a malformed recurrent state": (lambda p: p.__setitem__("hidden", "x"), ["odd.pt is damaged", "recurrent state"]),
}


def _reshape_moment(payload, name):
    moment = payload["optimizer"]["state"][0][name]
    payload["optimizer"]["state"][0][name] = torch.zeros(moment.shape[0] + 1, *moment.shape[1:])


def _optimizer_of_a_wider_model(payload):
    """The optimizer state, after one step, of a model with as many parameters as the run's, each wider."""
    from seqgen.models.rnn import RNNLM
    from seqgen.models.rnn_config import ModelConfig

    config = {**payload["model_config"], "hidden": payload["model_config"]["hidden"] * 2}
    model = RNNLM.build(ModelConfig(**config), len(payload["vocab"]["tokens"]))
    optimizer = torch.optim.AdamW(model.parameters())
    model.loss(torch.zeros(2, 4, dtype=torch.long), torch.zeros(2, 4, dtype=torch.long))[0].backward()
    optimizer.step()
    return optimizer.state_dict()


@pytest.mark.parametrize("damage", list(SESSION_DAMAGE))
def test_a_damaged_training_session_is_refused_on_resume_naming_the_file(char_run, in_tmp, damage):
    change, words = SESSION_DAMAGE[damage]
    payload = checkpoint.load(char_run.last_path)
    change(payload)
    torch.save(payload, in_tmp / "odd.pt")
    result = run("train", "--resume", in_tmp / "odd.pt", "--max-steps", "200", "--out", in_tmp / "run")
    assert_one_line_error(result, 1, *words)
    assert not (in_tmp / "run").exists()  # refused before any work
    for option in ("--seq-len", "--batch-size"):
        assert option not in result.stderr  # a stored setting, not an option the user gave


def test_a_run_saved_with_a_bf16_state_resumes_in_fp32(char_run, in_tmp):
    """auto may pick bf16 for one session and fp32 for the next: the saved state follows."""
    payload = checkpoint.load(char_run.last_path)
    payload["hidden"] = tuple(h.to(torch.bfloat16) for h in payload["hidden"])
    torch.save(payload, in_tmp / "bf16-state.pt")
    done = run("train", "--resume", in_tmp / "bf16-state.pt", "--max-steps", str(char_run.step + 5),
               "--precision", "fp32", "--out", in_tmp / "run")
    assert done.exit_code == 0, done.stderr
