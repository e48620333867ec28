"""Shared fixtures: real English prose from the standard library, tiny trained models, stand-ins."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from seqgen.training import train

from .helpers import PROSE, stand_in_tools, tiny_model, tiny_train


@pytest.fixture(scope="session")
def prose() -> str:
    return PROSE


@pytest.fixture(scope="session")
def prose_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("corpus") / "prose.txt"
    path.write_text(PROSE[:120_000], encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def char_run(tmp_path_factory, prose_file):
    """A tiny char-level LSTM trained for a few seconds; reused by many tests (read-only)."""
    out = tmp_path_factory.mktemp("runs") / "char"
    return train([str(prose_file)], tiny_model(), tiny_train(max_steps=60), out_dir=out)


@pytest.fixture(scope="session")
def word_run(tmp_path_factory, prose_file):
    out = tmp_path_factory.mktemp("runs") / "word"
    return train([str(prose_file)], tiny_model(), tiny_train(level="word", max_steps=30, max_vocab=2000), out_dir=out)


@pytest.fixture
def in_tmp(tmp_path, monkeypatch) -> Path:
    """Run in an empty folder, as a user would in a fresh project."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture(scope="session", autouse=True)
def _private_cache(tmp_path_factory):
    """Token and tune caches go to a folder of the test session, never the user's ~/.cache.

    Set in the environment, so that CLI processes started by tests use it too.
    """
    old = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("cache"))
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
    out = tmp_path_factory.mktemp("runs") / "music"
    return train(["builtin:folk"], tiny_model(hidden=96), tiny_train(max_steps=150, seq_len=64, eval_every=75),
                 out_dir=out)


@pytest.fixture(scope="session")
def studio_root(tmp_path_factory, char_run, music_run) -> Path:
    """A folder of runs as ``seqgen studio`` serves it: a text model and a music model."""
    import shutil

    root = tmp_path_factory.mktemp("studio") / "checkpoints"
    for name, run in (("prose-char", char_run), ("folk-music", music_run)):
        (root / name).mkdir(parents=True)
        shutil.copy(run.best_path, root / name / "best.pt")
    return root
