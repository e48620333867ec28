"""The checkpoints under the served folder, and the models loaded from them.

A checkpoint is described once per version of its file (path, size, time): loading one to read
its kind and held-out perplexity takes a moment, and the list is asked for at every page load.
"""

from __future__ import annotations

import math
import os
import threading
from collections import OrderedDict
from functools import partial
from datetime import datetime, timezone
from pathlib import Path

from .. import api
from ..errors import CheckpointError, UsageError
from ..music.fields_seen import field_choices
from .security import ARCHIVE_FOLDER

MODELS_KEPT = 2  # models held in memory at once; a third is loaded again when asked for


class Catalog:
    """Checkpoints under ``root`` (``root/*.pt`` and ``root/<run>/*.pt``, none in the studio's
    archive), newest first."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self._described: dict[tuple, dict] = {}
        self._models: OrderedDict[tuple, api.Model] = OrderedDict()
        self._lock = threading.Lock()

    def files(self) -> list[Path]:
        if not self.root.is_dir():
            return []
        base = self.root.resolve()
        found = [p for p in (*self.root.glob("*.pt"), *self.root.glob("*/*.pt"))
                 if p.is_file() and p.resolve().is_relative_to(base)  # what security.checkpoint_path accepts
                 and p.relative_to(self.root).parts[0] != ARCHIVE_FOLDER]
        return sorted(found, key=lambda p: p.stat().st_mtime, reverse=True)

    def listing(self) -> list[dict]:
        """One entry per checkpoint: ``id`` (its path under the folder), ``run``, ``file``,
        ``kind``, ``description``, ``perplexity`` (held out, null when none was recorded),
        ``step`` (of training), ``modified``; for a music model ``fields``, the meters and keys to
        offer (``fields_seen.field_choices``); ``error`` instead of the model's figures for a file
        that does not load."""
        return [self.describe(p) for p in self.files()]

    def describe(self, path: Path) -> dict:
        version = _version(path)
        if version not in self._described:
            stat = path.stat()
            entry = {"id": _shown(path.relative_to(self.root).as_posix()),
                     "run": _shown(path.parent.name) if path.parent != self.root else "",
                     "file": _shown(path.name),
                     "modified": datetime.fromtimestamp(stat.st_mtime, timezone.utc).isoformat(timespec="seconds")}
            if entry["id"] != path.relative_to(self.root).as_posix():  # JSON holds no bytes that are not UTF-8
                entry["error"] = f"{entry['id']}: its name is not UTF-8, which the page cannot ask for; rename it"
                self._described[version] = entry
                return entry
            try:  # kept where there is room: describing the list never evicts a model in use
                model = self._model(path, version, evict=False)
            except CheckpointError as exc:
                entry["error"] = str(exc)
            else:
                held = model.held_out
                perplexity = held.perplexity if held is not None else None
                entry.update(kind=model.kind, description=model.description,
                             perplexity=round(perplexity, 3) if perplexity and math.isfinite(perplexity) else None,
                             step=model.payload.get("progress", {}).get("step"))
                if model.kind == "music":
                    entry["fields"] = field_choices(model.data.get("fields"), partial(_can_write, model))
            self._described[version] = entry
        return self._described[version]

    def model(self, path: Path) -> api.Model:
        """The model in ``path``, loaded once while the file stays the same."""
        return self._model(path, _version(path), evict=True)

    def _model(self, path: Path, version: tuple, evict: bool) -> api.Model:
        """The model of this version of ``path``, from memory or loaded; a loaded one is kept,
        dropping the least recently used when ``evict``, else only while there is room."""
        with self._lock:
            if version in self._models:
                self._models.move_to_end(version)
                return self._models[version]
        model = api.Model.load(path)
        with self._lock:
            if evict or len(self._models) < MODELS_KEPT:
                self._models[version] = model
            while len(self._models) > MODELS_KEPT:
                self._models.popitem(last=False)
        return model


def _can_write(model: api.Model, name: str, value: str) -> bool:
    """Whether ``model`` can be asked for tunes with this meter or key (``name``)."""
    try:
        model.tune_conditions(**{name: value})
    except UsageError:
        return False
    return True


def _shown(name: str) -> str:
    """A file name as text: bytes that are not UTF-8 (lone surrogates here) as the replacement
    character."""
    return os.fsencode(name).decode("utf-8", "replace")


def _version(path: Path) -> tuple:
    """What identifies one version of a checkpoint file: its path, size and modification time."""
    stat = path.stat()
    return str(path), stat.st_size, stat.st_mtime_ns
