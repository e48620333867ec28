"""What the hardware can do at the LSTM's own matrix shapes, and what one training token costs.

An LSTM layer does two kinds of matrix product (B = batch, T = steps, E = input, H = hidden):

    input projection   (B*T x E) @ (E x 4H)   all steps at once: large, can reach the peak
    recurrent          (B   x H) @ (H x 4H)   one per step, in sequence: small, bound by memory

The peak is measured at the first shape: the most this model's products could run at. The second
is reported beside it, to show how far below the peak the sequential part must stay.
"""

from __future__ import annotations

import time

import torch

from ..models.rnn_config import ModelConfig
from ..hardware.timing import interleave, rates, synchronizer

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


def matmul_gflops(rows: int, inner: int, cols: int, precision: str, device: torch.device,
                  repeats: int, min_seconds: float = 0.01) -> float | None:
    """Median GFLOP/s of (rows x inner) @ (inner x cols) in ``precision`` on ``device``;
    None where the device cannot multiply in that precision at all."""
    dtype = DTYPES[precision]
    try:
        a = torch.randn(rows, inner, device=device).to(dtype)
        b = torch.randn(inner, cols, device=device).to(dtype)
        out = torch.empty(rows, cols, device=device, dtype=dtype)
        torch.mm(a, b, out=out)
    except (RuntimeError, TypeError):
        return None
    sync = synchronizer(device)
    # A small product takes microseconds on a GPU: time enough of them in a row that reading the
    # clock and synchronising cost nothing next to them. (This loop also warms the kernels up.)
    calls = 1
    while True:
        sync()
        start = time.perf_counter()
        for _ in range(calls):
            torch.mm(a, b, out=out)
        sync()
        if time.perf_counter() - start >= min_seconds or calls >= 1 << 16:
            break
        calls *= 2

    def products() -> None:
        for _ in range(calls):
            torch.mm(a, b, out=out)

    seconds = interleave({"mm": products}, repeats, warmup=1, sync=sync)["mm"]
    return rates(seconds, 2 * rows * inner * cols * calls).median / 1e9


def lstm_flops_per_token(cfg: ModelConfig) -> float:
    """FLOPs (2 per multiply-add) of one training token with a full softmax: the forward pass,
    and twice that for the backward one (gradients of inputs and of weights)."""
    E, H, V, L = cfg.embed_size, cfg.hidden, cfg.vocab_size, cfg.layers
    gates = 4 if cfg.cell == "lstm" else 3 if cfg.cell == "gru" else 1
    forward = sum(2 * gates * H * ((E if i == 0 else H) + H) for i in range(L))
    D = E if cfg.tie else H  # the head's input size (model.py)
    forward += 2 * D * V + (2 * H * E if cfg.tie and H != E else 0)  # head, and the projection to E
    return 3 * forward
