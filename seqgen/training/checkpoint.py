"""Checkpoints: one self-contained file, written atomically, loaded without running any code, and
checked field by field before anything uses it.

A checkpoint is a dict of tensors and plain Python values only (no pickled classes), so it loads
with ``torch.load(weights_only=True)`` on any device, and a file carrying a pickle payload is
refused before anything in it runs. Its ``model_type`` names a registered model type
(``seqgen.models``), which rebuilds the model from ``model_config`` and ``model_state``.
"""

from __future__ import annotations

import io
import pickle
import stat
import zipfile
import zlib
from pathlib import Path

import torch

from ..atomic import file_kind, write_bytes
from ..config import DIRECTIONS
from ..errors import CheckpointError, UsageError, first_line

FORMAT = "seqgen-checkpoint"
FORMAT_VERSION = 2  # 2: every model type keeps model_config and model_state (1: the n-gram's own keys)
DEFAULT_ROOT = Path("checkpoints")
_REQUIRED = ("model_type", "vocab", "data")


def save(payload: dict, path: Path) -> Path:
    """Write ``payload`` to ``path`` atomically and durably: an interruption or a power cut at
    any moment leaves either the old file or the new one, never half of one."""
    path = Path(path)
    buffer = io.BytesIO()
    # Serialised in memory first: torch's writer turns a failed write (a full disk) into an
    # opaque RuntimeError, while a plain write raises the OSError that says what happened.
    torch.save({"format": FORMAT, "version": FORMAT_VERSION, **payload}, buffer)
    before = "the previous checkpoint is untouched" if path.exists() else "nothing was saved"
    try:
        write_bytes(path, buffer.getbuffer(), durable=True)
    except OSError as exc:
        raise CheckpointError(
            f"could not save checkpoint {path}: {exc.strerror or exc}; {before} (free some disk space or "
            "choose another --out)"
        ) from None
    return path


def load(path: Path | str) -> dict:
    """Load and check a seqgen checkpoint onto the CPU; CheckpointError for anything else."""
    path = Path(path)
    _check_archive(path)
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise CheckpointError(
            f"{path} was refused: it holds Python objects that could run code when loaded; "
            "seqgen checkpoints hold only tensors and plain values"
        ) from None
    except OSError as exc:
        raise CheckpointError(f"cannot read {path}: {exc.strerror or exc}") from None
    except (RuntimeError, ValueError, EOFError, KeyError, IndexError, TypeError, AttributeError,
            UnicodeDecodeError, OverflowError, MemoryError, zipfile.BadZipFile) as exc:
        # What torch's reader raises on an archive whose contents are damaged.
        raise CheckpointError(f"{path} is corrupt or truncated ({first_line(exc)}); use another checkpoint") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a seqgen checkpoint (a plain PyTorch file?); train with 'seqgen train'")
    version = payload.get("version")
    if type(version) is not int or version < 1:  # bool is an int, and no seqgen wrote one
        raise CheckpointError(f"{path} has no valid checkpoint format version (got {version!r}): it is damaged or "
                              "was not written by seqgen; use another checkpoint")
    if version > FORMAT_VERSION:
        raise CheckpointError(
            f"{path} has checkpoint format {version}, newer than this seqgen reads ({FORMAT_VERSION}); upgrade seqgen"
        )
    missing = [k for k in _REQUIRED if k not in payload]
    if missing:
        raise CheckpointError(f"{path} is incomplete (missing {', '.join(missing)}); use another checkpoint")
    if version == 1 and payload["model_type"] == "ngram":
        payload = _from_version_1(payload)
    try:
        check(payload)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise CheckpointError(f"{path} is damaged: {first_line(exc)}; use another checkpoint") from None
    return payload


def _check_archive(path: Path) -> None:
    """CheckpointError unless ``path`` is a readable zip archive (what torch.save writes) whose
    every part matches its checksum. Said before any unpickling starts, each cause for what it is:
    a folder, a file that cannot be read, not an archive, or a changed byte (torch's reader does
    not check the checksums, so a flipped bit in the weights would load without a word)."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no such checkpoint; train one with 'seqgen train FILE'") from None
    except OSError as exc:
        raise CheckpointError(f"cannot read {path}: {exc.strerror or exc}") from None
    if stat.S_ISDIR(mode):
        best = path / "best.pt"
        hint = f"give {best}" if best.is_file() else "give a checkpoint file (a run's best.pt or last.pt)"
        raise CheckpointError(f"{path} is a folder, not a checkpoint; {hint}")
    if not stat.S_ISREG(mode):  # a FIFO would block the read below for good
        raise CheckpointError(f"{path} is {file_kind(mode)}, not a checkpoint file; give a run's best.pt or last.pt")
    try:
        with open(path, "rb") as fh:  # zipfile.is_zipfile reads an unreadable file as "not a zip"
            fh.read(1)
    except OSError as exc:
        raise CheckpointError(f"cannot read {path}: {exc.strerror or exc}; check its permissions or "
                              "give another checkpoint") from None
    if not zipfile.is_zipfile(path):
        # torch.save writes a zip archive; anything else (empty, cut short, random bytes, a legacy
        # pickle, a device) is refused before any unpickling starts.
        raise CheckpointError(f"{path} is corrupt or truncated (not a checkpoint archive); use another checkpoint")
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()  # reads every part once, checking its CRC-32
    except OSError as exc:
        raise CheckpointError(f"cannot read {path}: {exc.strerror or exc}") from None
    except (zipfile.BadZipFile, EOFError, ValueError, NotImplementedError, zlib.error) as exc:
        raise CheckpointError(f"{path} is corrupt or truncated ({first_line(exc)}); use another checkpoint") from None
    if bad is not None:
        raise CheckpointError(f"{path} is corrupt: its part {bad} does not match its checksum (bytes changed since "
                              "it was saved); use another checkpoint")


def _from_version_1(payload: dict) -> dict:
    """Version 1 kept the n-gram's tables under "ngram", its order among them."""
    state = dict(payload.get("ngram", {}))
    return {**payload, "model_config": {"order": int(state.pop("order", 0))}, "model_state": state}


def check(payload: dict) -> None:
    """Every field a checkpoint's user relies on, checked; ValueError (or KeyError, TypeError)
    saying what is wrong. The model type then checks its own configuration and state."""
    from ..models import model_types

    if payload["model_type"] not in model_types():
        raise ValueError(f"unknown model type {payload['model_type']!r} (this seqgen knows {', '.join(model_types())})")
    vocab = payload["vocab"]
    if not isinstance(vocab, dict) or vocab.get("level") not in ("char", "word"):
        raise ValueError("its vocabulary has no level (char or word)")
    tokens = vocab.get("tokens")
    if not isinstance(tokens, list) or len(tokens) < 3 or not all(isinstance(t, str) for t in tokens):
        raise ValueError("its vocabulary is not a list of at least three tokens")
    if tokens[:2] != ["<unk>", "<eos>"] or len(set(tokens)) != len(tokens):
        raise ValueError("its vocabulary is malformed (duplicate tokens, or <unk> and <eos> not first)")
    data = payload["data"]
    if not isinstance(data, dict) or data.get("kind") not in ("text", "abc"):
        raise ValueError("it does not say what kind of data it was trained on")
    ids = data.get("val_ids")
    if not isinstance(ids, torch.Tensor) or ids.dim() != 1 or ids.is_floating_point() or len(ids) < 2:
        raise ValueError("its held-out text is missing or empty")
    if int(ids.min()) < 0 or int(ids.max()) >= len(tokens):
        raise ValueError("its held-out text has token ids outside its vocabulary")
    stored = payload.get("train_config")
    direction = stored.get("direction", "forward") if isinstance(stored, dict) else "forward"  # older: forward
    if direction not in DIRECTIONS:
        raise ValueError(f"it reads its text in no direction seqgen knows ({direction!r}; {' or '.join(DIRECTIONS)})")
    for key in ("model_config", "model_state"):
        if not isinstance(payload.get(key), dict):
            raise ValueError(f"its {key.replace('_', ' ')} is missing")
    for name, value in payload["model_state"].items():
        if isinstance(value, torch.Tensor) and value.is_floating_point() and not torch.isfinite(value).all():
            raise ValueError(f"its weights {name} hold NaN or infinite values")


def looks_like_checkpoint(path: str | Path) -> bool:
    """Whether ``path`` names a checkpoint rather than text: a ``.pt`` name, or a regular file
    that is a zip archive, as torch.save writes (no text file is one), whatever its name."""
    path = Path(path)
    if path.suffix == ".pt":
        return True
    try:
        return stat.S_ISREG(path.stat().st_mode) and zipfile.is_zipfile(path)
    except OSError:
        return False  # read as text, whose reader says what is wrong with it


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
    """The checkpoint to use: the one given, or the latest run's best; and whether it was that latest
    one, picked for the user (who is then told which)."""
    if path:
        return Path(path), False
    return latest(root), True


def stored_setting_error(source: Path | str, exc: UsageError, what: str) -> CheckpointError:
    """The error for a setting stored in checkpoint ``source`` that its config refuses (``exc``):
    the file's fault, never an option the user did not give."""
    stored = first_line(exc).replace("--", "")  # "cell must be ...": a stored field, not an option
    return CheckpointError(f"{source} holds a {what} setting this seqgen cannot use ({stored}); it is damaged or "
                           "from another version: use another checkpoint")


def load_model(payload: dict, device: torch.device | str = "cpu", source: Path | str = "checkpoint"):
    """The model and vocabulary stored in a loaded (and checked) checkpoint (``source`` names it
    in messages)."""
    from ..models import model_class
    from ..data.vocab import Vocab

    vocab = Vocab.from_dict(payload["vocab"])
    try:
        cls = model_class(payload["model_type"])
    except UsageError as exc:
        raise CheckpointError(str(exc)) from None
    try:
        model = cls.from_state(payload["model_config"], payload["model_state"], len(vocab))
    except UsageError as exc:  # the stored config, not an option the user gave
        raise stored_setting_error(source, exc, "model") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise CheckpointError(f"{source} is damaged: {first_line(exc)}; use another checkpoint") from None
    if isinstance(model, torch.nn.Module):
        model = model.to(device).eval()
    return model, vocab
