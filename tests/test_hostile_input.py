"""Hostile and broken files and bad input, through the real command line: one line on stderr,
the right exit code, no traceback, and nothing damaged or half-written."""

import os
import subprocess
import sys
import time

import pytest
import torch

from seqgen.data.vocab import PIECE_CHARS
from seqgen.training import checkpoint
from .helpers import TINY, assert_one_line_error, run, seqgen_process



class _Payload:
    """Unpickling this creates a file: a stand-in for code hidden in a shared checkpoint."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.mark.parametrize("command", ["sample", "eval"])
def test_pickle_payload_is_refused_and_never_runs(in_tmp, command):
    marker = in_tmp / "pwned"
    torch.save({"format": checkpoint.FORMAT, "version": 1, "model_type": "rnn", "vocab": {}, "data": {},
                "x": _Payload(str(marker))}, in_tmp / "evil.pt")
    assert_one_line_error(run(command, in_tmp / "evil.pt"), 1, "refused", "could run code")
    assert not marker.exists()


@pytest.mark.parametrize("kind, words", [
    ("zero", "corrupt or truncated"), ("truncated", "corrupt or truncated"), ("random", "corrupt or truncated"),
    ("future", "newer than this seqgen"), ("state_dict", "not a seqgen checkpoint"),
])
def test_broken_checkpoints(in_tmp, char_run, kind, words):
    good = char_run.best_path.read_bytes()
    path = in_tmp / f"{kind}.pt"
    if kind == "future":
        payload = torch.load(char_run.best_path, weights_only=True)
        payload["version"] = checkpoint.FORMAT_VERSION + 1
        torch.save(payload, path)
    elif kind == "state_dict":
        torch.save(torch.nn.LSTM(4, 4).state_dict(), path)
    else:
        path.write_bytes({"zero": b"", "truncated": good[: len(good) // 2], "random": os.urandom(8192)}[kind])
    for command in (["sample"], ["eval"], ["train", "--resume"]):
        assert_one_line_error(run(*command, path), 1, words)


@pytest.mark.slow
def test_one_endless_line_trains_at_both_levels(in_tmp):
    corpus = in_tmp / "one-line.txt"
    phrase = "the quick brown fox jumps over the lazy dog, "
    corpus.write_text(phrase * (3 * PIECE_CHARS // len(phrase) + 1))  # 13 MB, no newline: read in 4 pieces
    for level in ("char", "word"):
        result = run("train", corpus, "--level", level, *TINY, "--out", in_tmp / level)
        assert result.exit_code == 0, result.stderr
        assert checkpoint.load(in_tmp / level / "best.pt")["vocab"]["level"] == level


def test_a_prime_far_longer_than_any_training_sequence(in_tmp, prose_file):
    assert run("train", prose_file, *TINY).exit_code == 0
    prime = prose_file.read_text()[:50_000]
    result = run("sample", "--prime", prime, "--length", "20", "--seed", "1")
    assert result.exit_code == 0 and result.stdout.startswith(prime) and len(result.stdout) > len(prime)


def test_output_folder_inside_a_file(in_tmp, prose_file):
    (in_tmp / "file").write_text("x")
    assert_one_line_error(run("train", prose_file, *TINY, "--out", in_tmp / "file"), 2, "is a file")
    assert_one_line_error(run("train", prose_file, *TINY, "--out", in_tmp / "file" / "run"), 1, "cannot create")
    assert (in_tmp / "file").read_text() == "x"


@pytest.mark.slow
def test_second_training_into_the_same_folder_refuses(in_tmp, prose_file):
    out = in_tmp / "run"
    first = subprocess.Popen([sys.executable, "-m", "seqgen", "train", str(prose_file), "--out", str(out),
                              "--hidden", "32", "--layers", "1", "--max-steps", "100000", "--eval-every", "50"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 120
        while not (out / "last.pt").exists():
            assert first.poll() is None and time.time() < deadline, first.communicate()
            time.sleep(0.05)
        second = seqgen_process("train", str(prose_file), "--out", str(out), *TINY, timeout=120)
        assert second.returncode == 1 and "another training" in second.stderr
        assert second.stderr.count("\n") == 1 and "Traceback" not in second.stderr
        assert first.poll() is None  # the first run goes on undisturbed
    finally:
        first.terminate()
        first.wait(timeout=60)
    assert checkpoint.load(out / "last.pt")["progress"]["step"] > 0
