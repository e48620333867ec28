"""The recurrent language model: embedding -> LSTM/GRU/RNN -> softmax head.

Nothing but the network lives here: no I/O, no printing, no training logic.
Shapes: B = batch, T = time steps, E = embedding size, H = hidden size, V = vocabulary size,
D = the head's input size (E when the embeddings are tied, else H).

The head is a full softmax, or for large vocabularies an adaptive softmax (Grave et al., 2017):
frequent words get the full-size output layer, rare ones share smaller clusters, so the output
layer, most of a word model's work, costs a fraction of a full softmax over V.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .config import ModelConfig

Hidden = torch.Tensor | tuple[torch.Tensor, torch.Tensor]
_CELLS = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}
IGNORE = -100  # target id that counts for nothing (padding)


class FastDropout(nn.Dropout):
    """nn.Dropout with its mask drawn by ``torch.rand`` and a comparison: on the CPU torch's
    dropout draws with ``bernoulli_``, 2.5 times slower; its masks were 15% of a 2x512 char
    model's training step here, and this made the step about 5% faster. (The dropout between
    LSTM layers stays torch's: it is inside nn.LSTM.)"""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:
            return x
        keep = torch.rand(x.shape, device=x.device) >= self.p
        return x * keep * (1.0 / (1.0 - self.p))


class RNNLM(nn.Module):
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


def adaptive_target_log_probs(head: nn.AdaptiveLogSoftmaxWithLoss, x: torch.Tensor,
                              target: torch.Tensor) -> torch.Tensor:
    """log p(target) for rows x (N, D) and targets (N,): what ``head(x, target).output`` gives,
    with the matrix products in the precision autocast chose and the softmaxes in fp32.

    torch's own forward fails under bf16 autocast (it mixes dtypes), and run in fp32 instead it
    took a third of a word model's training step here (18k words, 2x512, bf16 elsewhere).
    """
    short = head.shortlist_size
    # 0 for the shortlist's words, i + 1 for the words of tail cluster i
    cluster = torch.bucketize(target, torch.tensor(head.cutoffs[:-1], device=target.device), right=True)
    head_log_probs = F.log_softmax(head.head(x).float(), dim=-1)  # (N, shortlist + clusters)
    # A shortlist word's own entry, or its cluster's entry plus its share within the cluster.
    column = torch.where(cluster == 0, target, short + cluster - 1)
    out = head_log_probs.gather(1, column[:, None]).squeeze(1)
    for i, tail in enumerate(head.tail):
        rows = (cluster == i + 1).nonzero().squeeze(1)
        if rows.numel():
            within = F.log_softmax(tail(x[rows]).float(), dim=-1)
            out = out.index_add(0, rows, within.gather(1, (target[rows] - head.cutoffs[i])[:, None]).squeeze(1))
    return out


def detach(hidden: Hidden) -> Hidden:
    """Cut the graph at a batch boundary (truncated BPTT) while keeping the state's values."""
    if isinstance(hidden, tuple):
        return tuple(h.detach() for h in hidden)
    return hidden.detach()


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
