"""nanoGPT's CPU recipe for tiny-shakespeare, trained for a time budget on seqgen's split of a text,
and scored on all of seqgen's held-out text.

    python scripts/nanogpt_recipe.py input.txt --time-budget 3m --seed 1

The recipe is the one nanoGPT's README gives for a machine without a GPU ("I only have a
macbook"): ``python train.py config/train_shakespeare_char.py --device=cpu --compile=False
--eval_iters=20 --log_interval=1 --block_size=64 --batch_size=12 --n_layer=4 --n_head=4
--n_embd=128 --max_iters=2000 --lr_decay_iters=2000 --dropout=0.0``: a GPT of 4 blocks of
4-head causal self-attention and a GELU MLP, pre-LayerNorm, no biases, the token embedding tied
to the output layer, GPT-2's initialisation; AdamW (betas 0.9 and 0.99, weight decay 0.1 on the
matrices only) at 1e-3 with 100 steps of linear warm-up and cosine decay to 1e-4 at
``lr_decay_iters = max_iters``; gradients clipped to norm 1; batches of 12 windows of 64
characters drawn at random from the training text; fp32, as nanoGPT runs on a CPU.

What differs, and why:

- The time budget sets the schedule's length: the cosine runs from the end of the warm-up to the
  end of the training time, by the clock, where nanoGPT's runs from the end of the warm-up to
  ``max_iters``. On a steady machine the two are the same (``max_iters`` the steps that fit); on
  one whose speed changes (first steps slower than the rest, another process starting or ending
  beside it) a ``max_iters`` guessed from some steps ends the run before its budget or cuts its
  decay short, and the clock does neither. The final scoring is timed first on a piece of the
  held-out text and its time kept from the budget; the warm-up, the training and the final scoring
  all count in the budget, as a timed ``seqgen train`` counts its own last evaluation.
- No evaluations along the way (nanoGPT's every 250 steps): the figure is the final model's, as
  for seqgen's arms, so they would only take time from training.
- The data is seqgen's: its character tokens (the vocabulary of the whole text, as nanoGPT's
  ``prepare.py`` builds it, with seqgen's two marks: ``<unk>``, never seen, and the ``<eos>``
  that ends the text) and its split (``val_fraction`` 0.1: the last tenth of the text held out),
  so that every arm trains on the same characters and is scored on the same ones.

Scoring: every held-out character after the first is predicted once (the predictions a seqgen
model's ``score`` counts on the same ids: none for the first, which has nothing before it, and
no training text as context). Windows of ``block_size`` characters slide over the held-out text
``stride`` at a time; the first window counts all its predictions, each later one only the
last ones that no window before it counted, so every prediction sees at least
``block_size - stride + 1`` characters before it (all there are, at the start), and with the
default stride of ``block_size // 4`` between 49 and 64.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

# torch first: OpenMP reads how its threads wait when torch loads, and importing seqgen sets that
# to seqgen's own choice; nanoGPT runs with OpenMP's default, or what the user set.
ENV = dict(os.environ)
import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402
from torch.nn import functional as F  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout, uninstalled

from seqgen.config import TrainConfig, parse_duration  # noqa: E402
from seqgen.data.tokens import split_ids  # noqa: E402
from seqgen.evaluate import Score  # noqa: E402
from seqgen.formats import tokenize_corpus  # noqa: E402
from seqgen.hardware.machine import wait_policy  # noqa: E402

PROBE_CHARS = 4096  # held-out characters scored to time the final scoring


@dataclass
class Recipe:
    """nanoGPT's train_shakespeare_char.py with the README's CPU overrides."""

    block_size: int = 64
    batch_size: int = 12
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128
    dropout: float = 0.0
    bias: bool = False
    learning_rate: float = 1e-3
    min_lr: float = 1e-4
    warmup_iters: int = 100
    beta1: float = 0.9
    beta2: float = 0.99
    weight_decay: float = 0.1
    grad_clip: float = 1.0


# -- the model (nanoGPT's model.py, with torch's LayerNorm, which now leaves its bias out) -----------
class CausalSelfAttention(nn.Module):
    def __init__(self, r: Recipe):
        super().__init__()
        self.c_attn = nn.Linear(r.n_embd, 3 * r.n_embd, bias=r.bias)  # query, key, value of all heads
        self.c_proj = nn.Linear(r.n_embd, r.n_embd, bias=r.bias)
        self.resid_dropout = nn.Dropout(r.dropout)
        self.n_head, self.dropout = r.n_head, r.dropout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, C = x.size()
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)  # (B, nh, T, hs)
                   for t in self.c_attn(x).split(C, dim=2))
        y = F.scaled_dot_product_attention(q, k, v, dropout_p=self.dropout if self.training else 0.0, is_causal=True)
        return self.resid_dropout(self.c_proj(y.transpose(1, 2).reshape(B, T, C)))


class MLP(nn.Module):
    def __init__(self, r: Recipe):
        super().__init__()
        self.c_fc = nn.Linear(r.n_embd, 4 * r.n_embd, bias=r.bias)
        self.c_proj = nn.Linear(4 * r.n_embd, r.n_embd, bias=r.bias)
        self.dropout = nn.Dropout(r.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.c_proj(F.gelu(self.c_fc(x))))


class Block(nn.Module):
    def __init__(self, r: Recipe):
        super().__init__()
        self.ln_1, self.ln_2 = nn.LayerNorm(r.n_embd, bias=r.bias), nn.LayerNorm(r.n_embd, bias=r.bias)
        self.attn, self.mlp = CausalSelfAttention(r), MLP(r)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    def __init__(self, r: Recipe, vocab_size: int):
        super().__init__()
        self.wte, self.wpe = nn.Embedding(vocab_size, r.n_embd), nn.Embedding(r.block_size, r.n_embd)
        self.drop = nn.Dropout(r.dropout)
        self.h = nn.ModuleList(Block(r) for _ in range(r.n_layer))
        self.ln_f = nn.LayerNorm(r.n_embd, bias=r.bias)
        self.lm_head = nn.Linear(r.n_embd, vocab_size, bias=False)
        self.wte.weight = self.lm_head.weight  # tied
        for name, p in self.named_parameters():  # GPT-2's: N(0, 0.02), residual projections scaled down
            if p.dim() == 2:
                nn.init.normal_(p, 0.0, 0.02 / math.sqrt(2 * r.n_layer) if name.endswith("c_proj.weight") else 0.02)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        """Ids (B, T) -> logits (B, T, V)."""
        x = self.drop(self.wte(idx) + self.wpe(torch.arange(idx.size(1))))
        for block in self.h:
            x = block(x)
        return self.lm_head(self.ln_f(x))


def optimizer(model: GPT, r: Recipe) -> torch.optim.AdamW:
    """nanoGPT's configure_optimizers: weight decay on the matrices (and embeddings) only."""
    params = list(model.parameters())  # the tied matrix once
    groups = [{"params": [p for p in params if p.dim() >= 2], "weight_decay": r.weight_decay},
              {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=r.learning_rate, betas=(r.beta1, r.beta2))


def learning_rate(it: int, decayed: float, r: Recipe) -> float:
    """nanoGPT's get_lr: linear warm-up over ``warmup_iters`` steps, then cosine decay to ``min_lr``;
    ``decayed``, 0 to 1, is how far through the decay the run is (nanoGPT's ``decay_ratio``)."""
    if it < r.warmup_iters:
        return r.learning_rate * (it + 1) / (r.warmup_iters + 1)
    coeff = 0.5 * (1.0 + math.cos(math.pi * min(1.0, max(0.0, decayed))))
    return r.min_lr + coeff * (r.learning_rate - r.min_lr)


# -- the data: seqgen's --------------------------------------------------------------------------
def seqgen_split(path: str, seed: int) -> tuple[np.ndarray, np.ndarray, int]:
    """The training and held-out ids a character-level ``seqgen train PATH --seed SEED`` uses,
    and the size of the vocabulary."""
    data = tokenize_corpus([path], "char")
    split = split_ids(data, TrainConfig(seed=seed).val_fraction, seed)
    return np.asarray(split.train, dtype=np.int64), np.asarray(split.val, dtype=np.int64), len(data.vocab)


# -- scoring all of the held-out text ---------------------------------------------------------------
def scoring_windows(n: int, block: int, stride: int) -> list[tuple[int, int]]:
    """(start, counted) of each window over ``n`` ids: it reads ids[start:start + L] (L = the
    block, or fewer ids where there are fewer) to predict ids[start + 1:start + L + 1], and counts
    the last ``counted`` predictions. Together they count each of ids[1:] once.

        ids      0 1 2 3 4 5 6 7 8 9        n = 10, block 4, stride 2
        window   [0 1 2 3]                  predicts 1-4, counts all 4
                     [2 3 4 5]              predicts 3-6, counts 5 and 6
                         [4 5 6 7]          counts 7 and 8
                           [5 6 7 8]        the last, flush with the end: counts 9
    """
    if not 1 <= stride <= block:
        raise ValueError(f"the stride must be between 1 and the block size {block} (got {stride})")
    length = min(block, n - 1)
    last = n - 1 - length
    starts = [*range(0, last, stride), last]
    ends = [s + length for s in starts]
    return [(starts[0], ends[0])] + [(s, end - before) for s, end, before in zip(starts[1:], ends[1:], ends)]


@torch.no_grad()
def score(model: GPT, ids: np.ndarray, block: int, stride: int, rows: int = 256) -> Score:
    """The negative log-likelihood of each of ids[1:] after the ids before it, read as
    ``scoring_windows`` says."""
    if len(ids) < 2:
        return Score(0.0, 0)
    windows = scoring_windows(len(ids), block, stride)
    length = min(block, len(ids) - 1)
    every = torch.from_numpy(ids).unfold(0, length + 1, 1)  # (n - length, length + 1): row s = ids[s:s + length + 1]
    was_training, total, counted = model.training, 0.0, 0
    model.eval()
    for first in range(0, len(windows), rows):
        chunk = windows[first:first + rows]
        rows_read = every[torch.tensor([s for s, _ in chunk])]  # (R, length + 1)
        logits = model(rows_read[:, :-1])  # (R, length, V)
        nll = F.cross_entropy(logits.transpose(1, 2), rows_read[:, 1:], reduction="none")  # (R, length)
        keep = torch.arange(length)[None, :] >= length - torch.tensor([c for _, c in chunk])[:, None]
        total += float(nll[keep].double().sum())
        counted += int(keep.sum())
    model.train(was_training)
    return Score(total, counted)


# -- training for a time budget -----------------------------------------------------------------
def train(train_ids: np.ndarray, val_ids: np.ndarray, vocab_size: int, budget_s: float, seed: int,
          r: Recipe | None = None, stride: int | None = None) -> dict:
    """Train nanoGPT's recipe for ``budget_s`` seconds (scoring included); its figures."""
    r = r or Recipe()
    stride = stride or r.block_size // 4
    torch.manual_seed(seed)
    model = GPT(r, vocab_size)
    opt = optimizer(model, r)
    windows = torch.from_numpy(train_ids).unfold(0, r.block_size + 1, 1)  # every training window, a view
    generator = torch.Generator().manual_seed(seed)
    started = time.perf_counter()
    score(model, val_ids[:PROBE_CHARS + 1], r.block_size, stride)  # what the final scoring will cost
    reserve = (time.perf_counter() - started) * len(val_ids) / min(len(val_ids), PROBE_CHARS + 1)
    deadline = started + budget_s - reserve
    it, decay_from, lrs = 0, None, []
    training_from = time.perf_counter()
    while (now := time.perf_counter()) < deadline:
        if it == r.warmup_iters:
            decay_from = now
        decayed = 0.0 if decay_from is None else (now - decay_from) / max(1e-9, deadline - decay_from)
        rows = windows[torch.randint(len(windows), (r.batch_size,), generator=generator)]  # (B, T + 1)
        lrs.append(learning_rate(it, decayed, r))
        for group in opt.param_groups:
            group["lr"] = lrs[-1]
        logits = model(rows[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), rows[:, 1:].reshape(-1))
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), r.grad_clip)
        opt.step()
        opt.zero_grad(set_to_none=True)
        it += 1
    trained = time.perf_counter() - started
    steps_seconds = time.perf_counter() - training_from
    result = score(model, val_ids, r.block_size, stride)
    return {"loss": result.cross_entropy, "held_out_predictions": result.tokens, "steps": it,
            "tokens": it * r.batch_size * r.block_size, "seconds_per_step": steps_seconds / max(1, it),
            "train_seconds": trained, "scoring_reserve": reserve, "first_and_last_lr": [lrs[0], lrs[-1]] if lrs else [],
            "seconds_with_scoring": time.perf_counter() - started, "stride": stride,
            "params": sum(p.numel() for p in model.parameters()), "recipe": asdict(r)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("text", help="a text file (tiny-shakespeare's input.txt)")
    parser.add_argument("--time-budget", required=True, help="e.g. 90s, 10m, 1h")
    parser.add_argument("--seed", type=int, default=1337)
    parser.add_argument("--stride", type=int, help="held-out windows' stride [default: block_size // 4]")
    args = parser.parse_args()
    train_ids, val_ids, vocab_size = seqgen_split(args.text, args.seed)
    figures = train(train_ids, val_ids, vocab_size, parse_duration(args.time_budget), args.seed, stride=args.stride)
    print(json.dumps({**figures, "threads": torch.get_num_threads(),
                      "omp_wait_policy": wait_policy(ENV)}))


if __name__ == "__main__":
    main()
