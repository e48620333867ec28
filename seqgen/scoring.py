"""Score a checkpoint on text: the glue between checkpoints, corpora and evaluate.py."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from . import checkpoint as ckpt
from .evaluate import Score, score_rnn
from .tokens import known_token_check, tokenize_corpus
from .vocab import Vocab


def text_ids(vocab: Vocab, specs: list[str], encoding: str = "utf-8") -> np.ndarray:
    """Encode evaluation text the way training text is encoded (documents end with <eos>)."""
    data = tokenize_corpus(specs, vocab.level, encoding=encoding, vocab=vocab)
    known_token_check(data, ", ".join(specs))
    return data.ids


def score_checkpoint(path: Path, texts: list[str], encoding: str = "utf-8", tunes: int = 0) -> dict:
    """Cross-entropy, perplexity (and bits per char) of one checkpoint on texts or its held-out split."""
    payload = ckpt.load(path)
    model, vocab = ckpt.load_model(payload)
    if texts:
        ids = text_ids(vocab, texts, encoding)
    else:
        ids = payload["data"]["val_ids"].numpy()
    if payload["model_type"] == "ngram":
        score, name = Score(*model.nll(ids)), f"kneser-ney {model.order}-gram"
    else:
        score, name = score_rnn(model, ids), f"{model.config.cell} {model.config.layers}x{model.config.hidden}"
    row = {"checkpoint": str(path), "model": name, "level": vocab.level, **score.as_dict(vocab.level)}
    if payload["data"]["kind"] == "abc" and tunes > 0 and payload["model_type"] == "rnn":
        from .music.tunes import tune_quality

        row.update(tune_quality(model, vocab, payload["data"], tunes))
    return row
