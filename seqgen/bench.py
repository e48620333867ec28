"""Benchmark: how fast seqgen trains, samples and tokenises here, next to a textbook loop.

Every figure is the median of several timed runs after a warm-up. Throughput is compared with a
plain reference loop (nn.LSTM, full softmax, fp32, one optimizer step per batch, as in PyTorch's
word_language_model example) measured side by side in the same process.
"""

from __future__ import annotations

import statistics
import time
import tracemalloc
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from .config import ModelConfig, SampleConfig
from .model import RNNLM
from .sample import generate
from .vocab import Vocab


def _median_seconds(fn: Callable[[], None], repeats: int, warmup: int = 1) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def matmul_peak(dtype: torch.dtype, size: int, repeats: int) -> float:
    """Measured GFLOP/s of a square matrix multiply."""
    a, b = torch.randn(size, size, dtype=dtype), torch.randn(size, size, dtype=dtype)
    return 2 * size ** 3 / _median_seconds(lambda: a @ b, repeats) / 1e9


def lstm_flops_per_token(cfg: ModelConfig) -> float:
    """Multiply-adds x 2 of one training token: forward, and about twice that backward."""
    E, H, V, L = cfg.embed_size, cfg.hidden, cfg.vocab_size, cfg.layers
    gates = 4 if cfg.cell == "lstm" else 3 if cfg.cell == "gru" else 1
    forward = sum(2 * gates * H * ((E if i == 0 else H) + H) for i in range(L)) + 2 * H * V
    return 3 * forward


class _ReferenceLM(nn.Module):
    """The textbook model: embedding, nn.LSTM, full softmax, fp32."""

    def __init__(self, V: int, H: int, L: int):
        super().__init__()
        self.embed, self.rnn, self.head = nn.Embedding(V, H), nn.LSTM(H, H, L, batch_first=True), nn.Linear(H, V)

    def forward(self, x, hidden):
        out, hidden = self.rnn(self.embed(x), hidden)
        return self.head(out), hidden


def train_throughput(V: int, H: int, L: int, B: int, T: int, repeats: int) -> dict:
    """Tokens/s of seqgen's training step and of the reference loop, same sizes and data."""
    x = torch.randint(0, V, (B, T))
    y = torch.randint(0, V, (B, T))
    model = RNNLM(ModelConfig(vocab_size=V, hidden=H, layers=L, dropout=0.2))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)

    def seqgen_step():
        loss, _ = model.loss(x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()

    ref = _ReferenceLM(V, H, L)
    ref_opt = torch.optim.SGD(ref.parameters(), lr=0.1)

    def reference_step():
        logits, _ = ref(x, None)
        loss = nn.functional.cross_entropy(logits.view(-1, V), y.view(-1))
        ref_opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(ref.parameters(), 0.25)
        ref_opt.step()

    tokens = B * T
    fast = tokens / _median_seconds(seqgen_step, repeats)
    slow = tokens / _median_seconds(reference_step, repeats)
    return {"tokens_per_s": fast, "reference_tokens_per_s": slow, "speedup": fast / slow,
            "gflops": fast * lstm_flops_per_token(model.config) / 1e9}


def sampling_speed(H: int, L: int, V: int, batch: int, length: int) -> float:
    """Characters per second generated, all rows of the batch counted."""
    model = RNNLM(ModelConfig(vocab_size=V, hidden=H, layers=L))
    vocab = Vocab(["<unk>", "<eos>"] + [chr(65 + i) for i in range(V - 2)], "char")
    cfg = SampleConfig(length=length, temperature=1.0, num_samples=batch, seed=0)
    seconds = _median_seconds(lambda: generate(model, vocab, cfg), repeats=3)
    return batch * length / seconds


def tokenise_speed(text: str, target_mb: int) -> dict:
    """Seconds and peak Python memory to build a char vocabulary and encode ``target_mb`` MB."""
    big = text * max(1, -(-target_mb * 1_000_000 // max(len(text), 1)))  # at least target_mb
    tracemalloc.start()
    start = time.perf_counter()
    vocab = Vocab.build([big], "char")
    ids = vocab.encode(big)
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {"tokenise_mb": len(big) / 1e6, "tokenise_s": seconds, "tokenise_peak_mb": peak / 1e6,
            "tokens": int(len(ids))}


def run_bench(quick: bool = False, word_text: str | None = None, on_figure: Callable[[str, float], None] | None = None) -> dict:
    """All figures as one dict (see the README for what each one means)."""
    from pydoc_data.topics import topics

    report = on_figure or (lambda name, value: None)
    r = 3 if quick else 7
    figures: dict[str, float] = {}

    def put(name: str, value: float) -> None:
        figures[name] = value
        report(name, value)

    put("matmul_fp32_gflops", matmul_peak(torch.float32, 512 if quick else 1024, r))
    put("matmul_bf16_gflops", matmul_peak(torch.bfloat16, 512 if quick else 1024, r))
    char = train_throughput(V=67, H=512, L=2, B=16, T=64 if quick else 128, repeats=r)
    put("char_train_tokens_per_s", char["tokens_per_s"])
    put("char_reference_tokens_per_s", char["reference_tokens_per_s"])
    put("char_speedup", char["speedup"])
    put("char_gflops", char["gflops"])
    put("char_share_of_fp32_peak", char["gflops"] / figures["matmul_fp32_gflops"])
    put("char_share_of_bf16_peak", char["gflops"] / figures["matmul_bf16_gflops"])
    V = len(Vocab.build([word_text], "word")) if word_text else 18_000
    word = train_throughput(V=V, H=256 if quick else 512, L=2, B=16, T=32 if quick else 64, repeats=r)
    put("word_vocab", V)
    put("word_train_tokens_per_s", word["tokens_per_s"])
    put("word_reference_tokens_per_s", word["reference_tokens_per_s"])
    put("word_speedup", word["speedup"])
    put("sample_chars_per_s_batch1", sampling_speed(512, 2, 67, 1, 100 if quick else 400))
    put("sample_chars_per_s_batch64", sampling_speed(512, 2, 67, 64, 100 if quick else 400))
    text = "\n".join(topics[k] for k in sorted(topics))
    for name, value in tokenise_speed(text, 10 if quick else 100).items():
        put(name, value)
    return figures
