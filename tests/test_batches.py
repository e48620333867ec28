import numpy as np
import pytest
import torch

from seqgen.data.batches import BatchStream
from seqgen.errors import CorpusError


def test_layout_matches_the_diagram():
    ids = np.arange(25, dtype=np.int32)  # 24 inputs + one extra target
    stream = BatchStream(ids, batch_size=3, seq_len=3)
    assert len(stream) == 2  # rows of 8: two whole batches of 3
    x0, y0 = stream.batch(0)
    assert x0.tolist() == [[0, 1, 2], [8, 9, 10], [16, 17, 18]]
    assert y0.tolist() == [[1, 2, 3], [9, 10, 11], [17, 18, 19]]
    x1, _ = stream.batch(1)
    # Row b of batch 1 continues where row b of batch 0 stopped: the hidden state can carry over.
    assert x1[:, 0].tolist() == [3, 11, 19]
    assert x0.dtype == torch.int64


def test_too_short_for_one_batch():
    with pytest.raises(CorpusError, match="fewer than one batch"):
        BatchStream(np.arange(50, dtype=np.int32), batch_size=4, seq_len=16)
