"""Score a checkpoint on text: the glue between checkpoints, corpora and evaluate.py."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from . import checkpoint as ckpt
from .errors import UsageError
from .formats import tokenize_corpus
from .tokens import encode_document, known_token_check
from .vocab import Vocab


def text_ids(vocab: Vocab, specs: list[str] | None = None, encoding: str = "utf-8", text: str | None = None) -> np.ndarray:
    """Encode evaluation text (files, or ``text`` itself) the way training text is encoded
    (at character level a document ends with <eos>)."""
    if text is not None:
        if not text:  # its one token, the <eos> that ends it, would read as "no token is known"
            raise UsageError("the text to score is empty; give some text")
        ids, what = encode_document(vocab, text), "the text"
    else:
        ids, what = tokenize_corpus(specs, vocab.level, encoding=encoding, vocab=vocab).ids, ", ".join(specs)
    known_token_check(ids, what)
    return ids


def score_checkpoint(path: Path, texts: list[str], encoding: str = "utf-8", tunes: int = 0, conditions=None,
                     payload: dict | None = None) -> dict:
    """Cross-entropy, perplexity (and bits per char) of one checkpoint on texts or its held-out split;
    for a music model the figures of ``tunes`` sampled tunes (to the order of ``conditions``).
    ``payload``: the checkpoint already loaded."""
    payload = payload if payload is not None else ckpt.load(path)
    model, vocab = ckpt.load_model(payload, source=path)
    ids = text_ids(vocab, texts, encoding) if texts else payload["data"]["val_ids"].numpy()
    score = model.score(ids)
    row = {"checkpoint": str(path), "model": model.describe(), "level": vocab.level, **score.as_dict(vocab.level)}
    if payload["data"]["kind"] == "abc" and tunes > 0:
        from .music.tunes import tune_quality

        if conditions:
            conditions.check_model(vocab)
        row.update(tune_quality(model, vocab, payload["data"], tunes, conditions=conditions))
    return row
