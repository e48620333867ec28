"""Typed configurations for the model, training and sampling, validated in one place.

The same objects are stored in checkpoints (as plain dicts), so a run can be rebuilt exactly.
Each ``validate`` reports every problem at once rather than stopping at the first.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import asdict, dataclass, fields, replace

from .device import PRECISIONS
from .errors import UsageError

LEVELS = ("char", "word")


def check(problems: list[str]) -> None:
    """Raise one UsageError naming every problem found."""
    if problems:
        raise UsageError("; ".join(problems))


def check_types(config) -> None:
    """UsageError naming each field of a config dataclass whose value is not of its declared type
    (``int``, ``float``, ``str``, ``bool``, or one of them or None), as the option that gives it.
    Python callers pass values through unchecked: a "16" where a count belongs would fail deep in
    torch. Whole numbers of other kinds (numpy's) become ``int``, numbers ``float``."""
    problems = []
    for f in fields(config):
        try:
            setattr(config, f.name, typed(f"--{f.name.replace('_', '-')}", getattr(config, f.name), str(f.type)))
        except UsageError as exc:
            problems.append(str(exc))
    check(problems)


def typed(name: str, value, kind: str):
    """``value`` as the type ``kind`` names ("int", "float", "str", "bool", "int | None", ...;
    another kind is not checked); UsageError naming ``name`` when it is not one."""
    kinds = kind.replace(" ", "").split("|")
    if value is None and "None" in kinds:
        return value
    if "bool" in kinds:
        ok = isinstance(value, bool)
    elif "int" in kinds or "float" in kinds:
        whole = "int" in kinds
        ok = isinstance(value, numbers.Integral if whole else numbers.Real) and not isinstance(value, bool)
        value = (int(value) if whole else float(value)) if ok else value
    elif "str" in kinds:
        ok = isinstance(value, str)
    else:
        return value
    if not ok:
        want = next(k for k in kinds if k != "None")
        raise UsageError(f"{name} must be {_KIND_NAMES[want]}{' or None' if 'None' in kinds else ''} "
                         f"(got {type(value).__name__} {value!r:.40})")
    return value


_KIND_NAMES = {"bool": "True or False", "int": "a whole number", "float": "a number", "str": "a string"}


def from_dict(cls, data: dict):
    """Build a config dataclass from a stored dict, ignoring keys a newer version added."""
    names = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in data.items() if k in names})


# What may change when a run is resumed: its limits, and where and how precisely it computes.
RESUMABLE = ("epochs", "max_steps", "time_budget", "patience", "eval_every", "eval_tokens", "device", "precision")


@dataclass
class TrainConfig:
    """How to train: data split, optimisation, stopping and output."""

    level: str = "char"
    seq_len: int = 128
    batch_size: int = 16
    lr: float = 3e-3
    weight_decay: float = 0.01
    warmup_steps: int = 100
    clip: float = 1.0
    epochs: int = 50
    max_steps: int = 0  # 0: no limit
    time_budget: float = 0.0  # seconds; 0: no limit
    val_fraction: float = 0.1
    eval_every: int = 100  # steps between validations
    eval_tokens: int = 200_000  # held-out tokens scored at each validation (0: all)
    patience: int = 6  # validations without improvement before early stopping (0: never)
    seed: int = 1337
    max_vocab: int = 0  # word level: keep the most frequent words (0: no cap)
    min_count: int = 1  # word level: rarer words become <unk>
    device: str = "auto"
    precision: str = "auto"  # fp32, bf16, fp16 or auto (see device.py)

    def validate(self) -> "TrainConfig":
        check_types(self)
        p = []
        if self.level not in LEVELS:
            p.append(f"--level must be one of {', '.join(LEVELS)} (got {self.level!r})")
        for name in ("seq_len", "batch_size", "epochs"):
            if getattr(self, name) < 1:
                p.append(f"--{name.replace('_', '-')} must be at least 1 (got {getattr(self, name)})")
        for name in ("max_steps", "warmup_steps", "eval_tokens", "patience", "max_vocab"):
            if getattr(self, name) < 0:
                p.append(f"--{name.replace('_', '-')} must not be negative (got {getattr(self, name)})")
        if not self.lr > 0 or not math.isfinite(self.lr):
            p.append(f"--lr must be a positive number (got {self.lr})")
        if not self.clip >= 0 or not math.isfinite(self.clip):
            p.append(f"--clip must be 0 (off) or positive (got {self.clip})")
        if not (0.0 < self.val_fraction < 0.5):
            p.append(f"--val-fraction must be between 0 and 0.5 (got {self.val_fraction})")
        if not self.time_budget >= 0:
            p.append(f"--time-budget must not be negative (got {self.time_budget})")
        if self.eval_every < 1:
            p.append(f"--eval-every must be at least 1 (got {self.eval_every})")
        if self.min_count < 1:
            p.append(f"--min-count must be at least 1 (got {self.min_count})")
        if self.precision not in PRECISIONS:
            p.append(f"--precision must be one of {', '.join(PRECISIONS)} (got {self.precision!r})")
        if not 0 <= self.seed < 2 ** 63:
            p.append(f"--seed must be a whole number from 0 to 2**63 - 1 (got {self.seed})")
        check(p)
        return self

    def to_dict(self) -> dict:
        return asdict(self)


MAX_SAMPLE_TOKENS = 10_000_000  # tokens kept in memory for returned samples (streaming has no cap)


@dataclass
class SampleConfig:
    """How to generate: length, randomness and truncation of the distribution."""

    length: int = 500
    temperature: float = 0.8  # 0: greedy, as is anything below sample.GREEDY_BELOW
    top_k: int | None = None  # None: off
    top_p: float = 1.0  # 1.0: off
    prime: str = ""
    num_samples: int = 1
    seed: int | None = None
    precision: str = "auto"  # auto/int8: int8 weights on the CPU (much faster); fp32: exact

    def validate(self, streaming: bool = False) -> "SampleConfig":
        """Check every setting; ``streaming`` lifts the cap on kept tokens (nothing is kept)."""
        check_types(self)
        p = []
        if self.length < 1:
            p.append(f"--length must be at least 1 (got {self.length})")
        elif not streaming and self.length * max(self.num_samples, 1) > MAX_SAMPLE_TOKENS:
            p.append(f"--length x --num-samples is at most {MAX_SAMPLE_TOKENS:,} tokens (got "
                     f"{self.length * self.num_samples:,}); a single sample streams without a limit")
        if not self.temperature >= 0 or not math.isfinite(self.temperature):
            p.append(f"--temperature must be 0 (greedy) or positive (got {self.temperature})")
        if self.top_k is not None and self.top_k < 1:
            p.append(f"--top-k must be at least 1; leave it out to sample from all tokens (got {self.top_k})")
        if not (0.0 < self.top_p <= 1.0):  # also rejects nan
            p.append(f"--top-p must be in (0, 1] (got {self.top_p})")
        if self.num_samples < 1:
            p.append(f"--num-samples must be at least 1 (got {self.num_samples})")
        if self.precision not in ("auto", "int8", "fp32"):
            p.append(f"--precision must be auto, int8 or fp32 (got {self.precision!r})")
        if self.seed is not None and not 0 <= self.seed < 2 ** 63:
            p.append(f"--seed must be a whole number from 0 to 2**63 - 1 (got {self.seed})")
        check(p)
        return self

    def with_samples(self, n: int) -> "SampleConfig":
        return replace(self, num_samples=n)


def parse_duration(text: str) -> float:
    """Turn '90', '90s', '10m', '1.5h' into seconds."""
    units = {"s": 1, "m": 60, "h": 3600}
    raw = text.strip().lower()
    scale = units.get(raw[-1:], None)
    number = raw[:-1] if scale else raw
    try:
        value = float(number) * (scale or 1)
    except ValueError:
        raise UsageError(f"--time-budget: cannot read {text!r}; use e.g. 90s, 10m or 1.5h") from None
    if not value > 0 or not math.isfinite(value):
        raise UsageError(f"--time-budget must be a positive duration, e.g. 90s, 10m or 1.5h (got {text!r}); "
                         "leave it out for no time limit")
    return value
