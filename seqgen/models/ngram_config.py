"""The n-gram model's setting, apart from the model (which needs numpy and torch), so that the
command line declares ``--order`` without loading either."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from ..options import Rule, check, option, problems

MAX_ORDER = 7


@dataclass
class NGramConfig:
    """The n-gram model's one setting."""

    order: int = option(5, f"--model ngram: the n-gram order, 1 to {MAX_ORDER}.",
                        check=Rule(lambda v: 1 <= v <= MAX_ORDER, f"must be between 1 and {MAX_ORDER}"))

    def validate(self) -> "NGramConfig":
        check(problems(self))
        return self

    def to_dict(self) -> dict:
        return asdict(self)
