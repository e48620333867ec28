"""The training-speed ladder: one model and one batch, each rung adding one thing to the one below.

    reference         pytorch/examples' word_language_model loop (reference.py): fp32, SGD
    seqgen_fp32       seqgen's training step (step.py: fused AdamW, its dropout), fp32, full softmax
    seqgen_mixed      + mixed precision (the autocast precision ``seqgen train`` picks here)
    seqgen_adaptive   + the adaptive softmax (untied), for the large-vocabulary word setting only

So each rung's speed-up over the one below is what that one thing is worth here. All rungs have
the same V, E, H, L, dropout and tying (the adaptive rung cannot tie: that is its setting), train
on the same (B, T) batch and are timed in turns (timing.interleave).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import torch

from ..config import TrainConfig
from ..models.rnn_config import ModelConfig
from ..models.rnn import RNNLM
from ..training.step import Stepper
from .reference import ReferenceLM, ReferenceLoop
from ..hardware.timing import interleave, rates, spread_figures, synchronizer

RUNGS = ("reference", "seqgen_fp32", "seqgen_mixed", "seqgen_adaptive")
SPEEDUPS = {"seqgen_fp32": "fp32", "seqgen_mixed": "mixed", "seqgen_adaptive": "adaptive"}


@dataclass(frozen=True)
class Setting:
    """A model as ``seqgen train`` builds it, and the batch it trains on."""

    prefix: str  # of the figures' keys: char, word_default, word_large
    model: ModelConfig
    batch: int
    seq_len: int
    adaptive_rung: bool = False

    @property
    def rungs(self) -> tuple[str, ...]:
        return RUNGS if self.adaptive_rung else RUNGS[:-1]

    def describe(self) -> str:
        m = self.model
        return (f"V={m.vocab_size} E={m.embed_size} H={m.hidden} L={m.layers} dropout={m.dropout} "
                f"{'tied' if m.tie else 'untied'}; B={self.batch} T={self.seq_len}")


def zipf_batch(V: int, B: int, T: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs and targets (B, T), targets the inputs shifted by one, ids drawn with Zipf's law.

    seqgen's vocabularies number tokens by frequency, so the adaptive softmax's shortlist holds
    the frequent ones; uniform ids would send most targets to its rare clusters, as text does not.
    """
    gen = torch.Generator().manual_seed(seed)
    weights = 1.0 / torch.arange(1, V + 1, dtype=torch.float64)
    ids = torch.multinomial(weights, B * (T + 1), replacement=True, generator=gen).view(B, T + 1)
    return ids[:, :-1].contiguous(), ids[:, 1:].contiguous()


class SeqgenLoop:
    """``seqgen train``'s step on one fixed batch, with its defaults (lr, weight decay, clip)."""

    def __init__(self, model: RNNLM, device: torch.device, precision: str, x: torch.Tensor, y: torch.Tensor):
        cfg = TrainConfig()
        self.model, self.x, self.y, self.lr = model, x, y, cfg.lr
        self.stepper = Stepper(model, device, precision, cfg.lr, cfg.weight_decay, cfg.clip)
        self.hidden = None

    def step(self) -> float | None:
        loss, self.hidden = self.stepper.step(self.x, self.y, self.hidden, self.lr)
        return loss


def build_rungs(setting: Setting, device: torch.device, mixed: str | None, no_mixed_reason: str,
                x: torch.Tensor, y: torch.Tensor) -> tuple[dict[str, Callable[[], object]], dict[str, str]]:
    """The step of each rung that can run here, and for the others why not.

    ``mixed`` is the autocast precision seqgen trains in on this device (None: it trains in fp32,
    for ``no_mixed_reason``); the adaptive rung runs in it too, as it adds to that rung.
    """
    m = setting.model
    x, y = x.to(device), y.to(device)
    ref = ReferenceLM(m.vocab_size, m.hidden, m.layers, m.dropout, m.tie).to(device)
    steps: dict[str, Callable[[], object]] = {"reference": ReferenceLoop(ref, x, y).step}
    skipped: dict[str, str] = {}
    full = replace(m, softmax="full")

    def seqgen(cfg: ModelConfig, precision: str) -> Callable[[], object]:
        return SeqgenLoop(RNNLM(cfg).to(device), device, precision, x, y).step

    steps["seqgen_fp32"] = seqgen(full, "fp32")
    if mixed:
        steps["seqgen_mixed"] = seqgen(full, mixed)
    else:
        skipped["seqgen_mixed"] = no_mixed_reason
    if setting.adaptive_rung:
        adaptive = replace(m, softmax="adaptive", tie=False)
        if adaptive.adaptive_cutoffs:
            steps["seqgen_adaptive"] = seqgen(adaptive, mixed or "fp32")
        else:
            skipped["seqgen_adaptive"] = (f"a vocabulary of {m.vocab_size} words has no rare words past the "
                                          "shortlist: the adaptive softmax would be a full one")
    return steps, skipped


def ladder_figures(setting: Setting, device: torch.device, mixed: str | None, no_mixed_reason: str,
                   repeats: int, warmup: int) -> tuple[dict[str, object], dict[str, str]]:
    """Tokens/s (median, min, max) of every rung, speed-ups over the reference, and skip reasons;
    keys prefixed with the setting's prefix."""
    x, y = zipf_batch(setting.model.vocab_size, setting.batch, setting.seq_len)
    steps, skipped = build_rungs(setting, device, mixed, no_mixed_reason, x, y)
    times = interleave(steps, repeats, warmup, synchronizer(device))
    tokens = setting.batch * setting.seq_len
    p = setting.prefix
    figures: dict[str, object] = {f"{p}_model": setting.describe()}
    spreads = {rung: rates(times[rung], tokens) for rung in times}
    for rung in setting.rungs:
        figures.update(spread_figures(f"{p}_{rung}_tokens_per_s", spreads.get(rung)))
    for rung in setting.rungs[1:]:
        s = spreads.get(rung)
        figures[f"{p}_speedup_{SPEEDUPS[rung]}"] = s and s.median / spreads["reference"].median
    return figures, {f"{p}_{rung}": why for rung, why in skipped.items()}
