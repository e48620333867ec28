"""The recurrent model's configuration: cell, size, dropout, tying and output layer."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from ..options import INTERNAL, Rule, at_least, check, one_of, option, problems

CELLS = ("lstm", "gru", "rnn")
SOFTMAXES = ("auto", "full", "adaptive")
ADAPTIVE_FROM = 5000  # vocabulary size from which "auto" picks the adaptive softmax


@dataclass
class ModelConfig:
    """Shape of the recurrent language model."""

    vocab_size: int = field(default=0, metadata=INTERNAL)  # set from the vocabulary, not by an option
    cell: str = option("lstm", "Recurrent cell: lstm, gru or rnn.", check=one_of(CELLS))
    layers: int = option(2, "Stacked recurrent layers.", check=at_least(1))
    hidden: int = option(512, "Hidden units per layer.", check=at_least(1))
    embed: int = option(0, "Embedding size (0: same as --hidden).",
                        check=Rule(lambda v: v >= 0, "must be 0 (same as hidden) or positive"))
    dropout: float = option(0.2, "Dropout probability in [0, 1). [default: 0.2 for characters, 0.5 for words]",
                            varies=True, check=Rule(lambda v: 0.0 <= v < 1.0, "must be in [0, 1)"))  # also nan
    tie: bool = option(False, "Share input and output embeddings. [default: --tie for words, --no-tie for "
                       "characters]", varies=True)
    # auto: adaptive from ADAPTIVE_FROM tokens (untied)
    softmax: str = option("auto", "Output layer: full, adaptive (fast for large word vocabularies) or auto (adaptive "
                          "for untied models of 5,000 tokens or more).", check=one_of(SOFTMAXES))

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
        found = problems(self)
        if self.softmax == "adaptive" and self.tie:
            found.append("--tie shares the output matrix with the embeddings: it needs --softmax full")
        check(found)
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
