"""Training a model that is made by counting (the Kneser-Ney baseline): one pass over the
training tokens, one score of the held-out ones, one checkpoint with the same vocabulary, split and
data record as the neural models, so their perplexities compare."""

from __future__ import annotations

import time
from pathlib import Path

from . import checkpoint
from ..config import TrainConfig
from .loop import OnEvent, TrainResult
from ..data.tokens import TokenSplit


def count(cls: type, model_cfg, cfg: TrainConfig, split: TokenSplit, record: dict, run_dir: Path,
          emit: OnEvent) -> TrainResult:
    """Fit ``cls`` on the training split, score the held-out split, save ``best.pt``."""
    vocab_size = len(record["vocab"]["tokens"])
    emit("counting", {"model": f"{cls.name} ({', '.join(f'{k} {v}' for k, v in model_cfg.to_dict().items())})"})
    started = time.perf_counter()
    model = cls.fit(split.train, vocab_size, model_cfg)
    seconds = time.perf_counter() - started
    score = model.score(split.val)
    best = checkpoint.save({
        "model_type": cls.name,
        "model_config": model.config_dict(),
        "model_state": model.state(),
        "vocab": record["vocab"],
        "train_config": cfg.to_dict(),
        "progress": {"best_val_loss": score.cross_entropy, "fit_seconds": seconds},
        "data": record["data"],
        "run_id": record["run_id"],
    }, run_dir / "best.pt")
    emit("counted", {"seconds": seconds, "cross_entropy": score.cross_entropy, "perplexity": score.perplexity,
                     "path": str(best), "model": model.describe()})
    return TrainResult(run_dir, best, best, score.cross_entropy, 0, "counted")
