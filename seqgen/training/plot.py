"""The loss curve of a run, ``loss.png``: drawn from metrics.jsonl after evaluations, and at the end.

It listens to training's events (``LossCurve`` is an ``on_event`` callback), so the training
loop knows nothing about plotting. Drawing takes a while (matplotlib is imported at the first,
and each takes a good part of a second on a laptop), so it is skipped after an evaluation while
the drawings so far have taken more than ``SHARE`` of the run's time: a short evaluation interval
then costs no learning. The curve is always drawn once more at the end.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from ..atomic import atomic_path
from .runs import read_metrics

SHARE = 0.02  # of a run's time, at most, spent drawing its curve along the way


def plot_loss_curve(run_dir: Path) -> Path | None:
    """Draw train and validation loss against steps into loss.png."""
    _matplotlib_folder()
    # A Figure of its own rather than pyplot's: no global state (seqgen.train may run in any
    # thread of a caller's program), no GUI backend to choose, and less to import.
    from matplotlib.figure import Figure

    records = read_metrics(run_dir)
    if not records:
        return None
    steps = [r["step"] for r in records]
    fig = Figure(figsize=(7, 4))
    ax = fig.subplots()
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
    return out


def _matplotlib_folder() -> None:
    """matplotlib keeps its font cache in its config and cache folders; where one cannot be
    written it makes a temporary folder itself, saying so in three lines about MPLCONFIGDIR at the
    first plot of every run. The same done quietly: a temporary folder, removed at exit."""
    if os.environ.get("MPLCONFIGDIR"):
        return  # the user's choice, or ours already
    folders = _matplotlib_folders()
    if folders and all(_writable_folder(folder) for folder in folders):
        return
    folder = tempfile.mkdtemp(prefix="seqgen-matplotlib-")
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    os.environ["MPLCONFIGDIR"] = folder


def _matplotlib_folders() -> list[Path]:
    """The folders matplotlib would use (its ``get_configdir`` and ``get_cachedir``, which would
    say their complaint on import)."""
    try:
        home = Path.home()
    except RuntimeError:  # no home folder to be found: none of them
        return []
    if sys.platform.startswith(("linux", "freebsd")):
        return [Path(os.environ.get("XDG_CONFIG_HOME") or home / ".config", "matplotlib"),
                Path(os.environ.get("XDG_CACHE_HOME") or home / ".cache", "matplotlib")]
    return [home / ".matplotlib"]


def _writable_folder(path: Path) -> bool:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError:
        return False
    return path.is_dir() and os.access(path, os.W_OK)


class LossCurve:
    """An event listener: redraws ``<run>/loss.png`` after an evaluation (within ``SHARE`` of the
    time) and at the end of the run."""

    def __init__(self, run_dir: Path):
        self.run_dir = run_dir
        self.started, self.spent, self.behind = time.perf_counter(), 0.0, False

    def __call__(self, kind: str, info: dict) -> None:
        if kind == "eval":
            if self.spent <= SHARE * (time.perf_counter() - self.started):
                self._draw()
            else:
                self.behind = True
        elif kind == "end" and self.behind:
            self._draw()

    def _draw(self) -> None:
        start = time.perf_counter()
        self.behind = False
        plot_loss_curve(self.run_dir)
        self.spent += time.perf_counter() - start
