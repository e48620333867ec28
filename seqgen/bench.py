"""Benchmark: how fast seqgen trains, samples and tokenises here, next to a textbook loop.

Every figure is the median of several timed runs after a warm-up. Training throughput goes
through the same ``Stepper`` as ``seqgen train`` (mixed precision where the hardware has it,
fused AdamW, the adaptive softmax for large vocabularies) and is compared with a reference loop
measured side by side in the same process: the textbook word_language_model recipe, nn.LSTM
over the whole batch, a full softmax, fp32, plain SGD, one optimizer step per batch in Python.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from .config import SampleConfig, TrainConfig
from .device import choose_device, resolve_precision
from .models.rnn import RNNLM
from .models.rnn_config import ModelConfig
from .sample import for_sampling, generate
from .step import Stepper
from .vocab import Vocab


def _median_seconds(fn: Callable[[], object], repeats: int, warmup: int = 1) -> float:
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
    out = torch.empty(size, size, dtype=dtype)
    return 2 * size ** 3 / _median_seconds(lambda: torch.mm(a, b, out=out), repeats, warmup=2) / 1e9


def lstm_flops_per_token(cfg: ModelConfig) -> float:
    """Multiply-adds x 2 of one training token with a full softmax: forward, and twice that backward."""
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
    x, y = torch.randint(0, V, (B, T)), torch.randint(0, V, (B, T))
    device = choose_device("cpu")
    precision = resolve_precision("auto", device)
    model = RNNLM(ModelConfig(vocab_size=V, hidden=H, layers=L, dropout=0.2))
    stepper = Stepper(model, device, precision, lr=1e-3)
    ref = _ReferenceLM(V, H, L)
    ref_opt = torch.optim.SGD(ref.parameters(), lr=0.1)

    def reference_step():
        logits, _ = ref(x, None)
        loss = nn.functional.cross_entropy(logits.view(-1, V), y.view(-1))
        ref_opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(ref.parameters(), 0.25)
        ref_opt.step()

    # A few warm-up steps: oneDNN builds its kernels and the allocator its pools on the first ones.
    fast = B * T / _median_seconds(lambda: stepper.step(x, y, None, 1e-3), repeats, warmup=3)
    slow = B * T / _median_seconds(reference_step, repeats, warmup=3)
    return {"tokens_per_s": fast, "reference_tokens_per_s": slow, "speedup": fast / slow,
            "gflops": fast * lstm_flops_per_token(model.config) / 1e9, "precision": precision,
            "softmax": "adaptive" if model.config.adaptive_cutoffs else "full"}


def sampling_speed(H: int, L: int, V: int, batch: int, length: int, repeats: int = 3) -> float:
    """Characters per second generated, all rows of the batch counted."""
    model = for_sampling(RNNLM(ModelConfig(vocab_size=V, hidden=H, layers=L)))  # as `seqgen sample` does
    vocab = Vocab(["<unk>", "<eos>"] + [chr(65 + i) for i in range(V - 2)], "char")
    cfg = SampleConfig(length=length, temperature=1.0, num_samples=batch, seed=0)
    return batch * length / _median_seconds(lambda: generate(model, vocab, cfg), repeats)


_TOKENISE = """
import json, resource, sys, time
from seqgen.tokens import tokenize_corpus
start = time.perf_counter()
data = tokenize_corpus([sys.argv[1]], sys.argv[2])
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"seconds": seconds, "peak_bytes": peak, "tokens": len(data.ids), "cached": data.from_cache}))
"""


def tokenise_speed(text: str, target_mb: int, level: str = "char") -> dict:
    """Seconds and peak memory to tokenise ``target_mb`` MB of ``text`` repeated, in a fresh
    process (so peak memory is that of tokenising alone), then again from the on-disk cache."""
    repeats = max(1, -(-target_mb * 1_000_000 // max(len(text.encode()), 1)))
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus.txt"
        with open(corpus, "w", encoding="utf-8") as fh:
            for _ in range(repeats):
                fh.write(text)
        env = {**os.environ, "XDG_CACHE_HOME": str(Path(tmp) / "cache")}
        runs = [json.loads(subprocess.run([sys.executable, "-c", _TOKENISE, str(corpus), level], env=env,
                                          check=True, capture_output=True, text=True).stdout) for _ in range(2)]
        size = corpus.stat().st_size
    first, second = runs
    return {"tokenise_mb": size / 1e6, "tokenise_s": first["seconds"], "tokenise_peak_mb": first["peak_bytes"] / 1e6,
            "tokenise_cached_s": second["seconds"], "tokens": first["tokens"]}


def run_bench(quick: bool = False, word_text: str | None = None,
              on_figure: Callable[[str, float], None] | None = None) -> dict:
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
    defaults = TrainConfig()
    char = train_throughput(V=67, H=512, L=2, B=defaults.batch_size, T=32 if quick else defaults.seq_len, repeats=r)
    put("char_train_tokens_per_s", char["tokens_per_s"])
    put("char_reference_tokens_per_s", char["reference_tokens_per_s"])
    put("char_speedup", char["speedup"])
    put("char_gflops", char["gflops"])
    put("char_share_of_fp32_peak", char["gflops"] / figures["matmul_fp32_gflops"])
    put("char_share_of_bf16_peak", char["gflops"] / figures["matmul_bf16_gflops"])
    V = len(Vocab.build([word_text], "word")) if word_text else 18_000
    word = train_throughput(V=V, H=256 if quick else 512, L=2, B=defaults.batch_size, T=16 if quick else 64,
                            repeats=r)
    put("word_vocab", V)
    put("word_train_tokens_per_s", word["tokens_per_s"])
    put("word_reference_tokens_per_s", word["reference_tokens_per_s"])
    put("word_speedup", word["speedup"])
    put("sample_chars_per_s_batch1", sampling_speed(512, 2, 67, 1, 100 if quick else 400))
    put("sample_chars_per_s_batch64", sampling_speed(512, 2, 67, 64, 50 if quick else 200))
    text = "\n".join(topics[k] for k in sorted(topics))
    for name, value in tokenise_speed(text, 10 if quick else 100).items():
        put(name, value)
    return figures
