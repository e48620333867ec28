"""A disk that fills while a run trains: every file the run writes (checkpoints, metrics.jsonl,
loss.png, its lock) ends the command in one line that says what is kept and what to do, exit 1,
with no traceback and no half-written file. The disk fills at the Python boundary, as a nearly
full one does: the last write takes part of its bytes, the next is refused (ENOSPC)."""

import errno
import json
import os

import pytest

from seqgen.training import checkpoint

from .helpers import TINY, run


def assert_ends_in_one_line(result, *words):
    """Exit 1, the last line on stderr (after training's progress) the error, holding ``words``."""
    assert result.exit_code == 1, (result.exit_code, result.stderr)
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and "Traceback" not in result.output + result.stderr, result.stderr
    for word in words:
        assert word in last, (word, last)


def full_after(monkeypatch, name: str, writes: int, partial: bool = True) -> None:
    """``os.write`` to a file called ``name`` succeeds ``writes`` times, then the disk is full: the
    next write takes half its bytes (``partial``) and the one after is refused."""
    real = os.write
    count = {"n": 0}

    def write(fd, data):
        if not os.readlink(f"/proc/self/fd/{fd}").endswith(f"/{name}"):
            return real(fd, data)
        count["n"] += 1
        if count["n"] <= writes:
            return real(fd, data)
        if partial and count["n"] == writes + 1 and len(data) > 1:
            return real(fd, bytes(data[: len(data) // 2]))
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", write)


def plot_full_after(monkeypatch, plots: int) -> None:
    """loss.png is drawn ``plots`` times, then the disk is full halfway through the next drawing."""
    from matplotlib.figure import Figure

    real, count = Figure.savefig, {"n": 0}

    def savefig(self, fname, *args, **kwargs):
        count["n"] += 1
        if count["n"] <= plots:
            return real(self, fname, *args, **kwargs)
        with open(fname, "wb") as fh:
            fh.write(b"\x89PNG half")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Figure, "savefig", savefig)


def left_in(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name != ".lock")


def steps_in(folder) -> list[int]:
    return [json.loads(line)["step"] for line in (folder / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("fills", ["metrics", "plot"])
def test_a_disk_that_fills_after_a_checkpoint_keeps_it_and_says_how_to_go_on(in_tmp, prose_file, monkeypatch, fills):
    with monkeypatch.context() as patched:
        if fills == "metrics":  # the second evaluation's line: last.pt of the first is kept
            full_after(patched, "metrics.jsonl", 1)
        else:  # the second evaluation's curve: its last.pt was saved just before
            plot_full_after(patched, 1)
        result = run("train", prose_file, *TINY, "--out", "run")
    name = "metrics.jsonl" if fills == "metrics" else "loss.png"
    assert_ends_in_one_line(result, f"could not write run/{name}: No space left on device",
                          "run/last.pt is kept; free some disk space, then continue with: "
                          "seqgen train --resume run/last.pt")
    folder = in_tmp / "run"
    assert left_in(folder) == ["best.pt", "last.pt", "loss.png", "metrics.jsonl"]  # no temporary file
    saved = 3 if fills == "metrics" else 6
    assert checkpoint.load(folder / "last.pt")["progress"]["step"] == saved
    assert steps_in(folder) == ([3] if fills == "metrics" else [3, 6])  # whole lines only
    assert (folder / "loss.png").read_bytes().startswith(b"\x89PNG\r\n")  # the first curve, whole
    again = run("train", "--resume", folder / "last.pt", "--max-steps", "9")  # room again: it goes on
    assert again.exit_code == 0, again.stderr
    assert steps_in(folder) == [3, 6, 9]


def test_a_disk_that_fills_before_any_checkpoint_says_nothing_was_saved(in_tmp, prose_file, monkeypatch):
    with monkeypatch.context() as patched:
        full_after(patched, "metrics.jsonl", 0)
        result = run("train", prose_file, *TINY, "--out", "run")
    assert_ends_in_one_line(result, "could not write run/metrics.jsonl: No space left on device",
                          "no checkpoint was saved; free some disk space")
    folder = in_tmp / "run"
    assert left_in(folder) == []  # not even an empty metrics.jsonl, which would read as a run's leftovers
    assert run("train", prose_file, *TINY, "--out", "run").exit_code == 0  # room again: a new run there


def test_a_full_disk_when_the_run_folder_is_locked_is_one_line(in_tmp, prose_file, monkeypatch):
    with monkeypatch.context() as patched:
        full_after(patched, ".lock", 0, partial=False)
        result = run("train", prose_file, *TINY, "--out", "run")
    assert_ends_in_one_line(result, "cannot write run/.lock: No space left on device", "free some disk space")


def test_a_full_disk_when_a_resume_trims_the_metrics_changes_nothing(in_tmp, prose_file, monkeypatch):
    import seqgen.atomic

    import shutil

    assert run("train", prose_file, *TINY, "--max-steps", "3", "--out", "run").exit_code == 0
    folder = in_tmp / "run"
    shutil.copy(folder / "last.pt", folder / "early.pt")
    assert run("train", "--resume", folder / "last.pt", "--max-steps", "6").exit_code == 0
    before = {name: (folder / name).read_bytes() for name in left_in(folder)}

    def disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    with monkeypatch.context() as patched:
        patched.setattr(seqgen.atomic, "write_text", disk_full)
        result = run("train", "--resume", folder / "early.pt", "--max-steps", "9", "--overwrite")
    assert_ends_in_one_line(result, f"could not write {folder}/metrics.jsonl: No space left on device",
                            "nothing was changed")
    assert {name: (folder / name).read_bytes() for name in left_in(folder)} == before
