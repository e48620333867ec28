"""The configurations of training, sampling and tunes to order: each option declared once.

A field is an option: its name, type and default are the dataclass field's, its help text and
check are its ``option(...)`` metadata (``options.py`` says why this form). The command line, the
API's keyword arguments and the studio's request model are built from these classes, and
``validate`` runs the checks. The same objects are stored in checkpoints (as plain dicts), so a
run can be rebuilt exactly. Each ``validate`` reports every problem at once.
"""

from __future__ import annotations

import math
import secrets
from dataclasses import asdict, dataclass, fields, replace

from .hardware import INT8_FROM, PRECISIONS
from .errors import UsageError
from .options import SEED, Rule, at_least, check, check_types, finite, not_negative, one_of, option, problems, typed

__all__ = ["TrainConfig", "SampleConfig", "TuneOptions", "FillOptions", "check", "check_types", "typed", "from_dict",
           "parse_duration", "RESUMABLE", "LEVELS", "DIRECTIONS", "MAX_SAMPLE_TOKENS"]

LEVELS = ("char", "word")
DIRECTIONS = ("forward", "backward")  # backward: the same network on the reversed token stream


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


def from_dict(cls, data: dict):
    """Build a config dataclass from a stored dict, ignoring keys a newer version added."""
    names = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in data.items() if k in names})


# What may change when a run is resumed: its limits, and where and how precisely it computes.
RESUMABLE = ("epochs", "max_steps", "time_budget", "patience", "eval_every", "eval_tokens", "device", "precision")
_POSITIVE = finite(lambda v: v > 0, "must be a positive number")


@dataclass
class TrainConfig:
    """How to train: data split, optimisation, stopping and output."""

    level: str = option("char", "Tokens: char or word.", check=one_of(LEVELS))
    seq_len: int = option(128, "Truncated BPTT length; the state carries across batches.", check=at_least(1))
    batch_size: int = option(16, "Sequences per batch (per process).", check=at_least(1))
    lr: float = option(3e-3, "Peak learning rate (AdamW, warm-up then cosine decay). [default: 0.003; with "
                             "--time-budget and no shape given, the rate of the shape the plan chooses]",
                      check=_POSITIVE)
    weight_decay: float = option(0.01, "AdamW weight decay.")
    warmup_steps: int = option(100, "Steps of linear warm-up of the learning rate.", check=not_negative())
    clip: float = option(1.0, "Gradient-norm clipping (0: off).",
                         check=finite(lambda v: v >= 0, "must be 0 (off) or positive"))
    epochs: int = option(50, "Passes over the training text.", check=at_least(1))
    max_steps: int = option(0, "Stop after this many steps in all (0: no limit).", check=not_negative())
    time_budget: float = option(0.0, "Stop cleanly after this long, e.g. 90s, 10m, 1h; with --resume, this much "
                                "more. [default: no limit]", check=not_negative(), reader=parse_duration)
    val_fraction: float = option(0.1, "Share of the text held out for validation.",
                                 check=Rule(lambda v: 0.0 < v < 0.5, "must be between 0 and 0.5"))
    eval_every: int = option(0, "Steps between validations (0: as by default). [default: 100; in a timed "
                                "run at least 100, and as many more as keep them to about 50 in the budget "
                                "and their time, checkpoints included, under 3% of it]", check=not_negative())
    eval_tokens: int = option(200_000, "Held-out tokens scored at each validation (0: all).", check=not_negative())
    patience: int = option(6, "Validations without improvement before stopping early (0: never).",
                           check=not_negative())
    seed: int = option(1337, "Random seed.", check=SEED)
    max_vocab: int = option(0, "Word level: keep at most this many words (0: all).", check=not_negative())
    min_count: int = option(1, "Word level: rarer words become <unk>.", check=at_least(1))
    direction: str = option("forward", "forward, or backward: the text read from its end to its start, for a model "
                            "that scores fills beside a forward one (seqgen sample FORWARD --fill FILE --backward "
                            "THIS); a backward model does not write text.", check=one_of(DIRECTIONS))
    fill_rate: float = option(0.0, "Fill in the middle: this share of the training documents (tunes; of plain text, "
                              "windows of 256 tokens) rearranged as prefix, suffix, middle, so that the model learns "
                              "to fill a gap; 0.5 is a good start. The held-out text stays plain. [default: 0 (off)]",
                              check=Rule(lambda v: 0.0 <= v <= 1.0, "must be from 0 to 1"))
    device: str = option("auto", "auto (a CUDA GPU, else Apple's MPS, else the CPU), cpu, cuda or mps.")
    precision: str = option("auto", "auto (the fastest that runs here: bf16 on recent GPUs, fp16 on older ones, on a "
                            "CPU bf16 only where timed faster than fp32), fp32, bf16 or fp16.",
                            check=one_of(PRECISIONS))

    def validate(self) -> "TrainConfig":
        found = problems(self)
        if not found and self.direction == "backward" and self.fill_rate > 0:
            found.append("--fill-rate trains a forward model to write fills; a backward model (--direction backward) "
                         "only scores them: give one or the other")
        check(found)
        return self

    def to_dict(self) -> dict:
        return asdict(self)


MAX_SAMPLE_TOKENS = 10_000_000  # tokens kept in memory for returned samples (streaming has no cap)
# 0 is greedy, as is anything below sample.GREEDY_BELOW
_TEMPERATURE = finite(lambda v: v >= 0, "must be 0 (greedy) or positive")


@dataclass
class SampleConfig:
    """How to generate: length, randomness and truncation of the distribution. The order of the
    fields is the order the API takes them by position (``model.generate("ROMEO:", 300)``)."""

    prime: str = option("", "Text to start from. [default: none]")
    length: int = option(500, "Tokens to generate per sample.", check=at_least(1))
    temperature: float | list[float] = option(0.8, "Randomness: > 0; 0 (or below 1e-4) picks the likeliest "
                                              "token. Several, as 0.5,0.8,1.0: the same seed at each, labelled.",
                                              check=_TEMPERATURE, several=True)
    top_k: int | None = option(None, "Sample only from the k likeliest tokens. [default: off]",
                               check=at_least(1, "must be at least 1; leave it out to sample from all tokens"))
    top_p: float = option(1.0, "Sample from the smallest set of tokens with this much probability, in (0, 1]. "
                          "[default: 1.0 (off); 0.7 for music models]", varies=True,
                          check=Rule(lambda v: 0.0 < v <= 1.0, "must be in (0, 1]"))  # also rejects nan
    seed: int | None = option(None, "Random seed: the same seed gives the same text. [default: a new one each time]",
                              check=SEED)
    num_samples: int = option(1, "How many samples, drawn side by side.", check=at_least(1))
    precision: str = option("auto", f"auto: int8 weights on the CPU for a model of {INT8_FROM:,} weights or "
                            "more (faster there; a smaller one samples faster as it is), the model as it is "
                            "on a GPU; int8; fp32: exact.",
                            check=one_of(("auto", "int8", "fp32"), "must be auto, int8 or fp32"))

    def validate(self, streaming: bool = False) -> "SampleConfig":
        """Check every setting; ``streaming`` lifts the cap on kept tokens (nothing is kept)."""
        found = problems(self)
        if not found and not streaming and self.length * self.num_samples > MAX_SAMPLE_TOKENS:
            found.append(f"--length x --num-samples is at most {MAX_SAMPLE_TOKENS:,} tokens (got "
                         f"{self.length * self.num_samples:,}); a single sample streams without a limit")
        check(found)
        return self

    def with_samples(self, n: int) -> "SampleConfig":
        return replace(self, num_samples=n)

    @property
    def temperatures(self) -> list[float]:
        """The temperature, or the list of them, as a list."""
        return self.temperature if isinstance(self.temperature, list) else [self.temperature]

    def at_each_temperature(self) -> list["SampleConfig"]:
        """One configuration per temperature of a list, all with the same seed (one is chosen now
        when none was given), so that they differ only in their temperature; ``[self]`` for one."""
        if not isinstance(self.temperature, list):
            return [self]
        seed = self.seed if self.seed is not None else secrets.randbits(63)
        return [replace(self, temperature=t, seed=seed) for t in self.temperature]


@dataclass
class TuneOptions:
    """Tunes to order (music models): what every tune must have. Checked by
    ``music.conditions.conditions``, which reads them with music21."""

    meter: str | None = option(None, "Music models: every tune in this meter (6/8, 3/4, C, C|, ...). "
                               "[default: the model's choice]")
    key: str | None = option(None, "Music models: every tune in this key and mode (G, Dmix, Ador, Bm, ...). "
                             "[default: the model's choice]")
    prime_abc: str | None = option(None, "Music models: every tune's body starts with these bars, in eighth notes "
                                   "(\"|:d2B AFD|EFG A2B|\"). [default: none]")


@dataclass
class FillOptions:
    """Filling gaps (``seqgen.fill``): where the gaps are, and how fills are drawn and ranked."""

    fill: str | None = option(None, "Fill the gaps of this file (- for standard input): [...] in text, a bar "
                              "written as ... between bar lines in a tune (| ... |). --num-samples (or --tunes) "
                              "alternatives, best first. [default: no gaps; sample from the start]")
    backward: str | None = option(None, "With --fill: a backward model of the same text (seqgen train "
                                  "--direction backward) that also judges each fill. [default: none]")
    fill_method: str = option("auto", "With --fill: auto; left (the text before the gap only); pair (how well "
                              "the text after the gap follows, and the backward model's view); fim (a model "
                              "trained with --fill-rate).", check=one_of(("auto", "left", "pair", "fim")))
    candidates: int = option(20, "With --fill: fills drawn for each gap, of which the best are kept.",
                             check=at_least(1))

    def validate(self) -> "FillOptions":
        check(problems(self))
        return self
