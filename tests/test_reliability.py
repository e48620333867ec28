"""Interruptions and faults lose nothing: signals, kill -9 mid-save, a full disk, non-finite losses."""

import random
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from seqgen.training import checkpoint
from seqgen.errors import SeqgenError
from seqgen.models.rnn import RNNLM
from seqgen.training.run import new_run, resume_run
from .helpers import tiny_model, tiny_train, seqgen_process

# Small enough to save many checkpoints a second, so signals land during saves too.
ENDLESS = ["--hidden", "48", "--layers", "1", "--seq-len", "16", "--batch-size", "8", "--max-steps", "1000000",
           "--eval-every", "2", "--patience", "0"]


def start_training(corpus: Path, out: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "seqgen", "train", str(corpus), "--out", str(out), *ENDLESS, *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for(path: Path, proc: subprocess.Popen, timeout: float = 120) -> None:
    """Wait until the process has written ``path`` (anew, if it existed already)."""
    deadline = time.time() + timeout
    seen = path.stat().st_mtime_ns if path.exists() else None
    while not path.exists() or path.stat().st_mtime_ns == seen:
        assert proc.poll() is None, proc.communicate()
        assert time.time() < deadline, "training never saved a checkpoint"
        time.sleep(0.05)


@pytest.mark.slow
@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_saves_and_says_how_to_resume(tmp_path, prose_file, signum, code):
    run = tmp_path / "run"
    proc = start_training(prose_file, run)
    wait_for(run / "last.pt", proc)
    proc.send_signal(signum)
    if signum == signal.SIGINT:
        time.sleep(0.01)
        proc.send_signal(signum)  # an impatient second Ctrl-C must not break the save
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    assert "--resume" in err and "Traceback" not in err
    step = checkpoint.load(run / "last.pt")["progress"]["step"]
    assert step > 0
    resumed = seqgen_process("train", "--resume", str(run / "last.pt"), "--max-steps", str(step + 4), timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    assert checkpoint.load(run / "last.pt")["progress"]["step"] == step + 4


@pytest.mark.slow
def test_kill_9_at_random_moments_never_breaks_checkpoints(tmp_path, prose_file):
    rng = random.Random(1234)
    run = tmp_path / "run"
    steps = []
    for trial in range(6):
        args = ["--resume", str(run / "last.pt")] if trial else []
        proc = subprocess.Popen([sys.executable, "-m", "seqgen", "train", *([] if trial else [str(prose_file)]),
                                 "--out", str(run), *ENDLESS, *args], stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True)
        wait_for(run / "last.pt", proc)
        time.sleep(rng.uniform(0.5, 2.5))  # somewhere in training or in the middle of a save
        proc.kill()
        proc.wait()
        for name in ("best.pt", "last.pt"):
            checkpoint.load(run / name)  # raises if a kill left a broken file
        steps.append(checkpoint.load(run / "last.pt")["progress"]["step"])
    assert steps == sorted(steps) and steps[-1] > steps[0]  # each resume carried on from the last save


def _file_size_limit(limit: int):
    """Run in the child before exec: files cannot grow beyond ``limit`` bytes, as on a full disk
    (writes fail with an error instead of the default of killing the process)."""
    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply


@pytest.mark.slow
def test_disk_full_while_saving_keeps_the_old_checkpoints(tmp_path, prose_file):
    run = tmp_path / "run"
    tiny = ["--hidden", "48", "--layers", "1", "--seq-len", "16", "--batch-size", "8", "--eval-every", "2"]
    first = seqgen_process("train", str(prose_file), "--out", str(run), *tiny, "--max-steps", "4", timeout=120)
    assert first.returncode == 0, first.stderr
    before = {name: (run / name).read_bytes() for name in ("best.pt", "last.pt")}
    full = seqgen_process("train", "--resume", str(run / "last.pt"), "--max-steps", "8", timeout=120,
                           preexec_fn=_file_size_limit(len(before["last.pt"]) // 2))
    assert full.returncode == 1
    last_line = full.stderr.strip().splitlines()[-1]
    assert "could not save checkpoint" in last_line and "disk space" in last_line and "Traceback" not in full.stderr
    assert {name: (run / name).read_bytes() for name in before} == before
    assert sorted(p.name for p in run.glob("*.pt*")) == ["best.pt", "last.pt"]  # no half-written leftovers
    checkpoint.load(run / "last.pt")


def test_non_finite_loss_is_skipped_then_stops_without_saving_nan(prose_file, tmp_path, monkeypatch):
    events = []
    run = tmp_path / "nan"
    good = new_run([str(prose_file)], tiny_model(), tiny_train(max_steps=20, eval_every=10), out_dir=run)
    before = checkpoint.load(good.best_path)["model_state"]
    real_loss = RNNLM.loss

    def poisoned(self, x, y, hidden=None, reduction="mean"):
        loss, hidden = real_loss(self, x, y, hidden, reduction)
        return loss * float("nan") if self.training else loss, hidden

    monkeypatch.setattr(RNNLM, "loss", poisoned)
    with pytest.raises(SeqgenError, match="diverged"):
        resume_run(good.last_path, {"max_steps": 40}, on_event=lambda kind, info: events.append((kind, info)))
    warnings = [info["message"] for kind, info in events if kind == "warning"]
    assert len(warnings) == 5 and "halved the learning rate" in warnings[0]
    after = checkpoint.load(good.best_path)["model_state"]
    assert all(torch.equal(before[k], after[k]) for k in before)  # the good model was not overwritten


def test_unwritable_output_folder(prose_file, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    from seqgen.errors import UsageError

    with pytest.raises(UsageError, match="is a file"):
        new_run([str(prose_file)], tiny_model(), tiny_train(), out_dir=blocker)
    with pytest.raises(SeqgenError, match="cannot create run folder"):
        new_run([str(prose_file)], tiny_model(), tiny_train(), out_dir=blocker / "inside")
