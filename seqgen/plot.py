"""The loss curve of a run, ``loss.png``: drawn again after each evaluation, from metrics.jsonl.

It listens to training's events (``LossCurve`` is an ``on_event`` callback), so the training
loop knows nothing about plotting.
"""

from __future__ import annotations

import os
from pathlib import Path

from .atomic import atomic_path
from .runs import read_metrics


def plot_loss_curve(run_dir: Path) -> Path | None:
    """Draw train and validation loss against steps into loss.png."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    records = read_metrics(run_dir)
    if not records:
        return None
    steps = [r["step"] for r in records]
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(steps, [r.get("train_loss") for r in records], label="train")
    ax.plot(steps, [r["val_loss"] for r in records], label="validation", marker="o", markersize=3)
    ax.set_xlabel("step")
    ax.set_ylabel("loss (nats/token)")
    # A folder name need not be UTF-8 (bytes that are not arrive as lone surrogates, which no
    # font can draw): shown with the replacement character instead.
    ax.set_title(os.fsencode(run_dir.name).decode("utf-8", "replace"))
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    out = run_dir / "loss.png"
    with atomic_path(out) as tmp:
        fig.savefig(tmp, dpi=100)
    plt.close(fig)
    return out


class LossCurve:
    """An event listener: redraws ``<run>/loss.png`` after each evaluation."""

    def __init__(self, run_dir: Path):
        self.run_dir = run_dir

    def __call__(self, kind: str, info: dict) -> None:
        if kind == "eval":
            plot_loss_curve(self.run_dir)
