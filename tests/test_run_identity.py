"""A run folder belongs to one run: every checkpoint and metrics record names its run, a checkpoint
from another run never resumes over a folder's files, and a run resumes only on its own text."""

import hashlib
import json

import pytest
import torch

from seqgen.training import checkpoint
from seqgen.training.runs import run_id

from .helpers import PROSE, TINY, assert_one_line_error, run


def ids_in(folder):
    """The run ids of a folder's checkpoints and metrics records."""
    records = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]
    saved = [checkpoint.load(folder / n) for n in ("best.pt", "last.pt") if (folder / n).exists()]
    return {s.get("run_id") for s in saved} | {r.get("run_id") for r in records}


def files_of(folder) -> dict:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def strip_run_ids(folder) -> None:
    """The folder as seqgen wrote it before run ids and content hashes."""
    for name in ("best.pt", "last.pt"):
        state = torch.load(folder / name, weights_only=True)
        del state["run_id"], state["data"]["files"]
        checkpoint.save(state, folder / name)
    records = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]
    (folder / "metrics.jsonl").write_text("".join(json.dumps({k: v for k, v in r.items() if k != "run_id"}) + "\n"
                                                  for r in records))


@pytest.fixture
def two_runs(in_tmp):
    for name, text in (("a", PROSE[:60_000]), ("b", PROSE[60_000:120_000])):
        (in_tmp / f"{name}.txt").write_text(text, encoding="utf-8")
        assert run("train", f"{name}.txt", *TINY, "--out", name).exit_code == 0
    return in_tmp / "a", in_tmp / "b"


def test_a_run_names_itself_everywhere_and_keeps_its_name_on_resume(two_runs):
    a, b = two_runs
    (mine,) = ids_in(a)
    assert len(mine) == 32 and ids_in(b) != {mine}
    assert run("train", "--resume", a / "last.pt", "--max-steps", "9").exit_code == 0
    assert ids_in(a) == {mine}


def test_a_checkpoint_from_another_run_never_takes_over_a_folder(two_runs):
    a, b = two_runs
    (a / "foreign.pt").write_bytes((b / "last.pt").read_bytes())
    before = files_of(a)
    for extra in ([], ["--overwrite"]):
        assert_one_line_error(run("train", "--resume", a / "foreign.pt", "--max-steps", "9", *extra), 2,
                              "is from another run than the one in", "/a/ (metrics.jsonl)", "pass --out NEW_FOLDER")
    assert files_of(a) == before
    moved = run("train", "--resume", a / "foreign.pt", "--max-steps", "9", "--out", "c")
    assert moved.exit_code == 0, moved.stderr
    assert files_of(a) == before and ids_in(a.parent / "c") == ids_in(b)


def test_checkpoints_from_before_run_ids_are_told_apart_by_what_their_run_keeps(two_runs):
    a, b = two_runs
    strip_run_ids(a)
    strip_run_ids(b)
    (a / "foreign.pt").write_bytes((b / "last.pt").read_bytes())
    assert_one_line_error(run("train", "--resume", a / "foreign.pt", "--max-steps", "9"), 2, "from another run",
                          "(best.pt, last.pt)")
    legacy = run_id(checkpoint.load(a / "best.pt"))
    assert legacy.startswith("legacy-") and legacy == run_id(checkpoint.load(a / "last.pt"))
    assert run("train", "--resume", a / "last.pt", "--max-steps", "9").exit_code == 0  # its own folder: resumed
    resumed = checkpoint.load(a / "last.pt")
    assert resumed["run_id"] == legacy and resumed["data"]["files"][0][0] == str(a.parent / "a.txt")  # named from then on


def test_resume_refuses_a_changed_text_of_the_same_length(two_runs):
    a, _ = two_runs
    text = (a.parent / "a.txt").read_text(encoding="utf-8")
    (a.parent / "a.txt").write_text(text[::-1], encoding="utf-8")  # same characters, same count, other text
    before = files_of(a)
    assert_one_line_error(run("train", "--resume", a / "last.pt", "--max-steps", "9"), 1,
                          f"changed since this run started ({a.parent / 'a.txt'} has other contents)", "put it back")
    assert files_of(a) == before


def test_resume_names_the_files_of_a_folder_that_changed(in_tmp):
    (in_tmp / "texts").mkdir()
    for n, name in enumerate(("a.txt", "c.txt")):
        (in_tmp / "texts" / name).write_text(PROSE[n * 40_000:(n + 1) * 40_000], encoding="utf-8")
    assert run("train", "texts", *TINY, "--out", "run").exit_code == 0
    (in_tmp / "texts" / "b.txt").write_text("more text", encoding="utf-8")  # not the run's: it reads its files
    changed = in_tmp / "texts" / "c.txt"
    changed.write_text(changed.read_text(encoding="utf-8").swapcase(), encoding="utf-8")
    assert_one_line_error(run("train", "--resume", "run/last.pt", "--max-steps", "9"), 1,
                          f"changed since this run started ({changed} has other contents)")


def test_a_folder_holding_two_runs_is_said_so(two_runs):
    a, b = two_runs
    with open(a / "metrics.jsonl", "a") as log:
        log.write((b / "metrics.jsonl").read_text())
    assert_one_line_error(run("train", "--resume", a / "last.pt", "--max-steps", "9"), 2,
                          "/a/ holds files of another run too (metrics.jsonl)", "--out NEW_FOLDER")
