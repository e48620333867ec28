"""The adaptive softmax's loss, in mixed precision (Grave et al., 2017).

Frequent words get the full-size output layer, rare ones share smaller clusters, so the output
layer, most of a word model's work, costs a fraction of a full softmax over the vocabulary.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def adaptive_target_log_probs(head: nn.AdaptiveLogSoftmaxWithLoss, x: torch.Tensor,
                              target: torch.Tensor) -> torch.Tensor:
    """log p(target) for rows x (N, D) and targets (N,): what ``head(x, target).output`` gives,
    with the matrix products in the precision autocast chose and the softmaxes in fp32.

    torch's own forward fails under bf16 autocast (it mixes dtypes), and running it in fp32
    instead gives up the speed of bf16 matrix products on the layer that costs a word model most.
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
