"""Fit the Kneser-Ney baseline on the same tokens, split and vocabulary as the neural models."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch

from . import checkpoint, runs
from .config import TrainConfig
from .evaluate import Score
from .ngram import KneserNeyLM
from .train import TrainResult, data_record
from .tokens import split_ids, tokenize_corpus


def train_ngram(specs: list[str], cfg: TrainConfig, order: int, out_dir: Path | None = None,
                encoding: str = "utf-8") -> tuple[TrainResult, Score, float]:
    """Count n-grams of the training split, score the held-out split, save one checkpoint."""
    cfg.validate()
    corpus = tokenize_corpus(specs, cfg.level, cfg.max_vocab, cfg.min_count, encoding)
    vocab = corpus.vocab
    split = split_ids(corpus, cfg.val_fraction, cfg.seed)
    started = time.perf_counter()
    model = KneserNeyLM.fit(split.train, len(vocab), order)
    seconds = time.perf_counter() - started
    score = Score(*model.nll(split.val))
    run_dir = runs.make_dir(out_dir or runs.new_run_dir(specs, cfg.level, f"ngram{order}"))
    payload = {
        "model_type": "ngram",
        "ngram": {k: torch.from_numpy(v) if isinstance(v, np.ndarray) else v for k, v in model.state_dict().items()},
        "vocab": vocab.to_dict(),
        "train_config": cfg.to_dict(),
        "progress": {"best_val_loss": score.cross_entropy, "fit_seconds": seconds},
        "data": data_record(corpus, split, encoding, cfg),
    }
    with runs.RunLock(run_dir):
        best = checkpoint.save(payload, run_dir / "best.pt")
    result = TrainResult(run_dir, best, best, score.cross_entropy, 0, "counted")
    return result, score, seconds


def load_ngram(payload: dict) -> KneserNeyLM:
    state = {k: v.numpy() if isinstance(v, torch.Tensor) else v for k, v in payload["ngram"].items()}
    return KneserNeyLM.from_state_dict(state)
