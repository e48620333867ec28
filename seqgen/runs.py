"""The run folder: its name, a lock against two trainings writing at once, metrics and plots."""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

from .checkpoint import DEFAULT_ROOT
from .errors import SeqgenError, UsageError


def is_main_process() -> bool:
    """Only rank 0 logs and saves; ready for data-parallel runs started by torchrun."""
    return int(os.environ.get("RANK", "0")) == 0


def new_run_dir(specs: list[str], level: str, cell: str, root: Path = DEFAULT_ROOT) -> Path:
    """checkpoints/<first source>-<level>-<cell>-<timestamp>, made unique if taken."""
    first = specs[0].removeprefix("builtin:") if specs else "run"
    stem = re.sub(r"[^A-Za-z0-9_-]+", "-", Path(first.rstrip("/")).stem or "run").strip("-") or "run"
    base = f"{stem}-{level}-{cell}-{time.strftime('%Y%m%d-%H%M%S')}"
    path, n = root / base, 1
    while path.exists():
        n += 1
        path = root / f"{base}-{n}"
    return path


def make_dir(path: Path) -> Path:
    if path.exists() and not path.is_dir():
        raise UsageError(f"--out {path} is a file; give a folder for the run")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SeqgenError(f"cannot create run folder {path}: {exc.strerror or exc}; choose another --out") from None
    if not os.access(path, os.W_OK):
        raise SeqgenError(f"run folder {path} is not writable; choose another --out")
    return path


class RunLock:
    """A ``.lock`` file holding the writer's pid; a lock whose process is gone is taken over."""

    def __init__(self, run_dir: Path):
        self.path = run_dir / ".lock"
        self.held = False

    def acquire(self) -> "RunLock":
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                owner = self._owner()
                if owner is not None and _alive(owner):
                    raise SeqgenError(
                        f"another training (pid {owner}) is writing to {self.path.parent}; wait for it "
                        "or choose another --out"
                    ) from None
                self.path.unlink(missing_ok=True)  # stale: its process died without cleaning up
                continue
            with os.fdopen(fd, "w") as fh:
                fh.write(str(os.getpid()))
            self.held = True
            return self
        raise SeqgenError(f"could not lock {self.path.parent}; choose another --out")

    def _owner(self) -> int | None:
        try:
            return int(self.path.read_text().strip() or "0") or None
        except (OSError, ValueError):
            return None

    def release(self) -> None:
        if self.held:
            self.path.unlink(missing_ok=True)
            self.held = False

    def __enter__(self) -> "RunLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def append_metrics(run_dir: Path, record: dict) -> None:
    """One JSON line per evaluation in metrics.jsonl."""
    with open(run_dir / "metrics.jsonl", "a", encoding="utf-8") as fh:
        fh.write(json.dumps(record) + "\n")


def read_metrics(run_dir: Path) -> list[dict]:
    path = run_dir / "metrics.jsonl"
    if not path.is_file():
        return []
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # a line cut short by a crash; the others still tell the story
    return records


def plot_loss_curve(run_dir: Path) -> Path | None:
    """Draw train and validation loss against tokens seen into loss.png (needs matplotlib)."""
    records = read_metrics(run_dir)
    if not records:
        return None
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    steps = [r["step"] for r in records]
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(steps, [r.get("train_loss") for r in records], label="train")
    ax.plot(steps, [r["val_loss"] for r in records], label="validation", marker="o", markersize=3)
    ax.set_xlabel("step")
    ax.set_ylabel("loss (nats/token)")
    ax.set_title(run_dir.name)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    out = run_dir / "loss.png"
    tmp = run_dir / ".loss.png.tmp.png"
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    os.replace(tmp, out)
    return out
