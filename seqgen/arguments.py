"""The API's checks of what it is given, at its door: a wrong type or value is a UsageError that
names the argument, never a TypeError from deep in torch, numpy or pathlib."""

from __future__ import annotations

import os

from .config import SampleConfig
from .errors import UsageError


def paths(name: str, values) -> list[str]:
    """File paths given to the API, as the command line takes several: paths, or lists of them."""
    if not isinstance(values, (list, tuple)):
        return [path(name, values)]
    return [p for value in values for p in paths(name, value)]


def path(name: str, value) -> str:
    """A file path given to the API: a str or a ``pathlib.Path``; UsageError naming ``name`` else."""
    if not isinstance(value, (str, os.PathLike)):
        raise UsageError(f"{name} must be a file path (str or pathlib.Path) (got {type(value).__name__} "
                         f"{value!r:.40})")
    return os.fspath(value)


def callback(name: str, value) -> None:
    """UsageError unless ``value`` is None or can be called."""
    if value is not None and not callable(value):
        raise UsageError(f"{name} must be a function or None (got {type(value).__name__} {value!r:.40})")


def one_temperature(cfg: SampleConfig, why: str) -> SampleConfig:
    """``cfg``, or a UsageError saying ``why`` it takes one temperature, not a list."""
    if isinstance(cfg.temperature, list):
        raise UsageError(f"{why}: give one temperature, not a list")
    return cfg


def stop_flag(value) -> None:
    """UsageError unless ``value`` is None or a flag that says when to stop (``is_set()``)."""
    if value is not None and not callable(getattr(value, "is_set", None)):
        raise UsageError(f"stop must be a threading.Event or None (got {type(value).__name__})")
