"""What the page sends (``SampleRequest``) and what it gets back: the settings as the command
line would take them, text in pieces as it is drawn, and one entry per tune."""

from __future__ import annotations

import re
import shlex
import time
import weakref
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import anyio
from pydantic import BaseModel, ConfigDict, Field

from ..errors import SeqgenError, UsageError

TUNE_FIELDS = ("tunes", "meter", "key", "prime_abc")
TEXT_FIELDS = ("length", "prime")
PIECE_SECONDS = 0.05  # text is sent in pieces of what was drawn in this long: smooth, and few pieces


class SampleRequest(BaseModel):
    """``POST /api/sample``: a checkpoint (its path under the served folder) and the options of
    ``seqgen sample``, by the same names. ``seed`` left out: the server picks one and says which."""

    model_config = ConfigDict(extra="forbid")

    checkpoint: str = Field(max_length=1000)
    temperature: float = 0.8
    top_k: int | None = None
    top_p: float | None = None
    seed: int | None = Field(default=None, ge=0, lt=2**63)
    length: int = 500
    prime: str = Field(default="", max_length=10_000)
    tunes: int = Field(default=1, ge=1)
    meter: str | None = Field(default=None, max_length=20)
    key: str | None = Field(default=None, max_length=20)
    prime_abc: str | None = Field(default=None, max_length=1000)

    def settings(self, model) -> dict:
        """The sampling settings as ``Model.generate``/``tunes`` take them, checked, with the
        model's defaults filled in (top-p of music models) and a seed chosen when none was given."""
        from .app import new_seed

        given = [f for f in (TEXT_FIELDS if model.kind == "music" else ()) if f in self.model_fields_set]
        if given:
            raise UsageError(f"{', '.join(given)} {'does' if len(given) == 1 else 'do'} not apply to a music model's "
                             "tunes; use prime_abc for the first bars")
        cfg = model.sample_config(prime=self.prime if model.kind != "music" else "", temperature=self.temperature,
                                  top_k=self.top_k, top_p=self.top_p, seed=self.seed)
        settings = {"temperature": cfg.temperature, "top_k": cfg.top_k, "top_p": cfg.top_p,
                    "seed": self.seed if self.seed is not None else new_seed()}
        return settings if model.kind == "music" else {"prime": self.prime, **settings}

    def refuse_tune_options(self, kind: str) -> None:
        given = [f for f in TUNE_FIELDS if f in self.model_fields_set]
        if given:
            raise UsageError(f"{', '.join(given)} {'does' if len(given) == 1 else 'do'} not apply to a {kind} model; "
                             "they are for models trained on ABC tunes")


def command_line(checkpoint: str, root: Path, settings: dict, tunes: int | None = None, wanted=None,
                 keep_invalid: bool = False) -> str:
    """The ``seqgen sample`` command that makes the same text or tunes."""
    args = ["seqgen", "sample", (Path(root) / checkpoint).as_posix()]
    if tunes is not None:
        args += ["--tunes", str(tunes)]
        for option, value in (wanted.as_options() if wanted else {}).items():
            args += [option, value]
        args += ["--keep-invalid"] if keep_invalid else []
    for name in ("prime", "length", "temperature", "top_k", "top_p", "seed"):
        value = settings.get(name)
        if value is not None and not (name == "prime" and value == ""):
            args += ["--" + name.replace("_", "-"), f"{value:g}" if isinstance(value, float) else str(value)]
    return " ".join(shlex.quote(a) for a in args)


def tune_entries(batch, batch_id: str, sound: bool) -> list[dict]:
    """One entry per tune, the valid ones first: its ABC, its verdict and the links to its files."""
    entries = []
    for n, (text, check) in enumerate(batch.valid + batch.invalid, 1):
        first_try = check.valid and n <= batch.first_try_valid  # round 0's tunes come first
        base = f"/api/files/{batch_id}/{n:03d}"
        playable = check.score is not None
        entries.append({"n": n, "title": (re.findall(r"(?m)^T:[ \t]*(.*)$", text) or [""])[0].strip(),
                        "abc": text, "valid": check.valid,
                        "verdict": "valid" if first_try else "valid, re-sampled" if check.valid else "invalid",
                        "reasons": check.reasons,
                        "files": {"abc": base + ".abc", "mid": base + ".mid" if playable else None,
                                  "wav": base + ".wav" if playable and sound else None}})
    return entries


async def text_pieces(pieces: Iterator[str], release: Callable[[], None]) -> AsyncIterator[str]:
    """The pieces of a streamed sample, gathered into one chunk per ``PIECE_SECONDS``, drawn in a
    worker thread. ``release`` is called once when the stream ends, fails or is stopped (the page
    closed the connection), or when it is dropped unstarted."""
    done = _Once(release)
    try:
        while True:
            try:
                chunk = await anyio.to_thread.run_sync(_gather, pieces)
            except SeqgenError as exc:
                yield f"\n[error: {exc}]\n"
                return
            if chunk is None:
                return
            yield chunk
    finally:
        pieces.close() if hasattr(pieces, "close") else None
        done()


def stream_guarded(pieces: Iterator[str], release: Callable[[], None]) -> AsyncIterator[str]:
    """``text_pieces``, with ``release`` called even if the response is never started."""
    once = _Once(release)
    stream = text_pieces(pieces, once)
    weakref.finalize(stream, once)
    return stream


class _Once:
    def __init__(self, fn: Callable[[], None]):
        self.fn = fn

    def __call__(self) -> None:
        fn, self.fn = self.fn, None
        if fn is not None:
            fn()


def _gather(pieces: Iterator[str]) -> str | None:
    """Pieces drawn for up to ``PIECE_SECONDS``; None when the sample has ended."""
    out, until = [], time.monotonic() + PIECE_SECONDS
    for piece in pieces:
        out.append(piece)
        if time.monotonic() > until:
            break
    return "".join(out) if out else None
