"""Token ids of a corpus: encoded once, cached on disk, memory-mapped, split for training.

    sources --format.read--> documents --Vocab.build / encode--> ids, document starts
                                                                   |
    $XDG_CACHE_HOME/seqgen/tokens/<key>/  ids.npy  starts.npy  meta.json   (np.load, mmap_mode="r")

The format that reads the sources is chosen above this layer (``formats.format_for``) and passed
in. The key hashes the content of every source file with the format's own tag and the settings
that shape the vocabulary, so a second run on the same text reads the cache and not the text, and
a changed file (or a format that now reads it otherwise) is encoded again, whatever its size and
modification time say. ``meta.json`` is written last and records
the size and a hash of the ids, so an entry cut short (no meta.json) or damaged is noticed,
removed and rebuilt. Token arrays use the smallest integer type that fits the vocabulary, and training reads
them through the memory map: memory does not grow with the corpus.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..atomic import atomic_path, write_text
from ..cache import cache_path
from .corpus import CorpusFormat, regular_file
from ..errors import CorpusError, warn
from .vocab import EOS_ID, UNK_ID, Vocab

CACHE_FORMAT = 2  # bump when the layout or the tokenisation changes: old entries are then ignored
CACHE_ENTRIES = 8  # the most recently used entries kept; older ones are deleted
_HASH_BLOCK = 1 << 22


@dataclass
class TokenizedCorpus:
    """Every document's ids back to back (``<eos>`` after each at character level)."""

    vocab: Vocab
    ids: np.ndarray  # (N,) unsigned ints, often a read-only np.memmap
    starts: np.ndarray  # (D + 1,) int64: document d is ids[starts[d]:starts[d + 1]]
    format: CorpusFormat  # the format that read it, which also holds text out for validation
    sources: list[str]
    notes: list[str] = field(default_factory=list)
    from_cache: bool = False
    files: list[tuple[str, str]] = field(default_factory=list)  # each source file and its content hash

    @property
    def kind(self) -> str:
        """The format's name, as the checkpoint stores it: "text" or "abc"."""
        return self.format.name


@dataclass
class TokenSplit:
    """Training and held-out token ids, ready for batching."""

    train: np.ndarray
    val: np.ndarray


def tokenize_with(fmt: CorpusFormat, specs: list[str], level: str, max_vocab: int = 0, min_count: int = 1,
                  encoding: str = "utf-8", vocab: Vocab | None = None,
                  on_progress: Callable[[int, int], None] | None = None) -> TokenizedCorpus:
    """Read ``specs`` with ``fmt`` and encode them (with ``vocab``, or one built from them),
    through the cache. ``formats.tokenize_corpus`` chooses the format."""
    files = source_hashes(fmt, specs)
    key = _cache_key(fmt, specs, files, level, max_vocab, min_count, encoding, vocab)
    cached = _load(key, fmt)
    if cached is not None:
        cached.files = files
        return cached
    corpus = fmt.read(specs, encoding, on_progress)
    vocab = vocab or Vocab.build(corpus.documents, level, max_vocab, min_count)
    parts = [encode_document(vocab, doc) for doc in corpus.documents]
    lengths = [len(p) for p in parts]
    ids = np.concatenate(parts) if parts else np.zeros(0, dtype=vocab.id_dtype)
    del parts
    starts = np.concatenate([[0], np.cumsum(lengths, dtype=np.int64)])
    data = TokenizedCorpus(vocab, ids, starts, fmt, corpus.sources, corpus.notes)
    data = _store(key, data) or data
    data.files = files
    return data


def encode_document(vocab: Vocab, doc: str) -> np.ndarray:
    """One document's ids, as training reads them (at character level ending with <eos>)."""
    ids = vocab.encode(doc).astype(vocab.id_dtype, copy=False)
    if vocab.level == "char":
        ids = np.append(ids, np.array([EOS_ID], dtype=vocab.id_dtype))  # a document or tune ends
    return ids


def known_token_check(ids: np.ndarray, what: str) -> None:
    """Refuse text in which the model knows nothing: its perplexity would mean nothing."""
    known = np.count_nonzero((ids != UNK_ID) & (ids != EOS_ID))
    if known == 0:
        raise CorpusError(f"{what}: none of its tokens are in the model's vocabulary; "
                          "evaluate on text like the training text")


def split_ids(data: TokenizedCorpus, val_fraction: float, seed: int = 0) -> TokenSplit:
    """Hold out ``val_fraction`` of the tokens for validation, as the corpus's format does it
    (plain text: its end; tunes: whole tunes)."""
    return TokenSplit(*data.format.split(data.ids, data.starts, val_fraction, seed))


# --- the cache ------------------------------------------------------------------------------------


def cache_root() -> Path:
    return cache_path("tokens")


def content_hash(path: Path) -> str:
    """A hash of a regular file's bytes (never reads a pipe or a device)."""
    regular_file(path)
    digest = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as fh:
        while block := fh.read(_HASH_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def source_hashes(fmt: CorpusFormat, specs: list[str]) -> list[tuple[str, str]]:
    """Each file that ``fmt`` reads for ``specs``, in reading order, with a hash of its contents."""
    return [(str(p), content_hash(p)) for p in fmt.files(specs)]


def _cache_key(fmt: CorpusFormat, specs: list[str], hashes: list[tuple[str, str]], level: str, max_vocab: int,
               min_count: int, encoding: str, vocab: Vocab | None) -> str | None:
    files = [(str(Path(name).resolve()), digest) for name, digest in hashes]
    if not files:
        return None
    settings = {"format": CACHE_FORMAT, "kind": fmt.name, "reader": fmt.cache_tag(), "files": files, "specs": specs,
                "level": level, "max_vocab": max_vocab, "min_count": min_count, "encoding": encoding.lower(),
                "vocab": hashlib.sha256("\n".join(vocab.tokens).encode()).hexdigest() if vocab else None}
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:32]


def _ids_hash(ids: np.ndarray) -> str:
    return hashlib.blake2b(memoryview(np.ascontiguousarray(ids)).cast("B"), digest_size=16).hexdigest()


def _load(key: str | None, fmt: CorpusFormat) -> TokenizedCorpus | None:
    """The entry for ``key`` (read by ``fmt``), checked; None when there is none, or it was
    damaged (then removed)."""
    if key is None:
        return None
    folder = cache_root() / key
    if not folder.exists():
        return None
    try:
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
        vocab = Vocab.from_dict(meta["vocab"])
        ids = np.load(folder / "ids.npy", mmap_mode="r")
        starts = np.load(folder / "starts.npy")
        problem = _entry_problem(meta, vocab, ids, starts)
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        problem = f"{type(exc).__name__}: {str(exc)[:80]}"
    if problem:
        warn(f"the token cache entry {folder.name} is damaged ({problem}); encoding the text again")
        shutil.rmtree(folder, ignore_errors=True)
        return None
    os.utime(folder)  # recently used: kept when older entries are pruned
    return TokenizedCorpus(vocab, ids, starts, fmt, meta["sources"], meta["notes"], from_cache=True)


def _entry_problem(meta: dict, vocab: Vocab, ids: np.ndarray, starts: np.ndarray) -> str:
    """What is wrong with a cache entry ("" when nothing is)."""
    if ids.ndim != 1 or ids.dtype != vocab.id_dtype or len(ids) != meta["tokens"]:
        return f"{len(ids)} ids of type {ids.dtype}, expected {meta['tokens']} of type {vocab.id_dtype}"
    if starts.ndim != 1 or len(starts) < 2 or starts[0] != 0 or starts[-1] != len(ids) or np.any(np.diff(starts) < 0):
        return "its document boundaries do not fit its ids"
    if _ids_hash(ids) != meta["ids_hash"]:
        return "its ids are not the ones written"
    return ""


def _store(key: str | None, data: TokenizedCorpus) -> TokenizedCorpus | None:
    """Write the entry, each file atomically and ``meta.json`` last (an entry without it is
    incomplete and rebuilt); return it memory-mapped.

    A cache that cannot be written only costs time next run: a warning, and the caller keeps
    its arrays.
    """
    if key is None:
        return None
    root = cache_root()
    folder = root / key
    try:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "meta.json").unlink(missing_ok=True)  # the entry is incomplete until it is back
        for name, array in (("ids.npy", data.ids), ("starts.npy", data.starts)):
            with atomic_path(folder / name) as tmp:
                np.save(tmp, array)
        meta = {"vocab": data.vocab.to_dict(), "kind": data.kind, "sources": data.sources, "notes": data.notes,
                "tokens": int(len(data.ids)), "ids_hash": _ids_hash(data.ids)}
        write_text(folder / "meta.json", json.dumps(meta))
    except OSError as exc:
        warn(f"could not write the token cache under {root} ({exc.strerror or exc}); "
             "the text will be encoded again next time")
        return None
    _prune(root)
    stored = _load(key, data.format)
    if stored is not None:
        stored.from_cache = False  # encoded just now; the arrays are read back memory-mapped
    return stored


def _prune(root: Path) -> None:
    entries = sorted((p for p in root.iterdir() if p.is_dir()),
                     key=lambda p: p.stat().st_mtime, reverse=True)
    for old in entries[CACHE_ENTRIES:]:
        shutil.rmtree(old, ignore_errors=True)
