"""Token ids of a corpus: encoded once, cached on disk, memory-mapped, split for training.

    sources --read_corpus--> documents --Vocab.build / encode--> ids, document starts
                                                                   |
    $XDG_CACHE_HOME/seqgen/tokens/<key>/  ids.npy  starts.npy  meta.json   (np.load, mmap_mode="r")

The key hashes each source file's path, size and modification time with the settings that shape
the vocabulary, so a second run on unchanged files reads the cache and not the text, and a
changed file is encoded again. Token arrays use the smallest integer type that fits the
vocabulary, and training reads them through the memory map: memory does not grow with the corpus.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .corpus import read_corpus, source_files
from .errors import CorpusError
from .vocab import EOS_ID, UNK_ID, Vocab

CACHE_FORMAT = 1  # bump when the layout or the tokenisation changes: old entries are then ignored
CACHE_ENTRIES = 8  # the most recently used entries kept; older ones are deleted


@dataclass
class TokenizedCorpus:
    """Every document's ids back to back (``<eos>`` after each at character level)."""

    vocab: Vocab
    ids: np.ndarray  # (N,) unsigned ints, often a read-only np.memmap
    starts: np.ndarray  # (D + 1,) int64: document d is ids[starts[d]:starts[d + 1]]
    kind: str  # "text" or "abc"
    sources: list[str]
    notes: list[str] = field(default_factory=list)
    from_cache: bool = False


@dataclass
class TokenSplit:
    """Training and held-out token ids, ready for batching."""

    train: np.ndarray
    val: np.ndarray


def tokenize_corpus(specs: list[str], level: str, max_vocab: int = 0, min_count: int = 1,
                    encoding: str = "utf-8", vocab: Vocab | None = None,
                    on_progress: Callable[[int, int], None] | None = None) -> TokenizedCorpus:
    """Read and encode ``specs`` (with ``vocab``, or one built from them), through the cache."""
    key = _cache_key(specs, level, max_vocab, min_count, encoding, vocab)
    cached = _load(key)
    if cached is not None:
        return cached
    corpus = read_corpus(specs, encoding, on_progress)
    vocab = vocab or Vocab.build(corpus.documents, level, max_vocab, min_count)
    parts, lengths = [], []
    for doc in corpus.documents:
        ids = vocab.encode(doc).astype(vocab.id_dtype, copy=False)
        if vocab.level == "char":
            ids = np.append(ids, np.array([EOS_ID], dtype=vocab.id_dtype))  # a document or tune ends
        parts.append(ids)
        lengths.append(len(ids))
    ids = np.concatenate(parts) if parts else np.zeros(0, dtype=vocab.id_dtype)
    del parts
    starts = np.concatenate([[0], np.cumsum(lengths, dtype=np.int64)])
    data = TokenizedCorpus(vocab, ids, starts, corpus.kind, corpus.sources, corpus.notes)
    return _store(key, data) or data


def known_token_check(data: TokenizedCorpus, what: str) -> None:
    """Refuse text in which the model knows nothing: its perplexity would mean nothing."""
    known = np.count_nonzero((data.ids != UNK_ID) & (data.ids != EOS_ID))
    if known == 0:
        raise CorpusError(f"{what}: none of its tokens are in the model's vocabulary; "
                          "evaluate on text like the training text")


def held_out_documents(count: int, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices of training and held-out documents: whole tunes, chosen by a seeded shuffle."""
    if count < 2:
        raise CorpusError("an ABC corpus needs at least two tunes (one is held out for validation)")
    order = np.random.default_rng(seed).permutation(count)
    n_val = max(1, round(count * val_fraction))
    return order[:-n_val], order[-n_val:]


def split_ids(data: TokenizedCorpus, val_fraction: float, seed: int = 0) -> TokenSplit:
    """Hold out ``val_fraction`` of the tokens for validation.

    Text: the last part of the token stream (the usual convention, e.g. nanoGPT's 90/10 split),
    as views of the (memory-mapped) array. ABC: whole tunes (``held_out_documents``), none cut
    in half.
    """
    if data.kind == "abc":
        train, val = held_out_documents(len(data.starts) - 1, val_fraction, seed)
        return TokenSplit(_gather(data, train), _gather(data, val))
    n_val = int(len(data.ids) * val_fraction)
    return TokenSplit(data.ids[: len(data.ids) - n_val], data.ids[len(data.ids) - n_val:])


def _gather(data: TokenizedCorpus, docs: np.ndarray) -> np.ndarray:
    return np.concatenate([data.ids[data.starts[d]:data.starts[d + 1]] for d in docs])


# --- the cache ------------------------------------------------------------------------------------


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "seqgen" / "tokens"


def _cache_key(specs: list[str], level: str, max_vocab: int, min_count: int, encoding: str,
               vocab: Vocab | None) -> str | None:
    try:
        files = [(str(p.resolve()), p.stat().st_size, p.stat().st_mtime_ns) for p in source_files(specs)]
    except (OSError, CorpusError):
        return None  # read_corpus will say what is wrong with the sources
    if not files:
        return None
    settings = {"format": CACHE_FORMAT, "files": files, "specs": specs, "level": level, "max_vocab": max_vocab,
                "min_count": min_count, "encoding": encoding.lower(),
                "vocab": hashlib.sha256("\n".join(vocab.tokens).encode()).hexdigest() if vocab else None}
    if any(s.startswith("builtin:") or s.lower().endswith(".abc") for s in specs) or \
            any(f[0].lower().endswith(".abc") for f in files):
        from .music.verdicts import parse_cache_tag  # which tunes parse depends on music21's version

        settings["abc"] = parse_cache_tag()
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:32]


def _load(key: str | None) -> TokenizedCorpus | None:
    if key is None:
        return None
    folder = cache_root() / key
    try:
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
        ids = np.load(folder / "ids.npy", mmap_mode="r")
        starts = np.load(folder / "starts.npy")
        os.utime(folder)  # recently used: kept when older entries are pruned
        return TokenizedCorpus(Vocab.from_dict(meta["vocab"]), ids, starts, meta["kind"], meta["sources"],
                               meta["notes"], from_cache=True)
    except (OSError, ValueError, KeyError, TypeError):
        return None  # missing or damaged: encode again


def _store(key: str | None, data: TokenizedCorpus) -> TokenizedCorpus | None:
    """Write the entry atomically (a temporary folder, renamed); return it memory-mapped.

    A cache that cannot be written only costs time next run: None, and the caller keeps its arrays.
    """
    if key is None:
        return None
    root, tmp = cache_root(), None
    try:
        root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=root, prefix=".tmp-"))
        np.save(tmp / "ids.npy", data.ids)
        np.save(tmp / "starts.npy", data.starts)
        meta = {"vocab": data.vocab.to_dict(), "kind": data.kind, "sources": data.sources, "notes": data.notes}
        (tmp / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
        os.replace(tmp, root / key)
        tmp = None
    except OSError:
        return None
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    _prune(root)
    stored = _load(key)
    if stored is not None:
        stored.from_cache = False  # encoded just now; the arrays are read back memory-mapped
    return stored


def _prune(root: Path) -> None:
    entries = sorted((p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")),
                     key=lambda p: p.stat().st_mtime, reverse=True)
    for old in entries[CACHE_ENTRIES:]:
        shutil.rmtree(old, ignore_errors=True)
