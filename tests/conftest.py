"""Shared fixtures: real English prose from the standard library, tiny trained models, stand-ins."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest

from seqgen.training.run import new_run

from .helpers import PROSE, stand_in_tools, tiny_model, tiny_train


@pytest.fixture(scope="session")
def prose() -> str:
    return PROSE


@pytest.fixture(scope="session")
def prose_file(tmp_path_factory) -> Path:
    def write(folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "prose.txt").write_text(PROSE[:120_000], encoding="utf-8")
        return folder / "prose.txt"
    return made_once(tmp_path_factory, "corpus", write)


def made_once(tmp_path_factory, name: str, make):
    """``make(folder)``, made once a session: by the first worker that needs it where pytest-xdist
    runs several (the others wait for it, then read what it returned), else here. For what tests
    only read: the models trained for many tests, and the text they were trained on."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return make(tmp_path_factory.mktemp(name) / name)
    from filelock import FileLock

    shared = tmp_path_factory.getbasetemp().parent / "shared"  # the session's, above each worker's
    shared.mkdir(exist_ok=True)
    result = shared / f"{name}.pickle"
    with FileLock(str(shared / f"{name}.lock")):
        if not result.exists():
            result.write_bytes(pickle.dumps(make(shared / name)))
        return pickle.loads(result.read_bytes())


@pytest.fixture(scope="session")
def char_run(tmp_path_factory, prose_file):
    """A tiny char-level LSTM trained for a few seconds; reused by many tests (read-only)."""
    return made_once(tmp_path_factory, "char", lambda out: new_run(
        [str(prose_file)], tiny_model(), tiny_train(max_steps=60), out_dir=out))


@pytest.fixture(scope="session")
def word_run(tmp_path_factory, prose_file):
    return made_once(tmp_path_factory, "word", lambda out: new_run(
        [str(prose_file)], tiny_model(), tiny_train(level="word", max_steps=30, max_vocab=2000), out_dir=out))


@pytest.fixture
def in_tmp(tmp_path, monkeypatch) -> Path:
    """Run in an empty folder, as a user would in a fresh project."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture(scope="session", autouse=True)
def _private_cache(tmp_path_factory):
    """Token and tune caches go to a folder of the test session, never the user's ~/.cache.

    Set in the environment, so that CLI processes started by tests use it too. The session's
    workers (pytest-xdist) share it, as processes on a user's machine share ~/.cache, so that a
    collection's tunes are checked by music21 once a session, not once a worker.
    """
    old = os.environ.get("XDG_CACHE_HOME")
    if os.environ.get("PYTEST_XDIST_WORKER"):
        folder = tmp_path_factory.getbasetemp().parent / "cache"  # the session's, above each worker's
        folder.mkdir(exist_ok=True)
    else:
        folder = tmp_path_factory.mktemp("cache")
    os.environ["XDG_CACHE_HOME"] = str(folder)
    yield
    if old is None:
        os.environ.pop("XDG_CACHE_HOME", None)
    else:
        os.environ["XDG_CACHE_HOME"] = old


@pytest.fixture(scope="session", autouse=True)
def _one_thread():
    """Torch on one thread, here and in the processes tests start (unless OMP_NUM_THREADS says).

    The tests' models are tiny and step through time one step at a time: a second thread gains
    nothing, and on a busy machine each step waits for a descheduled partner, so that a six-step
    training took 22 s on two threads and 4 s on one (2-core CPU beside other work)."""
    import torch

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    threads = torch.get_num_threads()
    torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def tools(monkeypatch):
    """External programs stood in at the Python boundary; none installed until a test says so."""
    return stand_in_tools(monkeypatch)


@pytest.fixture(scope="session")
def music_run(tmp_path_factory):
    """A small model of folk tunes (music21's own collection): its tunes mostly parse."""
    return made_once(tmp_path_factory, "music", lambda out: new_run(
        ["builtin:folk"], tiny_model(hidden=96), tiny_train(max_steps=150, seq_len=64, eval_every=75), out_dir=out))


@pytest.fixture(scope="session")
def studio_root(tmp_path_factory, char_run, music_run) -> Path:
    """A folder of runs as ``seqgen studio`` serves it: a text model and a music model."""
    import shutil

    root = tmp_path_factory.mktemp("studio") / "checkpoints"
    for name, run in (("prose-char", char_run), ("folk-music", music_run)):
        (root / name).mkdir(parents=True)
        shutil.copy(run.best_path, root / name / "best.pt")
    return root
