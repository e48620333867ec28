"""What the page sends (``SampleRequest``) and what it gets back: the settings as the command
line would take them, the command that makes the same, and one entry per tune (text and tunes
reach the page as ``streaming`` draws them)."""

from __future__ import annotations

import secrets
import shlex
from pathlib import Path
from typing import Optional

from pydantic import BaseModel, ConfigDict, Field, create_model

from ..config import SampleConfig, TuneOptions
from ..errors import does_not_apply
from ..music.abc import tune_title
from ..music.playback import playing_fields
from ..options import interface_options, options

TUNE_FIELDS = ("tunes", *(f.name for f in options(TuneOptions)))  # tunes, meter, key, prime_abc
TEXT_FIELDS = ("length", "prime")


class _Request(BaseModel):
    """What every request body is: no field it does not know."""

    model_config = ConfigDict(extra="forbid")

    def settings(self, model) -> dict:
        """The sampling settings as ``Model.generate``/``tunes`` take them, checked by
        ``SampleConfig`` (the one check of each), with the model's defaults filled in (top-p of
        music models) and a seed chosen when none was given."""
        music = model.kind == "music"
        given = [f for f in (TEXT_FIELDS if music else TUNE_FIELDS) if f in self.model_fields_set]
        if given:
            raise does_not_apply(given, "to a music model's tunes; use prime_abc for the first bars" if music else
                                 f"to a {model.kind} model; they are for models trained on ABC tunes")
        names = [f.name for f in options(SampleConfig) if f.name in type(self).model_fields and f.name != "length"]
        asked = {name: getattr(self, name) for name in names if not (music and name == "prime")}
        cfg = model.sample_config(**asked)
        settings = {name: getattr(cfg, name) for name in asked}
        settings["seed"] = self.seed if self.seed is not None else new_seed()
        return settings


def request_model(name: str, classes, leave_out: tuple[str, ...] = (), doc: str = "", base: type = _Request, **own):
    """A pydantic request model with a field per option of the config ``classes`` (their type and
    default; their checks stay theirs), bounded in size by ``SIZE_LIMITS``, and ``own`` fields."""
    fields = {f.name: (Optional[kind] if default is None else kind, Field(default=default, max_length=SIZE_LIMITS.get(f.name)))
              for f, kind, default in interface_options(classes, leave_out)}
    return create_model(name, __base__=base, __doc__=doc or base.__doc__, **own, **fields)


# What a request may hold, in characters: a body is bounded before any work is done on it.
SIZE_LIMITS = {"prime": 10_000, "meter": 20, "key": 20, "prime_abc": 1000}

SampleRequest = request_model("SampleRequest", [SampleConfig, TuneOptions], leave_out=("num_samples", "precision"),
                              doc="``POST /api/sample``: a checkpoint (its path under the served folder) and the "
                                  "options of ``seqgen sample``, by the same names. ``seed`` left out: the server "
                                  "picks one and says which.",
                              checkpoint=(str, Field(max_length=1000)), tunes=(int, Field(default=1, ge=1)))


def page_options() -> dict:
    """What the page's controls show, from the one declaration of each option: its default (None
    where it varies with the model) and its help, keyed by the request's field name."""
    return {f.name: {"default": default, "help": f.metadata["help"]}
            for f, _, default in interface_options([SampleConfig, TuneOptions]) if f.name in SampleRequest.model_fields}


def command_line(checkpoint: str, root: Path, settings: dict, tunes: int | None = None, wanted=None,
                 keep_invalid: bool = False, out: str | None = None) -> str:
    """The ``seqgen sample`` command that makes the same text or tunes (into ``out``, the
    batch's folder in the archive, which it then finds holding them already)."""
    args = ["seqgen", "sample", (Path(root) / checkpoint).as_posix()]
    if tunes is not None:
        args += ["--tunes", str(tunes)]
        for option, value in (wanted.as_options() if wanted else {}).items():
            args += [option, value]
        args += ["--keep-invalid"] if keep_invalid else []
        args += ["--out", out] if out else []
    for name in (f.name for f in options(SampleConfig)):
        value = settings.get(name)
        if value is not None and not (name == "prime" and value == ""):
            args += ["--" + name.replace("_", "-"), f"{value:g}" if isinstance(value, float) else str(value)]
    return " ".join(shlex.quote(a) for a in args)


def tune_entries(batch, batch_id: str, sound: bool) -> list[dict]:
    """One entry per tune, the valid ones first (``tune_entry``)."""
    return [tune_entry(n, text, check, check.valid and n <= batch.first_try_valid, batch_id, sound)  # round 0's first
            for n, (text, check) in enumerate(batch.valid + batch.invalid, 1)]


def tune_entry(n: int, text: str, check, first_try: bool, batch_id: str, sound: bool) -> dict:
    """Tune ``n`` of a batch (``first_try``: valid as first drawn): its ABC, its verdict, how it
    is played (``playback.playing_fields``) and the links to its files."""
    base = f"/api/files/{batch_id}/{n:03d}{'' if check.valid else '-invalid'}"  # as TuneFolder names it
    playable = check.score is not None
    return {"n": n, "title": tune_title(text),
            "abc": text, "valid": check.valid,
            "verdict": "valid" if first_try else "valid, re-sampled" if check.valid else "invalid",
            "reasons": check.reasons, **playing_fields(text),
            "files": {"abc": base + ".abc", "mid": base + ".mid" if playable else None,
                      "wav": base + ".wav" if playable and sound else None}}


def new_seed() -> int:
    """A seed for a request that gave none: shown with the result, so that it can be made again."""
    return secrets.randbelow(2**31)
