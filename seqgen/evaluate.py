"""Cross-entropy, perplexity and bits per character: the one implementation used everywhere.

Perplexity is exp of the token-weighted mean negative log-likelihood. A text of n tokens yields
n - 1 predictions (the first token has nothing before it), whatever model scores it; each model
type's ``score`` returns the total negative log-likelihood and that count.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass


@dataclass
class Score:
    """How well a model predicts a text."""

    nll: float  # total negative log-likelihood, nats
    tokens: int  # predictions scored

    def __repr__(self) -> str:
        return (f"Score(cross_entropy={self.cross_entropy:.4f} nats/token, perplexity={self.perplexity:.3f}, "
                f"tokens={self.tokens:,})")

    @property
    def cross_entropy(self) -> float:
        return self.nll / self.tokens if self.tokens else float("nan")

    @property
    def perplexity(self) -> float:
        """exp(cross-entropy); infinite where that overflows a float (past ~709.8 nats), never a
        finite number beside an infinite or undefined cross-entropy."""
        try:
            return math.exp(self.cross_entropy)  # exp(nan) is nan
        except OverflowError:
            return math.inf

    @property
    def bits_per_token(self) -> float:
        return self.cross_entropy / math.log(2)

    def as_dict(self, level: str) -> dict:
        out = {"cross_entropy": self.cross_entropy, "perplexity": self.perplexity, "tokens": self.tokens}
        if level == "char":
            out["bits_per_char"] = self.bits_per_token
        return out


def json_safe(value):
    """``value`` as JSON can hold it: every non-finite number (NaN, infinity) as null (JSON has no
    NaN, and a figure that cannot be had is null), and every string as UTF-8 can hold it. A name
    that is not UTF-8 (a file's, a folder's) reaches Python with each byte that is not as a lone
    surrogate (U+DC80 to U+DCFF), which UTF-8 cannot hold: each is written as the four characters
    \\xNN, the byte in hex (any other lone surrogate as \\uNNNN)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, str):
        return _SURROGATE.sub(_escaped, value)
    if isinstance(value, dict):
        return {json_safe(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


_SURROGATE = re.compile("[\ud800-\udfff]")


def _escaped(match: re.Match) -> str:
    code = ord(match.group())
    return f"\\x{code - 0xDC00:02x}" if 0xDC80 <= code <= 0xDCFF else f"\\u{code:04x}"
