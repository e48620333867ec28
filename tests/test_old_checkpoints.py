"""Checkpoints written by an earlier seqgen (format 2, before the modules moved into folders) load,
score, sample and resume as they did then. A checkpoint holds only tensors and plain values, no
classes, so moving a module must not break one; these files prove it for each kind of model.

The files in tests/data/checkpoints_v2 were made by seqgen 0.2.0 from the first 20,000 characters of
``FIXED_PROSE`` (the Python documentation's text as Python 3.11.7 has it; another Python's differs)
and O'Neill's tunes, tiny on purpose:
    seqgen train prose.txt --hidden 16 --layers 1 --seq-len 16 --batch-size 8 --max-steps 20 \\
        --eval-every 10 --precision fp32 [--level word --cell gru --softmax adaptive --no-tie --max-vocab 500]
    seqgen train prose.txt --model ngram --order 3
    seqgen train builtin:oneills --hidden 16 --layers 1 --seq-len 32 --batch-size 8 --max-steps 10 ...
and expected.json holds what that seqgen gave for the text and the seeded samples below."""

import json
from pathlib import Path

import pytest
import torch

import seqgen
from seqgen.training import checkpoint

from .helpers import FIXED_PROSE, run

DATA = Path(__file__).parent / "data" / "checkpoints_v2"
EXPECTED = json.loads((DATA / "expected.json").read_text(encoding="utf-8"))
TEXT = ("It was the best of times, it was the worst of times; a model written before the modules "
        "moved must read the same text with the same loss.\n")
TUNE = "X:1\nT:Check\nM:6/8\nL:1/8\nK:D\n|:A|dfa afd|gbg faf|edc dcB|A3 A2:|\n"


@pytest.mark.parametrize("name", ["char", "word", "ngram", "tunes"])
def test_an_old_checkpoint_scores_and_samples_as_it_did(name):
    model = seqgen.load(DATA / f"{name}.pt")
    expected = EXPECTED[name]
    assert model.score(text=TUNE if name == "tunes" else TEXT).cross_entropy == pytest.approx(expected["loss"], rel=1e-4)
    # The samples were drawn with int8 weights, that seqgen's default for every recurrent model
    # on the CPU (the default now keeps so small a model as it is: faster there).
    assert model.generate(prime="X:1\n" if name == "tunes" else "", length=60, seed=1,
                          precision="int8") == expected["sample"]


def test_an_old_run_resumes(in_tmp):
    # The run read its text again from the absolute path it recorded, on the machine that made it.
    # Here that text (the first 20,000 characters of FIXED_PROSE, the same bytes: the run checks
    # their hash) is written to this test's folder, and the copy's record of where it lies is moved
    # there; nothing else in the file changes (torch's own reader and writer, not seqgen's).
    text = in_tmp / "prose.txt"
    text.write_text(FIXED_PROSE[:20_000], encoding="utf-8")
    payload = torch.load(DATA / "char.pt", map_location="cpu", weights_only=True)
    (recorded,) = payload["data"]["sources"]
    payload["data"]["sources"] = [str(text)]
    payload["data"]["files"] = [[str(text), digest] for name, digest in payload["data"]["files"] if name == recorded]
    torch.save(payload, in_tmp / "last.pt")
    step = checkpoint.load(in_tmp / "last.pt")["progress"]["step"]
    result = run("train", "--resume", "last.pt", "--max-steps", str(step + 5))
    assert result.exit_code == 0, result.output
    assert checkpoint.load(in_tmp / "last.pt")["progress"]["step"] == step + 5


def test_an_old_music_model_draws_tunes_from_the_command_line(in_tmp):
    result = run("sample", str(DATA / "tunes.pt"), "--tunes", "2", "--seed", "1", "--out", "tunes")
    assert "Traceback" not in result.output + result.stderr
    assert result.exit_code in (0, 1), result.output  # a model of ten steps may draw no valid tune
