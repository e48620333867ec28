"""The recurrent language model: embedding -> LSTM/GRU/RNN -> linear softmax head.

Nothing but the network lives here: no I/O, no printing, no training logic.
Shapes: B = batch, T = time steps, E = embedding size, H = hidden size, V = vocabulary size.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .config import ModelConfig

Hidden = torch.Tensor | tuple[torch.Tensor, torch.Tensor]
_CELLS = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}


class RNNLM(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        config.validate()
        self.config = config
        E, H, V = config.embed_size, config.hidden, config.vocab_size
        self.embed = nn.Embedding(V, E)
        self.drop = nn.Dropout(config.dropout)
        self.rnn = _CELLS[config.cell](
            E, H, num_layers=config.layers, batch_first=True,
            dropout=config.dropout if config.layers > 1 else 0.0,
        )
        # Tying shares the (V, E) matrix between input and output; when H != E a projection
        # brings the hidden state down to E first (as in Press & Wolf, 2017).
        self.proj = nn.Linear(H, E, bias=False) if config.tie and H != E else None
        self.head = nn.Linear(E if config.tie else H, V)
        if config.tie:
            self.head.weight = self.embed.weight
        nn.init.uniform_(self.embed.weight, -0.1, 0.1)

    def init_hidden(self, batch_size: int) -> Hidden:
        """Zero state for a batch; LSTMs carry (h, c), the others h alone, each (L, B, H)."""
        w = self.head.weight
        shape = (self.config.layers, batch_size, self.config.hidden)
        h = w.new_zeros(shape)
        return (h, w.new_zeros(shape)) if self.config.cell == "lstm" else h

    def features(self, x: torch.Tensor, hidden: Hidden | None) -> tuple[torch.Tensor, Hidden]:
        """Token ids (B, T) -> output features (B, T, E or H) and the new hidden state."""
        emb = self.drop(self.embed(x))  # (B, T, E)
        out, hidden = self.rnn(emb, hidden)  # (B, T, H)
        out = self.drop(out)
        if self.proj is not None:
            out = self.proj(out)  # (B, T, E)
        return out, hidden

    def forward(self, x: torch.Tensor, hidden: Hidden | None = None) -> tuple[torch.Tensor, Hidden]:
        """Token ids (B, T) -> logits (B, T, V) and the new hidden state."""
        out, hidden = self.features(x, hidden)
        return self.head(out), hidden

    def loss(self, x: torch.Tensor, y: torch.Tensor, hidden: Hidden | None = None,
             reduction: str = "mean") -> tuple[torch.Tensor, Hidden]:
        """Cross-entropy (nats/token) of predicting targets y (B, T) from inputs x (B, T)."""
        logits, hidden = self(x, hidden)
        nll = F.cross_entropy(logits.reshape(-1, logits.size(-1)), y.reshape(-1), reduction=reduction)
        return nll, hidden


def detach(hidden: Hidden) -> Hidden:
    """Cut the graph at a batch boundary (truncated BPTT) while keeping the state's values."""
    if isinstance(hidden, tuple):
        return tuple(h.detach() for h in hidden)
    return hidden.detach()


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
