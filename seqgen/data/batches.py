"""Stateful batches for truncated backpropagation through time.

The token stream is cut into ``B`` equal rows that are read side by side, ``T`` tokens at a time,
so row ``b`` of batch ``i + 1`` continues exactly where row ``b`` of batch ``i`` stopped. That is
what lets the hidden state be carried from one batch to the next::

    stream:  a b c d e f g h i j k l m n o p q r s t u v w x      (n = 24, B = 3, T = 3)

    rows:    a b c d e f g h        batch 0: x = a b c   y = b c d
             i j k l m n o p                  i j k       j k l
             q r s t u v w x                  q r s       r s t
                                    batch 1: x = d e f   y = e f g  ...

The targets are the inputs shifted by one, so each row needs one token beyond its last input.

With several processes (data parallelism) the stream is cut into B x world rows, the global
batch, and rank r reads its own B of them side by side (rows r*B to r*B + B - 1): no two ranks
read the same text, and every rank carries its own rows' state from batch to batch.
"""

from __future__ import annotations

import numpy as np
import torch

from ..errors import CorpusError


class BatchStream:
    """Batches of (inputs, targets), each ``(B, T)`` int64, in stream order.

    ``ids`` may be a memory map: each batch gathers just its ``B x (T + 1)`` tokens, so memory
    does not grow with the corpus.
    """

    def __init__(self, ids: np.ndarray, batch_size: int, seq_len: int, rank: int = 0, world: int = 1):
        rows = batch_size * world
        row_len = (len(ids) - 1) // rows
        if row_len < seq_len:
            need = rows * seq_len + 1
            processes = f" x {world} processes" if world > 1 else ""
            raise CorpusError(
                f"the training text has {len(ids)} tokens, fewer than one batch needs ({need} = "
                f"batch size {batch_size}{processes} x sequence length {seq_len} + 1); give more text or lower "
                "--batch-size / --seq-len"
            )
        self.ids, self.batch_size, self.seq_len = ids, batch_size, seq_len
        # Row b starts at b * row_len; a batch reads T + 1 tokens of each row (inputs + last target).
        mine = np.arange(rank * batch_size, (rank + 1) * batch_size, dtype=np.int64)
        self._offsets = mine[:, None] * row_len + np.arange(seq_len + 1)
        self.num_batches = row_len // seq_len

    def __len__(self) -> int:
        return self.num_batches

    def batch(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Batch ``index`` of the epoch: inputs and targets, both (B, T)."""
        window = torch.from_numpy(self.ids[self._offsets + index * self.seq_len].astype(np.int64))  # (B, T+1)
        return window[:, :-1], window[:, 1:]
