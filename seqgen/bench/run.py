"""``run_bench``: every figure of ``seqgen bench`` as one flat dict, and the sizes it runs at."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, replace

import torch

from ..config import TrainConfig
from ..models.rnn_config import ModelConfig
from ..hardware import machine
from ..hardware.device import choose_device, resolve_precision
from ..hardware.precision import runs_in
from ..data.vocab import Vocab
from .ladder import Setting, ladder_figures
from .peak import lstm_flops_per_token, matmul_gflops
from .sampling import sampling_figures
from .tokenise import tokenise_speed

OnFigure = Callable[[str, object], None]


@dataclass(frozen=True)
class Sizes:
    """How big and how often. Models are as ``seqgen train`` builds them (2 layers of 512, batch
    16) unless a size here says otherwise; ``peak_rows`` is the B*T of the input projection at
    which the matrix-multiply peak is measured."""

    name: str
    repeats: int  # timed runs of each figure
    warmup: int  # untimed runs before them
    hidden: int = ModelConfig.hidden
    batch: int = TrainConfig.batch_size
    char_vocab: int = 67
    char_seq_len: int = TrainConfig.seq_len
    word_vocab: int = 18_000
    word_seq_len: int = 64
    peak_rows: int = TrainConfig.batch_size * TrainConfig.seq_len
    sample_lengths: tuple[tuple[int, int], ...] = ((1, 200), (64, 100))  # (batch, chars per row)
    tokenise_mb: float = 100


FULL = Sizes("full", repeats=5, warmup=2)
# Shorter batches and samples, fewer runs; the same models, and the peak at the full shape.
QUICK = Sizes("quick", repeats=3, warmup=1, char_seq_len=32, word_seq_len=16,
              sample_lengths=((1, 100), (64, 32)), tokenise_mb=10)
# For tests: every figure, in a second or two. (2,100 words: the adaptive softmax needs a
# vocabulary past its 2,000-word shortlist.)
TINY = Sizes("tiny", repeats=3, warmup=1, hidden=16, batch=4, char_vocab=30, char_seq_len=8, word_vocab=2100,
             word_seq_len=8, peak_rows=64, sample_lengths=((1, 10), (64, 4)), tokenise_mb=0.2)


def sizes_for(quick: bool) -> Sizes:
    return QUICK if quick else FULL


def mixed_precision(device: torch.device, precision: str) -> str | None:
    """The lower precision the ladder's mixed rung runs in: the one ``seqgen train`` picks here, or
    where that is fp32 the one it would take with ``--precision bf16`` (or fp16) if that runs, so
    that the table shows what it would be worth; None where none runs."""
    if precision != "fp32":
        return precision
    return next((p for p in ("bf16", "fp16") if runs_in(p, device.type)), None)


def no_mixed_reason(device: torch.device) -> str:
    """Why the mixed rung cannot run on ``device``."""
    if device.type == "cpu":
        return "oneDNN cannot run a bf16 LSTM on this CPU (it needs AVX512-BF16 or AMX): seqgen trains in fp32 here"
    return f"no lower precision runs on {device.type}: seqgen trains in fp32 there"


def settings(sizes: Sizes, word_vocab: int) -> list[Setting]:
    """The char model, the default word model, and the large-vocabulary word model."""
    char = replace(ModelConfig.for_level("char"), vocab_size=sizes.char_vocab, hidden=sizes.hidden)
    word = replace(ModelConfig.for_level("word"), vocab_size=word_vocab, hidden=sizes.hidden)
    return [Setting("char", char, sizes.batch, sizes.char_seq_len),
            Setting("word_default", word, sizes.batch, sizes.word_seq_len),
            Setting("word_large", replace(word, tie=False), sizes.batch, sizes.word_seq_len, adaptive_rung=True)]


def run_bench(sizes: Sizes = FULL, device: str = "auto", word_text: str | None = None,
              on_figure: OnFigure | None = None) -> dict[str, object]:
    """All figures as one dict (the README's Benchmark section says what each key means).

    ``device`` as for ``seqgen train`` (auto, cpu, cuda, mps); training runs there, sampling and
    tokenising on the CPU, as ``seqgen sample`` and ``seqgen train`` do them.
    """
    dev = choose_device(device)
    torch.manual_seed(0)
    figures: dict[str, object] = {}
    skipped: dict[str, str] = {}

    def put(values: dict[str, object]) -> None:
        for name, value in values.items():
            figures[name] = value
            if on_figure:
                on_figure(name, value)

    precision = resolve_precision("auto", dev)  # what `seqgen train` runs in here
    mixed = mixed_precision(dev, precision)
    put(machine.describe())
    put({"device": dev.type, "threads": torch.get_num_threads(), "load_average": _load_average(),
         "precision": precision, "mixed_precision": mixed, "sizes": sizes.name, "repeats": sizes.repeats,
         "warmup": sizes.warmup})
    put(_peaks(sizes, dev, precision))
    V = len(Vocab.build([word_text], "word")) if word_text else sizes.word_vocab
    put({"word_vocab": V})
    for setting in settings(sizes, V):
        values, why = ladder_figures(setting, dev, mixed, no_mixed_reason(dev), sizes.repeats, sizes.warmup)
        put(values)
        skipped.update(why)
        if setting.prefix == "char":
            put(_share_of_peak(setting, figures, precision))
    values, why = sampling_figures(sizes.hidden, ModelConfig.layers, sizes.char_vocab, dict(sizes.sample_lengths),
                                   sizes.repeats, sizes.warmup)
    put(values)
    skipped.update(why)
    put(_tokenising(sizes.tokenise_mb))
    put({"skipped": skipped})
    return figures


def _peaks(sizes: Sizes, device: torch.device, precision: str) -> dict[str, object]:
    """Matrix-multiply GFLOP/s at the char model's input projection (fp32, bf16 and the precision
    training runs in) and at its recurrent product (that precision)."""
    H, rows, B = sizes.hidden, sizes.peak_rows, sizes.batch
    peak = {p: matmul_gflops(rows, H, 4 * H, p, device, sizes.repeats)
            for p in dict.fromkeys(("fp32", "bf16", precision))}
    return {"matmul_shapes": f"input projection ({rows}x{H}) @ ({H}x{4 * H}); recurrent ({B}x{H}) @ ({H}x{4 * H})",
            "matmul_fp32_gflops": peak["fp32"], "matmul_bf16_gflops": peak["bf16"],
            "matmul_peak_gflops": peak[precision],
            "matmul_recurrent_gflops": matmul_gflops(B, H, 4 * H, precision, device, sizes.repeats)}


def _share_of_peak(char: Setting, figures: dict[str, object], precision: str) -> dict[str, object]:
    """GFLOP/s of seqgen's char training step in the precision it trains in here, and its share of
    the matrix-multiply peak in that same precision."""
    rung = "seqgen_fp32" if precision == "fp32" else "seqgen_mixed"
    gflops = figures[f"char_{rung}_tokens_per_s"] * lstm_flops_per_token(char.model) / 1e9
    peak = figures["matmul_peak_gflops"]
    return {"char_gflops": gflops, "char_share_of_peak": gflops / peak if peak else None}


def _load_average() -> float | None:
    """Processes wanting the CPU over the last minute (before we start): other work slows every
    figure, and the reader should know."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return None


def _tokenising(target_mb: float) -> dict[str, object]:
    from pydoc_data.topics import topics  # real English prose that ships with Python

    return tokenise_speed("\n".join(topics[k] for k in sorted(topics)), target_mb)
