"""seqgen's folder of caches (``$XDG_CACHE_HOME/seqgen``, ``~/.cache/seqgen`` when unset) and the
small JSON files kept there: read forgivingly (an unreadable file is said and started afresh),
written atomically after merging with what another process may have written meanwhile."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

from .atomic import write_text
from .errors import warn


def cache_path(*parts: str) -> Path:
    """A path under seqgen's cache folder."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base, "seqgen", *parts)


def load_json(path: Path, what: str, otherwise: str) -> object | None:
    """The JSON in ``path``; None when there is none, or (with a warning naming ``what`` and what
    happens ``otherwise``) when it cannot be read."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, NotADirectoryError):  # none there (the cache folder may be a file: said on save)
        return None
    except (OSError, ValueError) as exc:
        warn(f"the {what} {path} cannot be read ({exc}); {otherwise}")
        return None


def save_json(path: Path, build: Callable[[], object], what: str, otherwise: str) -> None:
    """Write ``build()`` to ``path`` atomically (``build`` merges with the file as it is now);
    a folder or disk that cannot be written is a warning, not an error: a cache is only a cache."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_text(path, json.dumps(build()))
    except OSError as exc:
        warn(f"could not save the {what} {path} ({exc.strerror or exc}); {otherwise}")


def load_entries(path: Path, field: str, rules: int, what: str, otherwise: str) -> dict[str, object]:
    """The ``field`` dict of a cache file written under ``rules`` (a version: a cache written by
    other rules no longer holds, and reads as empty); empty when there is none."""
    data = load_json(path, what, otherwise)
    ok = isinstance(data, dict) and data.get("rules") == rules and isinstance(data.get(field), dict)
    return dict(data[field]) if ok else {}


def save_entries(path: Path, field: str, rules: int, entries: dict[str, object], what: str, unreadable: str,
                 unwritable: str) -> None:
    """Add ``entries`` to the ``field`` dict of a cache file, merged with what another process may
    have written since it was read (``unreadable`` and ``unwritable``: what happens otherwise)."""
    save_json(path, lambda: {"rules": rules, field: {**load_entries(path, field, rules, what, unreadable), **entries}},
              what, unwritable)
