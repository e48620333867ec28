"""Which tunes are fit to train on: music21's verdict on each, cached on disk, because music21
needs about 0.05 s to parse a tune and a collection holds thousands.

A verdict is "ok" (the tune passes the check sampled tunes must pass), "unparsable" (music21
cannot read it) or "irregular" (it parses, but its bars do not add up to the meter, it has no
meter or too few bars). Only those three are ever cached: an unexpected error while checking a
tune is raised, never recorded as a verdict.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

from ..cache import cache_path, load_json, save_json
from .validate import check_tune
from .workers import process_map

PARSE_RULES = 5  # bump when for_music21 or the tune checks change: cached verdicts then no longer hold (4: bars as written, 5: keys)
VERDICTS = ("ok", "unparsable", "irregular")
POOL_MIN_TUNES = 64  # below this, starting worker processes costs more than it saves


def cache_file() -> Path:
    """``$XDG_CACHE_HOME/seqgen/abc-parse.json`` (``~/.cache/...`` when the variable is unset)."""
    return cache_path("abc-parse.json")


def tune_hash(tune: str) -> str:
    return hashlib.sha256(tune.encode("utf-8")).hexdigest()[:24]


def tune_verdict(tune: str) -> str:
    """The verdict on one tune (see the module docstring). Top-level so that worker processes
    can run it."""
    check = check_tune(tune)
    return "ok" if check.valid else "unparsable" if check.score is None else "irregular"


def tune_verdicts(tunes: list[str], on_progress: Callable[[int, int], None] | None = None,
                  workers: int | None = None) -> list[str]:
    """``tune_verdict`` for each tune: from the cache where known, else in worker processes."""
    cache = _load_cache()
    todo = sorted({tune_hash(t): t for t in tunes if tune_hash(t) not in cache}.items())
    try:
        verdicts = process_map(tune_verdict, [tune for _, tune in todo], POOL_MIN_TUNES, chunksize=8, workers=workers)
        for n, ((key, _), verdict) in enumerate(zip(todo, verdicts), 1):
            cache[key] = verdict
            if on_progress:
                on_progress(n, len(todo))
    finally:
        if todo:
            _save_cache(cache)  # also after Ctrl-C: the tunes done so far need not be checked again
    return [cache[tune_hash(t)] for t in tunes]


def parse_cache_tag() -> str:
    """Verdicts hold for one music21 version and one version of ``for_music21``."""
    import music21

    return f"music21 {music21.__version__}, rules {PARSE_RULES}"


def _load_cache() -> dict[str, str]:
    data = load_json(cache_file(), "tune-check cache", "tunes are checked again")
    # A different music21 may parse differently: its verdicts do not carry over.
    if not isinstance(data, dict) or data.get("tag") != parse_cache_tag():
        return {}
    verdicts = data.get("verdicts")
    return {k: v for k, v in verdicts.items() if v in VERDICTS} if isinstance(verdicts, dict) else {}


def _save_cache(cache: dict[str, str]) -> None:
    """Merge with what another process may have written meanwhile, then replace atomically."""
    save_json(cache_file(), lambda: {"tag": parse_cache_tag(), "verdicts": {**_load_cache(), **cache}},
              "tune-check cache", "the tunes will be checked again next time")
