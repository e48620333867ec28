"""A new model type is one class and one registration line: a bigram table, registered here
only, trains, saves, loads, samples and evaluates through the command line with no other change."""

import json
from dataclasses import asdict, dataclass

import numpy as np
import pytest
import torch

from seqgen.config import check
from seqgen.evaluate import Score
from seqgen.models import model_class, registry, register

from .helpers import assert_one_line_error, run


@dataclass
class BigramConfig:
    smoothing: float = 0.5

    def validate(self) -> "BigramConfig":
        check([] if self.smoothing > 0 else [f"--smoothing must be positive (got {self.smoothing})"])
        return self

    def to_dict(self) -> dict:
        return asdict(self)


class BigramLM:
    """p(next | previous) from counts, add-``smoothing``."""

    name = "bigram"
    Config = BigramConfig
    trained_by = "counting"

    def __init__(self, log_probs: np.ndarray, smoothing: float):
        self.log_probs, self.smoothing = log_probs, smoothing  # (V, V): row = previous token

    @classmethod
    def build(cls, config, vocab_size):
        return None

    @classmethod
    def fit(cls, ids, vocab_size, config):
        counts = np.full((vocab_size, vocab_size), config.smoothing)
        np.add.at(counts, (np.asarray(ids[:-1], dtype=np.int64), np.asarray(ids[1:], dtype=np.int64)), 1)
        return cls(np.log(counts / counts.sum(1, keepdims=True)), config.smoothing)

    @classmethod
    def from_state(cls, config, state, vocab_size):
        table = state["log_probs"].numpy()
        if table.shape != (vocab_size, vocab_size):
            raise ValueError(f"the table is {table.shape}, the vocabulary {vocab_size}")
        return cls(table, config["smoothing"])

    def config_dict(self):
        return {"smoothing": self.smoothing}

    def state(self):
        return {"log_probs": torch.from_numpy(self.log_probs)}

    def describe(self):
        return "bigram table"

    def score(self, ids, device="cpu", precision="fp32"):
        ids = np.asarray(ids, dtype=np.int64)
        return Score(float(-self.log_probs[ids[:-1], ids[1:]].sum()), len(ids) - 1)

    def next_scores(self, x, state):
        return torch.from_numpy(self.log_probs[x[:, -1].numpy()]), None

    def for_sampling(self, precision="auto"):
        return self


@pytest.fixture
def bigram(monkeypatch):
    monkeypatch.setattr(registry, "_TYPES", dict(registry._TYPES))  # registered for this test only
    register(BigramLM)


def test_a_registered_toy_model_goes_through_the_command_line(bigram, in_tmp, prose_file):
    trained = run("train", prose_file, "--model", "bigram", "--out", "bigram")
    assert trained.exit_code == 0, trained.stderr
    assert "held-out cross-entropy" in trained.stderr
    sample = run("sample", "bigram/best.pt", "--length", "80", "--seed", "1", "--prime", "The ")
    assert sample.exit_code == 0 and sample.stdout.startswith("The ") and len(sample.stdout) == 85
    assert run("sample", "bigram/best.pt", "--length", "80", "--seed", "1", "--prime", "The ").stdout == sample.stdout
    scores = json.loads(run("eval", "bigram/best.pt", "--json").stdout)
    assert scores["model"] == "bigram table" and 1.5 < scores["cross_entropy"] < 3.5  # ~2.5 nats/char: bigrams
    assert_one_line_error(run("train", prose_file, "--model", "bigram", "--hidden", "8"), 2,
                          "--hidden does not apply to --model bigram")
    assert_one_line_error(run("train", prose_file, "--model", "trigram"), 2, "--model must be one of rnn, ngram, bigram")


def test_without_registration_its_checkpoints_are_refused(bigram, in_tmp, prose_file):
    assert run("train", prose_file, "--model", "bigram", "--out", "bigram").exit_code == 0
    del registry._TYPES["bigram"]
    assert_one_line_error(run("sample", "bigram/best.pt"), 1, "unknown model type 'bigram'")


def test_the_built_in_types_are_known_by_name_and_settings_before_their_modules_load():
    """The command line builds its options from ``model_config`` without loading a model's module
    (torch); each built-in entry must name the class that module defines, with its Config."""
    assert registry.model_types()[:2] == ["rnn", "ngram"]
    for name, (module, attribute, config) in registry.BUILTIN.items():
        cls = model_class(name)
        assert (cls.__module__, cls.__name__, cls.name, cls.Config) == (module, attribute, name, config)
        assert registry.model_config(name) is config
    from seqgen.models import KneserNeyLM, RNNLM

    assert (RNNLM, KneserNeyLM) == (model_class("rnn"), model_class("ngram"))
