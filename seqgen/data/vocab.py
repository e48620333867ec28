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

# Words, numbers with inner punctuation (3.14, don't, well-known), the tokens of pre-tokenised
# corpora such as WikiText (<unk>, @-@, and contractions split off as in "do n't", "it 's"),
# and any other single non-space symbol.
_WORD_RE = re.compile(r"<unk>|<eos>|@[-.,]@|'(?:s|re|ll|ve|d|m)\b|n't\b|\w+(?:[-'.,@]\w+)*|[^\w\s]")
_NO_SPACE_BEFORE = set(".,;:!?%)]}'") | {"n't", "'s", "'re", "'ll", "'ve", "'d", "'m"}
_NO_SPACE_AFTER = set("([{$")


def split_words(text: str, close_last_line: bool = True) -> list[str]:
    """Split text into word tokens, punctuation separate, one ``<eos>`` after every line.

    A last line without a newline is closed too, unless ``close_last_line`` is False (a piece
    of a longer text that goes on).
    """
    if not text:
        return []  # no text, no line to close
    tokens: list[str] = []
    for line in text.split("\n"):
        tokens.extend(_WORD_RE.findall(line))
        tokens.append(EOS)
    if text.endswith("\n") or not close_last_line:
        tokens.pop()  # the final newline closes the last line; it does not open an empty one
    return tokens


PIECE_CHARS = 1 << 22  # 4M characters: big enough for numpy speed, small enough for memory


def text_pieces(text: str, size: int = PIECE_CHARS):
    """Cut ``text`` into pieces of about ``size`` characters that end after a newline.

    A line longer than ``size`` is cut at a space (or anywhere, for one endless word): word
    tokens never straddle two pieces, and the pieces joined give the text back.
    """
    start = 0
    while start < len(text):
        end = min(start + size, len(text))
        if end < len(text):
            cut = text.rfind("\n", start, end) + 1 or text.rfind(" ", start, end) + 1
            end = cut if cut > start else end
        yield text[start:end]
        start = end


def _code_points(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)


def _count_chars(text: str) -> Counter[str]:
    counts: Counter[str] = Counter()
    for piece in text_pieces(text):
        points = np.bincount(_code_points(piece))
        counts.update({chr(c): int(points[c]) for c in np.flatnonzero(points)})
    return counts


def word_pieces(text: str, size: int = PIECE_CHARS):
    """``split_words(text)``, a piece at a time (lists of tokens that joined give all of it)."""
    done = 0
    for piece in text_pieces(text, size):
        done += len(piece)
        yield split_words(piece, close_last_line=done == len(text))


def _count_words(text: str) -> Counter[str]:
    counts: Counter[str] = Counter()
    for words in word_pieces(text):
        counts.update(words)
    return counts


class WordJoiner:
    """Joins word tokens into readable text one at a time: no space before punctuation, a newline
    for ``<eos>``. What a word looks like depends only on the words just before it, so a joiner
    keeps two flags, not the text: streaming a sample costs the same at any length."""

    def __init__(self):
        self.glue = True  # no space before the first word of a line
        self.quote_open = False  # straight quotes alternate: opening hugs the next word, closing the last

    def add(self, word: str) -> str:
        """The text that ``word`` adds."""
        if word == EOS:
            self.glue, self.quote_open = True, False
            return "\n"
        closing = word == '"' and self.quote_open
        space = "" if self.glue or closing or word in _NO_SPACE_BEFORE else " "
        if word == '"':
            self.quote_open = not self.quote_open
        self.glue = word in _NO_SPACE_AFTER or (word == '"' and self.quote_open)
        return space + word


def join_words(words: Iterable[str]) -> str:
    """Join word tokens back into readable text (see ``WordJoiner``)."""
    joiner = WordJoiner()
    return "".join(joiner.add(w) for w in words)


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
            counts.update(_count_chars(text) if level == "char" else _count_words(text))
        for special in SPECIALS:
            counts.pop(special, None)
        if level == "char":
            return cls([*SPECIALS, *sorted(counts)], level)
        # Most frequent first; ties broken alphabetically so the vocabulary is deterministic.
        ranked = sorted((w for w, c in counts.items() if c >= min_count), key=lambda w: (-counts[w], w))
        if max_size:
            ranked = ranked[: max(0, max_size - len(SPECIALS))]
        return cls([*SPECIALS, *ranked], level)

    @property
    def id_dtype(self) -> np.dtype:
        """The smallest integer type that holds every id: token arrays on disk stay small."""
        return np.dtype(np.uint8 if len(self) <= 256 else np.uint16 if len(self) <= 65536 else np.int32)

    # -- encoding -------------------------------------------------------------------------------
    def tokenize(self, text: str) -> list[str]:
        return list(text) if self.level == "char" else split_words(text)

    def encode(self, text: str) -> np.ndarray:
        """Text -> ids (``id_dtype``); unknown symbols become ``<unk>``.

        Long texts are encoded piece by piece so that memory stays a small multiple of the ids.
        """
        if self.level == "char":
            pieces = [self._encode_chars(p) for p in text_pieces(text)]
        else:
            pieces = [self._encode_words(words) for words in word_pieces(text)]
        return np.concatenate(pieces) if pieces else np.zeros(0, dtype=self.id_dtype)

    def encode_piece(self, text: str) -> np.ndarray:
        """``text`` as ids where it is a piece of a line (the text on either side of a gap): at
        word level its last line is not closed with ``<eos>`` unless the text ends it."""
        if self.level == "char":
            return self.encode(text)
        return self._encode_words(split_words(text, close_last_line=False))

    def _encode_words(self, words: list[str]) -> np.ndarray:
        get = self.index.get
        return np.fromiter((get(w, UNK_ID) for w in words), dtype=self.id_dtype, count=len(words))

    def _encode_chars(self, text: str) -> np.ndarray:
        # A code-point lookup table turns text into ids at numpy speed.
        if self._char_table is None:
            table = np.full(0x110000, UNK_ID, dtype=self.id_dtype)
            for i, tok in enumerate(self.tokens):
                if len(tok) == 1:
                    table[ord(tok)] = i
            self._char_table = table
        return self._char_table[_code_points(text)]

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
