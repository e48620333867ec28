"""Which training precisions run here, and which one is fastest.

Whether a precision runs is tried, not read from a flag: torch may report bf16 support where
oneDNN's LSTM then refuses it ("could not create a primitive descriptor"), as on CPUs without
AVX512-BF16 or AMX, and fp16 has no CPU LSTM at all. ``runs_in`` steps a tiny LSTM once under
autocast and checks that it really computed in that precision.

Running is not being faster: on some CPUs with AVX512-BF16, oneDNN's bf16 LSTM trains a 512-wide
model slower than fp32 (it converts weights and states every time step). So on the CPU ``auto``
times one LSTM training step of the default width and window in each precision, once its time has
settled (``timing.interleave``), once per kind of machine (two seconds or so), and keeps the
verdict in ``$XDG_CACHE_HOME/seqgen/precision.json`` under ``machine.key()``. The window must be
the training one: over a few time steps the conversions bf16 makes on each call weigh more than
they do in training, and its gain looked smaller than it is, and varied from run to run around
``CLEARLY_FASTER``.
"""

from __future__ import annotations

import functools
import statistics
from pathlib import Path

import torch

from . import machine
from .timing import interleave
from ..cache import cache_path, load_entries, save_entries
from ..config import TrainConfig

DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}
# hidden (= input) width, batch, time steps of the timed LSTM: the default model's width (written
# out: the machine layer sits below the models; a test holds the two together), batch and window
PROBE = (512, TrainConfig.batch_size, TrainConfig.seq_len)
CLEARLY_FASTER = 1.1  # bf16 must beat fp32 by this much to be chosen: fp32 is exact, so a tie goes to it
VERDICT_RULES = 2  # bump when the probe changes: cached verdicts then no longer hold


@functools.cache
def runs_in(precision: str, device_type: str) -> bool:
    """Whether an LSTM trains under ``precision`` autocast on this device: one step, forward and
    backward, of a 1x1x8 input, its output in that precision."""
    if precision == "fp32":
        return True
    device = torch.device(device_type)
    lstm = torch.nn.LSTM(8, 8, batch_first=True).to(device)
    try:
        with torch.autocast(device_type, dtype=DTYPES[precision]):
            out, _ = lstm(torch.zeros(1, 1, 8, device=device))
        out.float().sum().backward()
    except (RuntimeError, NotImplementedError):
        # The only way a backend says "not this precision here": oneDNN's refusal, a missing
        # kernel. Nothing else can fail in eight numbers.
        return False
    return out.dtype == DTYPES[precision]  # without oneDNN, autocast leaves the LSTM in fp32


def fastest_cpu_precision() -> str:
    """fp32, or bf16 where it runs and trains clearly faster here (measured once per machine)."""
    if not runs_in("bf16", "cpu"):
        return "fp32"
    return "bf16" if bf16_speedup() >= CLEARLY_FASTER else "fp32"


def bf16_speedup() -> float:
    """fp32 time / bf16 time of one LSTM training step on the CPU: from the cache, else measured."""
    cache = _load()
    name = machine.key()
    if not isinstance(cache.get(name), (int, float)):
        cache[name] = _time_bf16_over_fp32()
        _save(cache)
    return float(cache[name])


def _time_bf16_over_fp32(repeats: int = 3) -> float:
    """Median step times once they have settled, in turns (fp32, bf16, fp32, ...) so that other
    work slows both alike."""
    hidden, batch, steps = PROBE
    gen = torch.Generator().manual_seed(0)
    lstm = torch.nn.LSTM(hidden, hidden, batch_first=True)
    x = torch.randn(batch, steps, hidden, generator=gen)

    def step(precision: str) -> None:
        with torch.autocast("cpu", dtype=DTYPES.get(precision, torch.float32), enabled=precision != "fp32"):
            out, _ = lstm(x)
        out.float().sum().backward()

    times = interleave({p: functools.partial(step, p) for p in ("fp32", "bf16")}, repeats, warmup=1)
    return statistics.median(times["fp32"]) / statistics.median(times["bf16"])


def cache_file() -> Path:
    """``$XDG_CACHE_HOME/seqgen/precision.json`` (``~/.cache/...`` when the variable is unset)."""
    return cache_path("precision.json")


WHAT, UNREADABLE, UNWRITABLE = "precision cache", "bf16 is timed again", "bf16 will be timed again next time"


def _load() -> dict[str, object]:
    return load_entries(cache_file(), "speedups", VERDICT_RULES, WHAT, UNREADABLE)


def _save(cache: dict[str, object]) -> None:
    save_entries(cache_file(), "speedups", VERDICT_RULES, cache, WHAT, UNREADABLE, UNWRITABLE)
