"""Character and word vocabularies: build, encode to numpy id arrays, decode back to text.

Id 0 is always ``<unk>`` (a symbol the model never saw) and id 1 ``<eos>`` (end of a line at word
level, end of a document or tune at character level), so every vocabulary treats them alike.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

import numpy as np

UNK, EOS = "<unk>", "<eos>"
SPECIALS = (UNK, EOS)
UNK_ID, EOS_ID = 0, 1

# Words, numbers with inner punctuation (3.14, don't, well-known), the special tokens already
# present in pre-tokenised corpora such as WikiText, and any other single non-space symbol.
_WORD_RE = re.compile(r"<unk>|<eos>|\w+(?:[-'.,@]\w+)*|[^\w\s]")
_NO_SPACE_BEFORE = set(".,;:!?%)]}'") | {"n't", "'s", "'re", "'ll", "'ve", "'d", "'m"}
_NO_SPACE_AFTER = set("([{$")


def split_words(text: str) -> list[str]:
    """Split text into word tokens, punctuation separate, one ``<eos>`` after every line."""
    tokens: list[str] = []
    for line in text.split("\n"):
        tokens.extend(_WORD_RE.findall(line))
        tokens.append(EOS)
    if text.endswith("\n"):
        tokens.pop()  # the final newline closes the last line; it does not open an empty one
    return tokens


def join_words(words: Iterable[str]) -> str:
    """Join word tokens back into readable text: no space before punctuation, newline for <eos>."""
    out: list[str] = []
    glue = True  # no space before the first word of a line
    quote_open = False  # straight quotes alternate: opening hugs the next word, closing the last
    for word in words:
        if word == EOS:
            out.append("\n")
            glue, quote_open = True, False
            continue
        closing = word == '"' and quote_open
        if not glue and not closing and word not in _NO_SPACE_BEFORE:
            out.append(" ")
        out.append(word)
        if word == '"':
            quote_open = not quote_open
        glue = word in _NO_SPACE_AFTER or (word == '"' and quote_open)
    return "".join(out)


class Vocab:
    """A fixed list of tokens; ``level`` says whether they are characters or words."""

    def __init__(self, tokens: list[str], level: str):
        self.tokens = list(tokens)
        self.level = level
        self.index = {t: i for i, t in enumerate(self.tokens)}
        self._char_table: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.tokens)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocab) and (self.tokens, self.level) == (other.tokens, other.level)

    # -- building -------------------------------------------------------------------------------
    @classmethod
    def build(cls, texts: Iterable[str], level: str, max_size: int = 0, min_count: int = 1) -> "Vocab":
        """Collect the vocabulary of ``texts``; at word level keep frequent words only."""
        counts: Counter[str] = Counter()
        for text in texts:
            counts.update(text if level == "char" else split_words(text))
        for special in SPECIALS:
            counts.pop(special, None)
        if level == "char":
            return cls([*SPECIALS, *sorted(counts)], level)
        # Most frequent first; ties broken alphabetically so the vocabulary is deterministic.
        ranked = sorted((w for w, c in counts.items() if c >= min_count), key=lambda w: (-counts[w], w))
        if max_size:
            ranked = ranked[: max(0, max_size - len(SPECIALS))]
        return cls([*SPECIALS, *ranked], level)

    # -- encoding -------------------------------------------------------------------------------
    def tokenize(self, text: str) -> list[str]:
        return list(text) if self.level == "char" else split_words(text)

    def encode(self, text: str) -> np.ndarray:
        """Text -> int32 ids; unknown symbols become ``<unk>``."""
        if self.level == "char":
            return self._encode_chars(text)
        get = self.index.get
        return np.fromiter((get(w, UNK_ID) for w in split_words(text)), dtype=np.int32)

    def _encode_chars(self, text: str) -> np.ndarray:
        # A code-point lookup table turns a 100 MB text into ids at numpy speed.
        if self._char_table is None:
            table = np.full(0x110000, UNK_ID, dtype=np.int32)
            for i, tok in enumerate(self.tokens):
                if len(tok) == 1:
                    table[ord(tok)] = i
            self._char_table = table
        points = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
        return self._char_table[points]

    def unknown_symbols(self, text: str) -> list[str]:
        """The distinct symbols of ``text`` that this vocabulary does not know."""
        return sorted({t for t in self.tokenize(text) if t not in self.index})

    # -- decoding -------------------------------------------------------------------------------
    def decode(self, ids: Iterable[int]) -> str:
        tokens = [self.tokens[int(i)] for i in ids]
        if self.level == "char":
            return "".join("\n" if t == EOS else t for t in tokens)
        return join_words(tokens)

    # -- storage --------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {"level": self.level, "tokens": self.tokens}

    @classmethod
    def from_dict(cls, data: dict) -> "Vocab":
        return cls(list(data["tokens"]), data["level"])
