"""Checkpoints: one self-contained file, written atomically, loaded without running any code.

A checkpoint is a dict of tensors and plain Python values only (no pickled classes), so it loads
with ``torch.load(weights_only=True)`` on any device, and a file carrying a pickle payload is
refused before anything in it runs.
"""

from __future__ import annotations

import io
import os
import pickle
import zipfile
from pathlib import Path

import torch

from .errors import CheckpointError

FORMAT = "seqgen-checkpoint"
FORMAT_VERSION = 1
DEFAULT_ROOT = Path("checkpoints")
_REQUIRED = ("model_type", "vocab", "data")


def save(payload: dict, path: Path) -> Path:
    """Write ``payload`` to ``path`` atomically: a temporary file, flushed to disk, then renamed.

    An interruption at any moment leaves either the old file or the new one, never half of one.
    """
    path = Path(path)
    payload = {"format": FORMAT, "version": FORMAT_VERSION, **payload}
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    # Serialised in memory first: torch's writer turns a failed write (a full disk) into an
    # opaque RuntimeError, while a plain write raises the OSError that says what happened.
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    try:
        with open(tmp, "wb") as fh:
            fh.write(buffer.getbuffer())
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise CheckpointError(
            f"could not save checkpoint {path}: {exc.strerror or exc}; the previous checkpoint is "
            "untouched (free some disk space or choose another --out)"
        ) from None
    return path


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def load(path: Path | str) -> dict:
    """Load and check a seqgen checkpoint onto the CPU; raise CheckpointError for anything else."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint; train one with 'seqgen train FILE'")
    if not zipfile.is_zipfile(path):
        # torch.save writes a zip archive; anything else (empty, cut short, random bytes, a legacy
        # pickle) is refused before any unpickling starts.
        raise CheckpointError(f"{path} is corrupt or truncated (not a checkpoint archive); use another checkpoint")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise CheckpointError(
            f"{path} was refused: it holds Python objects that could run code when loaded; "
            "seqgen checkpoints hold only tensors and plain values"
        ) from None
    except Exception as exc:  # torch raises many types for damaged archives; all mean the same here
        raise CheckpointError(f"{path} is corrupt or truncated ({_first_line(exc)}); use another checkpoint") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a seqgen checkpoint (a plain PyTorch file?); train with 'seqgen train'")
    version = payload.get("version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise CheckpointError(
            f"{path} has checkpoint format {version!r}, newer than this seqgen reads ({FORMAT_VERSION}); upgrade seqgen"
        )
    missing = [k for k in _REQUIRED if k not in payload]
    if missing:
        raise CheckpointError(f"{path} is incomplete (missing {', '.join(missing)}); use another checkpoint")
    return payload


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:120] if text else type(exc).__name__


def latest(root: Path = DEFAULT_ROOT) -> Path:
    """The best checkpoint of the most recently written run under ``root``."""
    candidates = [p for p in Path(root).glob("*/best.pt") if p.is_file()] if Path(root).is_dir() else []
    if not candidates:
        candidates = [p for p in Path(root).glob("*/last.pt") if p.is_file()] if Path(root).is_dir() else []
    if not candidates:
        raise CheckpointError(
            f"no checkpoint found under {root}/; train one with 'seqgen train FILE' or give a checkpoint path"
        )
    return max(candidates, key=lambda p: p.stat().st_mtime)


def resolve(path: str | Path | None, root: Path = DEFAULT_ROOT) -> tuple[Path, bool]:
    """The checkpoint to use: the one given, or the latest run's best. Also says if it was found."""
    if path:
        return Path(path), False
    return latest(root), True


def load_rnn(payload: dict, device: torch.device | str = "cpu"):
    """Rebuild the recurrent model and its vocabulary from a loaded checkpoint."""
    from .config import ModelConfig, from_dict
    from .model import RNNLM
    from .vocab import Vocab

    if payload["model_type"] != "rnn":
        raise CheckpointError(f"expected a recurrent-model checkpoint, got model type {payload['model_type']!r}")
    try:
        model = RNNLM(from_dict(ModelConfig, payload["model_config"]))
        model.load_state_dict(payload["model_state"])
    except (KeyError, RuntimeError, TypeError) as exc:
        raise CheckpointError(f"checkpoint weights do not fit its model config ({_first_line(exc)})") from None
    return model.to(device).eval(), Vocab.from_dict(payload["vocab"])


def load_model(payload: dict, device: torch.device | str = "cpu"):
    """The model (recurrent or n-gram) and vocabulary stored in a loaded checkpoint."""
    if payload["model_type"] == "ngram":
        from .train_ngram import load_ngram
        from .vocab import Vocab

        try:
            return load_ngram(payload), Vocab.from_dict(payload["vocab"])
        except (KeyError, ValueError, TypeError) as exc:
            raise CheckpointError(f"n-gram checkpoint is incomplete ({_first_line(exc)})") from None
    return load_rnn(payload, device)
