"""The recurrent language model: embedding -> LSTM/GRU/RNN -> softmax head.

Nothing but the network lives here: no I/O, no printing, no training logic.
Shapes: B = batch, T = time steps, E = embedding size, H = hidden size, V = vocabulary size,
D = the head's input size (E when the embeddings are tied, else H).

The head is a full softmax, or for large vocabularies an adaptive softmax (``adaptive.py``).
"""

from __future__ import annotations

import copy
import math
import warnings

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..hardware import INT8_FROM
from ..hardware.device import autocast
from ..errors import UsageError, first_line, warn
from ..evaluate import Score
from .adaptive import adaptive_target_log_probs
from .rnn_config import ModelConfig

Hidden = torch.Tensor | tuple[torch.Tensor, torch.Tensor]
_CELLS = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}
_INT8_LAYERS = (nn.LSTM, nn.GRU, nn.Linear)  # the layers an int8 copy replaces (for_sampling)
IGNORE = -100  # target id that counts for nothing (padding)


class FastDropout(nn.Dropout):
    """nn.Dropout with its mask drawn by ``torch.rand`` and a comparison: on the CPU torch's
    dropout draws with ``bernoulli_``, several times slower than ``rand``, and the masks are a
    noticeable share of a character model's step. (The dropout between LSTM layers stays
    torch's: it is inside nn.LSTM.)"""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:
            return x
        keep = torch.rand(x.shape, device=x.device) >= self.p
        return x * keep * (1.0 / (1.0 - self.p))


MIN_ROW_TOKENS = 1024  # each row of an evaluation batch starts cold: keep rows long


class RNNLM(nn.Module):
    """The recurrent model; trained by the training loop (see ``models.base``)."""

    name = "rnn"
    Config = ModelConfig
    trained_by = "gradient"

    def __init__(self, config: ModelConfig):
        super().__init__()
        config.validate()
        self.config = config
        E, H, V = config.embed_size, config.hidden, config.vocab_size
        self.embed = nn.Embedding(V, E)
        self.drop = FastDropout(config.dropout)
        self.rnn = _CELLS[config.cell](
            E, H, num_layers=config.layers, batch_first=True,
            dropout=config.dropout if config.layers > 1 else 0.0,
        )
        # Tying shares the (V, E) matrix between input and output; when H != E a projection
        # brings the hidden state down to E first (as in Press & Wolf, 2017).
        self.proj = nn.Linear(H, E, bias=False) if config.tie and H != E else None
        D = E if config.tie else H
        if config.adaptive_cutoffs:
            self.head = nn.AdaptiveLogSoftmaxWithLoss(D, V, config.adaptive_cutoffs, div_value=4.0)
        else:
            self.head = nn.Linear(D, V)
            if config.tie:
                self.head.weight = self.embed.weight
        nn.init.uniform_(self.embed.weight, -0.1, 0.1)

    def init_hidden(self, batch_size: int) -> Hidden:
        """Zero state for a batch; LSTMs carry (h, c), the others h alone, each (L, B, H)."""
        w = self.embed.weight
        shape = (self.config.layers, batch_size, self.config.hidden)
        h = w.new_zeros(shape)
        return (h, w.new_zeros(shape)) if self.config.cell == "lstm" else h

    def features(self, x: torch.Tensor, hidden: Hidden | None) -> tuple[torch.Tensor, Hidden]:
        """Token ids (B, T) -> the head's input (B, T, D) and the new hidden state."""
        emb = self.drop(self.embed(x))  # (B, T, E)
        out, hidden = self.rnn(emb, hidden)  # (B, T, H)
        out = self.drop(out)
        if self.proj is not None:
            out = self.proj(out)  # (B, T, E)
        return out, hidden

    def scores(self, features: torch.Tensor) -> torch.Tensor:
        """Head input (..., D) -> scores (..., V) whose softmax is the next-token distribution.

        Logits for the full softmax, log-probabilities for the adaptive one (same softmax).
        """
        if isinstance(self.head, nn.AdaptiveLogSoftmaxWithLoss):
            flat = features.reshape(-1, features.size(-1)).float()
            with torch.autocast(flat.device.type, enabled=False):
                return self.head.log_prob(flat).view(*features.shape[:-1], -1)
        return self.head(features)

    def forward(self, x: torch.Tensor, hidden: Hidden | None = None) -> tuple[torch.Tensor, Hidden]:
        """Token ids (B, T) -> scores (B, T, V) and the new hidden state."""
        out, hidden = self.features(x, hidden)
        return self.scores(out), hidden

    def next_scores(self, x: torch.Tensor, hidden: Hidden | None = None) -> tuple[torch.Tensor, Hidden]:
        """Token ids (B, T) -> scores for the token after the last one (B, V): the head runs once."""
        out, hidden = self.features(x, hidden)
        return self.scores(out[:, -1]), hidden

    def loss(self, x: torch.Tensor, y: torch.Tensor, hidden: Hidden | None = None,
             reduction: str = "mean") -> tuple[torch.Tensor, Hidden]:
        """Cross-entropy (nats/token) of predicting targets y (B, T) from inputs x (B, T).

        Targets equal to ``IGNORE`` (padding) count for nothing. The loss is computed in fp32
        whatever precision the rest ran in.
        """
        out, hidden = self.features(x, hidden)
        flat, target = out.reshape(-1, out.size(-1)), y.reshape(-1)
        if isinstance(self.head, nn.AdaptiveLogSoftmaxWithLoss):
            keep = target != IGNORE
            nll = -adaptive_target_log_probs(self.head, flat[keep], target[keep])  # (kept,)
            return (nll.sum() if reduction == "sum" else nll.mean()), hidden
        return F.cross_entropy(self.head(flat).float(), target, ignore_index=IGNORE, reduction=reduction), hidden


    # -- the model type's members (models.base.LanguageModel) -----------------------------------
    @staticmethod
    def detach_state(hidden: Hidden) -> Hidden:
        """The state the next batch starts from: its values, cut from this batch's graph."""
        return detach(hidden)

    @classmethod
    def build(cls, config: ModelConfig, vocab_size: int) -> "RNNLM":
        config.vocab_size = vocab_size
        return cls(config)

    @classmethod
    def from_state(cls, config: dict, state: dict, vocab_size: int) -> "RNNLM":
        from ..config import from_dict

        cfg = from_dict(ModelConfig, config)
        if cfg.vocab_size != vocab_size:
            raise ValueError(f"the model has {cfg.vocab_size} tokens, its vocabulary {vocab_size}")
        model = cls(cfg)
        try:
            model.load_state_dict(state)
        except RuntimeError as exc:
            raise ValueError(f"weights do not fit the model ({first_line(exc, 120)})") from None
        return model.eval()

    def config_dict(self) -> dict:
        return self.config.to_dict()

    def state(self) -> dict:
        return self.state_dict()

    def describe(self) -> str:
        return f"{self.config.cell} {self.config.layers}x{self.config.hidden}"

    def int8_weights(self) -> int:
        """Weights an int8 copy holds as int8: its recurrent layers' and its linear layers'."""
        return sum(p.numel() for layer in self.modules() if isinstance(layer, _INT8_LAYERS)
                   for p in layer.parameters(recurse=False) if p.dim() == 2)

    def for_sampling(self, precision: str = "auto") -> "RNNLM":
        """An int8 copy on the CPU (``int8``, and ``auto`` from ``INT8_FROM`` weights on): one time
        step at a time, reading the weights is what costs, and int8 weights are four times less
        to read; else the model."""
        if precision == "fp32" or self.embed.weight.device.type != "cpu":
            return self
        if precision == "auto" and self.int8_weights() < INT8_FROM:
            return self
        try:
            with warnings.catch_warnings():
                # PyTorch marks its eager quantization as deprecated in favour of a separate
                # package (torchao) that does not cover recurrent layers; it still works.
                warnings.simplefilter("ignore")
                return torch.ao.quantization.quantize_dynamic(copy.deepcopy(self), set(_INT8_LAYERS),
                                                              dtype=torch.qint8)
        except (AttributeError, RuntimeError, NotImplementedError) as exc:
            if precision == "int8":  # asked for by name: refused, as training refuses a precision it cannot run
                raise UsageError(f"--precision int8 cannot run here: this torch has no int8 kernels for this CPU "
                                 f"({first_line(exc, 80)}); pass --precision fp32 or auto") from None
            warn(f"int8 sampling is not available here ({type(exc).__name__}: {str(exc)[:80]}); "
                 "sampling in fp32, which is slower")
            return self

    @torch.no_grad()
    def score(self, ids: np.ndarray, device: torch.device | str = "cpu", precision: str = "fp32",
              rows: int = 64, seq_len: int = 256) -> Score:
        """Score every prediction in ``ids``.

        The text is cut into up to ``rows`` contiguous pieces of at least MIN_ROW_TOKENS read side
        by side (as in training; each starts from a zero state, so pieces are kept long); the
        last piece is padded and the padding ignored, so exactly len(ids) - 1 predictions count.
        """
        n = len(ids) - 1
        if n < 1:
            return Score(0.0, 0)
        was_training = self.training
        self.eval()
        device = torch.device(device)
        rows = max(1, min(rows, n // MIN_ROW_TOKENS))
        row_len = math.ceil(n / rows)
        x = np.zeros(rows * row_len, dtype=np.int64)
        y = np.full(rows * row_len, IGNORE, dtype=np.int64)
        x[:n], y[:n] = ids[:-1], ids[1:]
        x_t = torch.from_numpy(x).view(rows, row_len).to(device)
        y_t = torch.from_numpy(y).view(rows, row_len).to(device)
        total, hidden = 0.0, None
        with autocast(device, precision):
            for start in range(0, row_len, seq_len):
                nll, hidden = self.loss(x_t[:, start:start + seq_len], y_t[:, start:start + seq_len], hidden,
                                        reduction="sum")
                total += float(nll)
        self.train(was_training)
        return Score(total, n)


def detach(hidden: Hidden) -> Hidden:
    """Cut the graph at a batch boundary (truncated BPTT) while keeping the state's values."""
    if isinstance(hidden, tuple):
        return tuple(h.detach() for h in hidden)
    return hidden.detach()
