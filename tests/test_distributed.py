"""Data-parallel training on CPUs (gloo, two processes), through the real command line: the same
losses as one process with the same global batch, resuming with the same or another number of
processes, a rank killed mid-run, signals, and the two ways to start (--nproc and torchrun)."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from seqgen.training import checkpoint

from .conftest import made_once
from .helpers import seqgen_process, start_seqgen

pytestmark = pytest.mark.slow  # every test here trains in two processes

# fp32 and no dropout: what differs between 1 and 2 processes is then only the order of sums. On the
# CPU, by name: on a machine with a GPU "auto" would take it (and refuse two processes on one GPU).
SMALL = ["--hidden", "32", "--layers", "1", "--seq-len", "16", "--dropout", "0", "--precision", "fp32",
         "--eval-every", "10", "--device", "cpu"]
TOLERANCE = 1e-5  # relative, on losses: float sums in another order
# The run the tests below hold others to: two processes, 8 rows each, long enough to be cut mid-run.
STRAIGHT = [*SMALL, "--batch-size", "8", "--max-steps", "100"]


def env() -> dict:
    # one thread a process: two processes on two cores
    return {**os.environ, "OMP_NUM_THREADS": "1"}


def seqgen(*args, cwd: Path) -> subprocess.CompletedProcess:
    return seqgen_process(*args, cwd=cwd, env=env())


def start(*args, cwd: Path) -> subprocess.Popen:
    return start_seqgen(*args, cwd=cwd, env=env())


def curve(run: Path) -> list[tuple[int, float, float]]:
    return [(r["step"], r["train_loss"], r["val_loss"]) for r in
            map(json.loads, (run / "metrics.jsonl").read_text().splitlines())]


def same_curve(a, b) -> None:
    assert [s for s, *_ in a] == [s for s, *_ in b]
    for (_, ta, va), (_, tb, vb) in zip(a, b):
        assert ta == pytest.approx(tb, rel=TOLERANCE) and va == pytest.approx(vb, rel=TOLERANCE)


def wait_for(path: Path, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.time() + timeout
    while not path.exists():
        assert proc.poll() is None, proc.communicate()
        if time.time() > deadline:
            proc.kill()
            pytest.fail("the run never saved a checkpoint")
        time.sleep(0.1)


def ranks_of(launcher: subprocess.Popen) -> dict[int, int]:
    """rank -> pid of the training processes the launcher started."""
    found = {}
    for pid in Path("/proc").iterdir():
        if not pid.name.isdigit():
            continue
        try:
            environ = (pid / "environ").read_bytes().split(b"\0")
            parent = int((pid / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        rank = next((int(e[5:]) for e in environ if e.startswith(b"RANK=")), None)
        if rank is not None and parent == launcher.pid:
            found[rank] = int(pid.name)
    return found


@pytest.fixture(scope="session")
def straight(tmp_path_factory, prose_file) -> tuple[Path, str]:
    """The run folder of ``STRAIGHT`` on ``--nproc 2``, and what it said; made once a session."""
    def make(folder: Path):
        folder.mkdir(parents=True)
        done = seqgen("train", prose_file, *STRAIGHT, "--nproc", "2", "--out", "run", cwd=folder)
        assert done.returncode == 0, done.stderr
        return folder / "run", done.stderr
    return made_once(tmp_path_factory, "straight", make)


def test_two_processes_learn_what_one_does_with_the_same_global_batch(in_tmp, prose_file, straight):
    two, said = straight
    one = seqgen("train", prose_file, *SMALL, "--batch-size", "16", "--max-steps", "100", "--out", "one", cwd=in_tmp)
    assert one.returncode == 0, one.stderr
    same_curve(curve(two), curve(in_tmp / "one"))
    saved = checkpoint.load(two / "last.pt")
    assert saved["world"]["size"] == 2 and saved["world"]["rows"] == [[0, 8], [8, 16]]
    assert saved["hidden"][0].shape[1] == 16  # both ranks' rows
    assert "x 2 processes" in said and said.count("run folder:") == 1  # rank 0 alone speaks


def test_nproc_and_torchrun_make_the_same_run(in_tmp, prose_file, straight):
    ours = straight[0]
    theirs = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
                             "-m", "seqgen", "train", str(prose_file), *STRAIGHT, "--out", "theirs"],
                            capture_output=True, text=True, cwd=in_tmp, env=env(), timeout=180)
    assert theirs.returncode == 0, theirs.stderr
    assert sorted(p.name for p in ours.iterdir()) == sorted(p.name for p in (in_tmp / "theirs").iterdir())
    same_curve(curve(ours), curve(in_tmp / "theirs"))
    a, b = (checkpoint.load(run / "best.pt")["model_state"] for run in (ours, in_tmp / "theirs"))
    assert all(torch.allclose(a[k], b[k], rtol=1e-5, atol=1e-7) for k in a)


def test_interrupted_then_resumed_with_two_and_with_one(in_tmp, prose_file, straight):
    run = start("train", prose_file, *STRAIGHT, "--nproc", "2", "--out", "cut", cwd=in_tmp)
    wait_for(in_tmp / "cut" / "last.pt", run)
    run.send_signal(signal.SIGINT)
    _, err = run.communicate(timeout=120)
    assert run.returncode == 130 and "continue with: seqgen train --resume cut/last.pt --nproc 2" in err, err
    step = checkpoint.load(in_tmp / "cut" / "last.pt")["progress"]["step"]
    assert 0 < step < 100  # both ranks stopped at the same step, and rank 0 saved it
    (in_tmp / "again").mkdir()
    for name in ("last.pt", "metrics.jsonl"):
        (in_tmp / "again" / name).write_bytes((in_tmp / "cut" / name).read_bytes())
    # with two processes: the curve goes on as if it had never stopped
    resumed = seqgen("train", "--resume", "cut/last.pt", "--nproc", "2", cwd=in_tmp)
    assert resumed.returncode == 0, resumed.stderr
    same_curve(curve(in_tmp / "cut"), curve(straight[0]))
    # with one process: it goes on, and says why the curve cannot be the same
    one = seqgen("train", "--resume", "again/last.pt", cwd=in_tmp)
    assert one.returncode == 0, one.stderr
    assert "saved by 2 processes and goes on with 1" in one.stderr and "cannot be exactly" in one.stderr
    assert checkpoint.load(in_tmp / "again" / "last.pt")["progress"]["step"] == 100


def test_a_rank_killed_ends_the_run_with_one_line(in_tmp, prose_file):
    run = start("train", prose_file, *SMALL, "--batch-size", "8", "--max-steps", "100000", "--nproc", "2",
                "--out", "run", cwd=in_tmp)
    wait_for(in_tmp / "run" / "last.pt", run)
    ranks = ranks_of(run)
    assert sorted(ranks) == [0, 1]
    started = time.time()
    os.kill(ranks[1], signal.SIGKILL)
    _, err = run.communicate(timeout=120)
    assert time.time() - started < 60
    assert run.returncode == 1
    assert err.strip().splitlines()[-1] == ("error: rank 1 died (killed by SIGKILL); the others were stopped; last good "
                                            "checkpoint: run/last.pt; continue with: seqgen train --resume run/last.pt "
                                            "--nproc 2")
    assert "Traceback" not in err
    checkpoint.load(in_tmp / "run" / "best.pt")
    step = checkpoint.load(in_tmp / "run" / "last.pt")["progress"]["step"]
    resumed = seqgen("train", "--resume", "run/last.pt", "--max-steps", str(step + 10), "--nproc", "2", cwd=in_tmp)
    assert resumed.returncode == 0, resumed.stderr
    assert checkpoint.load(in_tmp / "run" / "last.pt")["progress"]["step"] == step + 10


def test_errors_are_said_once(in_tmp, prose_file):
    missing = seqgen("train", "missing.txt", *SMALL, "--nproc", "2", cwd=in_tmp)
    assert missing.returncode == 1 and missing.stderr.count("error:") == 1, missing.stderr
    assert "missing.txt: no such file" in missing.stderr and "Traceback" not in missing.stderr
    too_many = seqgen("train", prose_file, "--device", "cpu", "--nproc", str((os.cpu_count() or 1) + 1), cwd=in_tmp)
    assert too_many.returncode == 2 and "CPU core" in too_many.stderr
    ngram = seqgen("train", prose_file, "--model", "ngram", "--nproc", "2", cwd=in_tmp)
    assert ngram.returncode == 2 and "counted in one process" in ngram.stderr
