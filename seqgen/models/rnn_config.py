"""The recurrent model's configuration: cell, size, dropout, tying and output layer."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from ..config import check, check_types

CELLS = ("lstm", "gru", "rnn")
SOFTMAXES = ("auto", "full", "adaptive")
ADAPTIVE_FROM = 5000  # vocabulary size from which "auto" picks the adaptive softmax


@dataclass
class ModelConfig:
    """Shape of the recurrent language model."""

    vocab_size: int = 0
    cell: str = "lstm"
    layers: int = 2
    hidden: int = 512
    embed: int = 0  # 0 means "same as hidden"
    dropout: float = 0.2
    tie: bool = False
    softmax: str = "auto"  # full, adaptive, or auto: adaptive from ADAPTIVE_FROM tokens (untied)

    @classmethod
    def for_level(cls, level: str) -> "ModelConfig":
        """The defaults for character or word models.

        Word models see few tokens per parameter (a 1 MB text is ~200k words for a vocabulary of
        ten thousand or more): they get more dropout and tied embeddings, which overfit less.
        """
        return cls(dropout=0.5, tie=True) if level == "word" else cls()

    @property
    def embed_size(self) -> int:
        return self.embed or self.hidden

    @property
    def adaptive_cutoffs(self) -> list[int]:
        """Cluster boundaries of the adaptive softmax ([] for a full softmax).

        The 2,000 most frequent tokens (ids are sorted by frequency) cover most of running text
        and get the full-size layer; the next clusters get a quarter and a sixteenth of it.
        """
        adaptive = self.softmax == "adaptive" or (self.softmax == "auto" and not self.tie
                                                  and self.vocab_size >= ADAPTIVE_FROM)
        return [c for c in (2000, 10000, 50000) if c < self.vocab_size - 1] if adaptive else []

    def validate(self) -> "ModelConfig":
        check_types(self)
        p = []
        if self.cell not in CELLS:
            p.append(f"--cell must be one of {', '.join(CELLS)} (got {self.cell!r})")
        if self.layers < 1:
            p.append(f"--layers must be at least 1 (got {self.layers})")
        if self.hidden < 1:
            p.append(f"--hidden must be at least 1 (got {self.hidden})")
        if self.embed < 0:
            p.append(f"--embed must be 0 (same as hidden) or positive (got {self.embed})")
        if not (0.0 <= self.dropout < 1.0) or math.isnan(self.dropout):
            p.append(f"--dropout must be in [0, 1) (got {self.dropout})")
        if self.softmax not in SOFTMAXES:
            p.append(f"--softmax must be one of {', '.join(SOFTMAXES)} (got {self.softmax!r})")
        if self.softmax == "adaptive" and self.tie:
            p.append("--tie shares the output matrix with the embeddings: it needs --softmax full")
        check(p)
        return self

    def to_dict(self) -> dict:
        return asdict(self)

    def parameters(self, vocab_size: int) -> int:
        """How many parameters the model has (its output layer counted as a full softmax, which
        is at most a few percent more than an adaptive one)."""
        E, H, V, L = self.embed_size, self.hidden, vocab_size, self.layers
        gates = {"lstm": 4, "gru": 3, "rnn": 1}.get(self.cell, 4)
        rnn = sum(gates * H * ((E if i == 0 else H) + H + 2) for i in range(L))
        head = (0 if self.tie else H * V) + V + (H * E if self.tie and H != E else 0)
        return V * E + rnn + head
