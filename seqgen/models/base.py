"""What a model type is (``registry.py`` holds them by name, for training, checkpoints, scoring,
sampling and the command line).

A model type is one class with the members of ``LanguageModel`` and a name. Adding one is a
module with the class and one line, ``register(MyModel)``; from then on ``seqgen train --model
NAME`` trains it, and its checkpoints load, sample and score like any other.

``trained_by`` says how the type is trained (``strategies.py``). ``"gradient"``: the class is a
``torch.nn.Module`` with ``loss(x, y, state)`` and ``detach_state(state)``, and the training loop
steps it (AdamW, mixed precision, checkpoints, early stopping). ``"counting"``: ``fit(ids,
vocab_size, config)`` builds it from the training tokens in one go (the n-gram baseline). Another
way of training is an object with the members of ``strategies.Strategy``, given as ``trained_by``.
"""

from __future__ import annotations

from typing import Any, ClassVar, Protocol

import numpy as np
import torch

from ..evaluate import Score


class LanguageModel(Protocol):
    """The members every model type has."""

    name: ClassVar[str]  # the checkpoint's model_type and the value of --model
    Config: ClassVar[type]  # a dataclass with validate() and to_dict(); CLI options set its fields
    trained_by: ClassVar[Any]  # "gradient", "counting", or a strategy object (strategies.py)

    @classmethod
    def build(cls, config: Any, vocab_size: int) -> "LanguageModel":
        """A new model (gradient) or None (counting models are made by ``fit``)."""

    @classmethod
    def fit(cls, ids: np.ndarray, vocab_size: int, config: Any) -> "LanguageModel":
        """Counting models: the model of the training tokens ``ids``."""

    @classmethod
    def from_state(cls, config: dict, state: dict, vocab_size: int) -> "LanguageModel":
        """The model saved as ``config`` and ``state``; ValueError, KeyError or TypeError saying
        what does not fit when they are inconsistent."""

    def config_dict(self) -> dict:
        """The configuration to save (plain values)."""

    def state(self) -> dict:
        """The learned values to save: tensors and plain values only."""

    def describe(self) -> str:
        """A short name for tables: "lstm 2x512", "kneser-ney 5-gram"."""

    def score(self, ids: np.ndarray, device: torch.device | str = "cpu", precision: str = "fp32") -> Score:
        """Negative log-likelihood of every token of ``ids`` after the ones before it."""

    def next_scores(self, x: torch.Tensor, state: Any) -> tuple[torch.Tensor, Any]:
        """Read ids ``x`` (B, T) after ``state`` (None: nothing read yet): scores (B, V) whose
        softmax is the next token's distribution, and the new state."""

    def for_sampling(self, precision: str) -> "LanguageModel":
        """The model to sample with (a faster copy, or itself)."""
