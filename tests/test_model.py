import pytest
import torch

from seqgen.config import ModelConfig
from seqgen.errors import UsageError
from seqgen.model import RNNLM, detach


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_shapes_per_cell(cell):
    model = RNNLM(ModelConfig(vocab_size=37, cell=cell, layers=2, hidden=24, embed=16))
    x = torch.randint(0, 37, (5, 7))
    logits, hidden = model(x)
    assert logits.shape == (5, 7, 37)
    h = hidden[0] if cell == "lstm" else hidden
    assert h.shape == (2, 5, 24)
    assert isinstance(hidden, tuple) == (cell == "lstm")
    # Carrying the state on gives different predictions than starting from zero.
    logits2, _ = model(x, detach(hidden))
    assert not torch.allclose(logits, logits2)


def test_tied_embeddings_share_one_matrix():
    model = RNNLM(ModelConfig(vocab_size=50, hidden=32, embed=16, tie=True))
    assert model.head.weight is model.embed.weight
    assert model(torch.zeros(2, 3, dtype=torch.long))[0].shape == (2, 3, 50)


def test_loss_is_cross_entropy_of_logits():
    model = RNNLM(ModelConfig(vocab_size=11, hidden=8, layers=1, dropout=0.0)).eval()
    x, y = torch.randint(0, 11, (3, 4)), torch.randint(0, 11, (3, 4))
    loss, _ = model.loss(x, y)
    logits, _ = model(x)
    expected = torch.nn.functional.cross_entropy(logits.reshape(-1, 11), y.reshape(-1))
    assert torch.allclose(loss, expected)


def test_bad_config_reports_every_problem():
    with pytest.raises(UsageError) as err:
        RNNLM(ModelConfig(vocab_size=5, cell="transformer", layers=0, dropout=1.5))
    message = str(err.value)
    assert "--cell" in message and "--layers" in message and "--dropout" in message
