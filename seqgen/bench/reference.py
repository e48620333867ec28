"""The bottom rung of the ladder: pytorch/examples' word_language_model, as its main.py trains.

Its recipe (model.py's RNNModel with an LSTM, main.py's train()): dropout on the embeddings and
on the LSTM's output, nn.LSTM's own dropout between layers, a full-softmax decoder (tied to the
embeddings with --tied), log-softmax and NLL loss in fp32, gradients clipped to norm 0.25, then
plain SGD written out by hand (lr 20 by default), the hidden state carried from batch to batch
and detached at each boundary. Its data is laid out (T, B): time first, as its batchify makes it.

The modules are named as seqgen's (embed, rnn, head; the example says encoder, rnn, decoder) so
that the two models' state dicts are interchangeable.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..models.rnn import Hidden, detach

EXAMPLE_LR = 20.0  # main.py's --lr
EXAMPLE_CLIP = 0.25  # main.py's --clip


class ReferenceLM(nn.Module):
    """RNNModel('LSTM', V, H, H, L, dropout, tie) of the example."""

    def __init__(self, V: int, H: int, L: int, dropout: float, tie: bool = False):
        super().__init__()
        self.drop = nn.Dropout(dropout)
        self.embed = nn.Embedding(V, H)
        self.rnn = nn.LSTM(H, H, L, dropout=dropout if L > 1 else 0.0)
        self.head = nn.Linear(H, V)
        if tie:
            self.head.weight = self.embed.weight
        # init_weights() of the example
        nn.init.uniform_(self.embed.weight, -0.1, 0.1)
        nn.init.zeros_(self.head.bias)
        nn.init.uniform_(self.head.weight, -0.1, 0.1)
        self.V, self.H, self.L = V, H, L

    def init_hidden(self, batch_size: int) -> Hidden:
        w = self.embed.weight
        return w.new_zeros(self.L, batch_size, self.H), w.new_zeros(self.L, batch_size, self.H)

    def forward(self, x: torch.Tensor, hidden: Hidden) -> tuple[torch.Tensor, Hidden]:
        """Token ids (T, B) -> log-probabilities (T*B, V) and the new hidden state."""
        emb = self.drop(self.embed(x))  # (T, B, H)
        out, hidden = self.rnn(emb, hidden)  # (T, B, H)
        decoded = self.head(self.drop(out)).view(-1, self.V)  # (T*B, V)
        return F.log_softmax(decoded, dim=1), hidden


class ReferenceLoop:
    """main.py's training step on one fixed batch, over and over (the hidden state carries on).

    ``x`` and ``y`` are (B, T) as seqgen lays batches out; they are turned to the example's
    (T, B) once, here, so the timed step does only what the example's does.
    """

    def __init__(self, model: ReferenceLM, x: torch.Tensor, y: torch.Tensor,
                 lr: float = EXAMPLE_LR, clip: float = EXAMPLE_CLIP):
        self.model, self.lr, self.clip = model, lr, clip
        self.x = x.t().contiguous()  # (T, B)
        self.y = y.t().reshape(-1)  # (T*B,) in the order of the output's rows
        self.hidden = model.init_hidden(x.size(0))

    def step(self) -> float:
        model = self.model
        model.train()
        model.zero_grad()
        self.hidden = detach(self.hidden)  # the example's repackage_hidden
        output, self.hidden = model(self.x, self.hidden)
        loss = F.nll_loss(output, self.y)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), self.clip)
        for p in model.parameters():
            p.data.add_(p.grad, alpha=-self.lr)
        return loss.item()
