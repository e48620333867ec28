"""What kind of machine this is, as far as speed goes: the CPU's model and the flags that decide
which kernels run (AVX2, AVX-512, bf16, AMX), the instruction set torch dispatches to, and the
environment variables that cap them.

Two benchmark results are only comparable when these agree, so ``seqgen bench --json`` records
them; the precision verdict (precision.py) is cached under them, so that a changed CPU, torch or
cap measures again.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform

import torch

# The flags that change which of torch's and oneDNN's kernels run, in this order in the record.
FLAGS = ("avx2", "fma", "avx512f", "avx512_bf16", "avx512_fp16", "amx_tile", "amx_bf16", "amx_int8")
# oneDNN reads the first two (DNNL_ is its older name), ATen the third: each caps the instruction
# set below what the CPU has, e.g. ONEDNN_MAX_CPU_ISA=AVX2 ATEN_CPU_CAPABILITY=avx2 stands for a
# CPU without AVX-512.
ISA_CAPS = ("ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA", "ATEN_CPU_CAPABILITY")


def _cpuinfo() -> dict[str, str]:
    """The first processor's fields of /proc/cpuinfo (empty where there is none: macOS, Windows)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            block = fh.read().split("\n\n", 1)[0]
    except OSError:
        return {}
    return {k.strip(): v.strip() for k, _, v in (line.partition(":") for line in block.splitlines())}


def describe() -> dict[str, object]:
    """The CPU model, its relevant flags, torch's CPU capability and the caps in force."""
    info = _cpuinfo()
    flags = set(info.get("flags", "").split())
    return {"cpu_model": info.get("model name") or platform.processor() or platform.machine(),
            "cpu_flags": [f for f in FLAGS if f in flags],
            "cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "isa_caps": {name: os.environ[name] for name in ISA_CAPS if name in os.environ},
            "omp_wait_policy": wait_policy(),
            "torch": torch.__version__}


def wait_policy(env=os.environ) -> str:
    """How torch's OpenMP threads wait for each other in the environment ``env`` (this process's:
    ``seqgen/__init__.py``)."""
    if "OMP_WAIT_POLICY" in env:
        return env["OMP_WAIT_POLICY"]
    if "GOMP_SPINCOUNT" in env:
        return f"GOMP_SPINCOUNT={env['GOMP_SPINCOUNT']}, KMP_BLOCKTIME={env.get('KMP_BLOCKTIME', '(default)')}"
    return "(OpenMP's default: spin, then sleep)"


def key() -> str:
    """A short name for this kind of machine (``describe`` hashed)."""
    return hashlib.sha256(json.dumps(describe(), sort_keys=True).encode()).hexdigest()[:16]
