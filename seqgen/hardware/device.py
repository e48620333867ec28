"""Where and how precisely to compute: the device, and mixed precision on it.

``auto`` picks CUDA, then Apple MPS, then the CPU; and the fastest precision that runs there: bf16
autocast on a GPU that has bf16 natively (Ampere and newer) where a step of cuDNN's LSTM runs in it,
else fp16 with loss scaling; on a CPU bf16 only where oneDNN runs it and it measurably trains
faster than fp32 (precision.py); fp32 elsewhere. Weights and optimizer state stay fp32 in every
case; autocast runs the matrix products (and cuDNN's or oneDNN's LSTM) in the lower precision.
"""

from __future__ import annotations

import contextlib
import os
import threading

import torch

from ..errors import UsageError
from . import PRECISIONS
from .precision import DTYPES, fastest_cpu_precision, runs_in


def choose_device(name: str = "auto") -> torch.device:
    """CUDA, then Apple MPS, then CPU; or exactly the device asked for."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise UsageError(f"--device {name!r} is not a device; use auto, cpu, cuda or mps") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda: no CUDA GPU is available here; use --device cpu")
    if device.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise UsageError("--device mps: Apple's Metal backend is not available here; use --device cpu")
    return device


def resolve_precision(precision: str, device: torch.device) -> str:
    """The precision ``auto`` means on ``device``; an explicit one that cannot run here is refused
    with what can."""
    if precision not in PRECISIONS:
        raise UsageError(f"--precision must be one of {', '.join(PRECISIONS)} (got {precision!r})")
    if precision == "auto":
        return auto_precision(device)
    if not runs_in(precision, device.type):
        raise UsageError(refusal(precision, device))
    return precision


def auto_precision(device: torch.device) -> str:
    """The fastest precision that trains correctly on ``device``.

    A GPU's tensor cores multiply bf16 and fp16 several times faster than fp32: bf16 where the GPU
    has it natively (Ampere and newer; older ones only emulate it), else fp16 with loss scaling.
    A CPU: whatever the machine's timing says (precision.fastest_cpu_precision). MPS: fp32.
    """
    if device.type == "cuda":
        if torch.cuda.is_bf16_supported(including_emulation=False) and runs_in("bf16", "cuda"):
            return "bf16"
        return "fp16" if runs_in("fp16", "cuda") else "fp32"
    if device.type == "cpu":
        return fastest_cpu_precision()
    return "fp32"


def refusal(precision: str, device: torch.device) -> str:
    """Why ``precision`` cannot run on ``device``, what can, and what to pass instead."""
    able = [p for p in ("fp32", "bf16", "fp16") if runs_in(p, device.type)]
    where = "this CPU" if device.type == "cpu" else f"this {device.type} device"
    why = {("cpu", "bf16"): " (oneDNN's LSTM needs AVX512-BF16 or AMX for it)",
           ("cpu", "fp16"): " (there is no fp16 LSTM on CPUs)"}.get((device.type, precision), "")
    if len(able) == 1:
        return f"--precision {precision} cannot run on {where}{why}; it trains in fp32 only: pass --precision fp32 or auto"
    return (f"--precision {precision} cannot run on {where}{why}; it can train in {' or '.join(able)}: "
            f"pass --precision auto (the fastest of those) or {able[-1]}")


def autocast(device: torch.device, precision: str):
    """The mixed-precision context for ``precision`` (a no-op for fp32)."""
    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=DTYPES[precision])


class SharedSetting:
    """A process-wide torch setting that overlapping samplings share (the studio serves several,
    and a stream may be closed before one started after it): the first to start sets it, the last
    to end puts back what it was, whichever thread each runs in and in whatever order they end."""

    def __init__(self, get, put):
        self.get, self.put = get, put
        self.lock = threading.Lock()
        self.users = 0  # samplings holding it now
        self.before = None  # the value to put back when the last one ends

    @contextlib.contextmanager
    def held(self, value):
        with self.lock:
            if self.users == 0:
                self.before = self.get()
                self.put(value)
            self.users += 1
        try:
            yield
        finally:
            with self.lock:
                self.users -= 1
                if self.users == 0:
                    self.put(self.before)


_THREADS = SharedSetting(torch.get_num_threads, torch.set_num_threads)


def sampling_threads() -> int:
    """The CPU threads sampling uses: one, unless ``OMP_NUM_THREADS`` asks for a number.

    Sampling is one time step after another, each too little work to share: a second thread
    gains at most about a fifth on a quiet machine, and on a busy one (a training in the next
    terminal) every step waits for a descheduled partner, several times slower than one thread
    (the README's figures)."""
    return torch.get_num_threads() if "OMP_NUM_THREADS" in os.environ else 1


def threads_for_sampling():
    """torch's thread count set to ``sampling_threads()`` within, and restored after. The count is
    the process's: overlapping samplings share the setting and the last one to end restores it."""
    return _THREADS.held(sampling_threads())


def available_memory(device: torch.device) -> int | None:
    """Bytes free for a model on ``device`` (the CPU: memory the system can give), or None
    when it cannot be told."""
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0]
    if device.type == "cpu":
        try:
            with open("/proc/meminfo", encoding="ascii") as fh:
                info = dict(line.split(":", 1) for line in fh)
            return int(info["MemAvailable"].split()[0]) * 1024
        except (OSError, KeyError, ValueError):
            try:
                return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
            except (ValueError, OSError, AttributeError):
                return None
    return None


def format_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1000
    return f"{n:,.1f} TB"
