"""``seqgen eval``'s figures for a loaded model, and evaluation text encoded as training text is."""

from __future__ import annotations

import numpy as np

from .errors import UsageError
from .formats import tokenize_corpus
from .data.arrange import as_read
from .data.tokens import encode_document, known_token_check
from .data.vocab import Vocab


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


def ids_to_score(model, text: str | None, files: list[str] | None, encoding: str) -> np.ndarray:
    """What ``model.score`` scores: ``text``, ``files`` or (neither) the model's held-out text,
    as the model reads them (a backward model from the end)."""
    if files == []:  # not the held-out text, which leaving files out scores
        raise UsageError("files is empty; give files to score, or leave it out for the held-out text")
    if text is not None and files:
        raise UsageError("give text or files to score, not both")
    if text is not None:
        ids = text_ids(model.vocab, text=text)
    elif files:
        ids = text_ids(model.vocab, files, encoding)
    else:
        ids = model.data["val_ids"].numpy()  # kept as read
    return as_read(ids, model.direction)


def evaluation(model, texts: list[str], encoding: str = "utf-8", tunes: int = 0, conditions=None) -> dict:
    """Cross-entropy, perplexity (and bits per char) of ``model`` (a loaded ``api.Model``) on
    ``texts`` or its held-out text; for a music model the figures of ``tunes`` sampled tunes (to
    the order of ``conditions``; none for a backward model, which does not write them)."""
    score = model.score(files=texts or None, encoding=encoding)
    row = {"checkpoint": str(model.path), "model": model.description, "level": model.level,
           **score.as_dict(model.level)}
    if model.kind == "music" and tunes > 0 and model.direction == "forward":  # a backward model writes none
        from .music.tunes import tune_quality

        if conditions:
            conditions.check_model(model.vocab)
        row.update(tune_quality(model.network, model.vocab, model.data, tunes, conditions=conditions))
    return row
