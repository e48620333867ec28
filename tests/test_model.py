import pytest
import torch

from seqgen.models.rnn_config import ModelConfig
from seqgen.errors import UsageError
from seqgen.hardware.device import autocast
from seqgen.models.adaptive import adaptive_target_log_probs
from seqgen.models.rnn import IGNORE, RNNLM, FastDropout, detach

from .helpers import needs_bf16


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


def test_adaptive_softmax_for_large_vocabularies():
    model = RNNLM(ModelConfig(vocab_size=6000, hidden=16, layers=1, dropout=0.0)).eval()
    assert isinstance(model.head, torch.nn.AdaptiveLogSoftmaxWithLoss)  # "auto" from 5,000 tokens
    assert not isinstance(RNNLM(ModelConfig(vocab_size=6000, hidden=16, softmax="full")).head,
                          torch.nn.AdaptiveLogSoftmaxWithLoss)
    x, y = torch.randint(0, 6000, (2, 5)), torch.randint(0, 6000, (2, 5))
    scores, _ = model(x)
    assert torch.allclose(scores.exp().sum(-1), torch.ones(2, 5), atol=1e-4)  # a distribution
    loss, _ = model.loss(x, y)
    picked = -scores.gather(-1, y.unsqueeze(-1)).mean()
    assert torch.allclose(loss, picked, atol=1e-5)


def test_adaptive_log_probs_are_torchs_in_fp32_and_close_in_bf16():
    torch.manual_seed(0)
    head = torch.nn.AdaptiveLogSoftmaxWithLoss(32, 12000, [2000, 10000], div_value=4.0)
    x = torch.randn(300, 32)
    target = torch.cat([torch.randint(0, 2000, (100,)), torch.randint(2000, 10000, (100,)),
                        torch.randint(10000, 12000, (100,))])  # every cluster
    expected = head(x, target).output
    assert torch.allclose(adaptive_target_log_probs(head, x, target), expected, atol=1e-5)
    with autocast(torch.device("cpu"), "bf16"):
        fast = adaptive_target_log_probs(head, x, target)
    assert fast.dtype == torch.float32 and (fast - expected).abs().max() < 0.1
    fast.sum().backward()
    grad = head.tail[1][1].weight.grad.clone()
    head.zero_grad()
    expected.sum().backward()
    assert torch.nn.functional.cosine_similarity(grad.flatten(), head.tail[1][1].weight.grad.flatten(), dim=0) > 0.99


@pytest.mark.parametrize("softmax", ["full", "adaptive"])
def test_padding_targets_count_for_nothing(softmax):
    model = RNNLM(ModelConfig(vocab_size=3000, hidden=8, layers=1, dropout=0.0, softmax=softmax)).eval()
    x, y = torch.randint(0, 3000, (2, 6)), torch.randint(0, 3000, (2, 6))
    padded = y.clone()
    padded[:, 4:] = IGNORE
    full, _ = model.loss(x, y, reduction="sum")
    part, _ = model.loss(x, padded, reduction="sum")
    first, _ = model.loss(x[:, :4], y[:, :4], reduction="sum")
    assert torch.allclose(part, first, atol=1e-4) and part < full


def test_next_scores_are_the_last_step():
    model = RNNLM(ModelConfig(vocab_size=20, hidden=8, layers=2, dropout=0.0)).eval()
    x = torch.randint(0, 20, (3, 9))
    scores, _ = model(x)
    last, _ = model.next_scores(x)
    assert torch.allclose(last, scores[:, -1], atol=1e-6)


@needs_bf16
def test_bf16_autocast_gives_the_fp32_loss():
    torch.manual_seed(0)
    model = RNNLM(ModelConfig(vocab_size=67, hidden=64, layers=2, dropout=0.0)).eval()
    x, y = torch.randint(0, 67, (4, 32)), torch.randint(0, 67, (4, 32))
    exact, _ = model.loss(x, y)
    with autocast(torch.device("cpu"), "bf16"):
        fast, _ = model.loss(x, y)
    assert fast.dtype == torch.float32 and abs(fast.item() - exact.item()) < 0.01 * exact.item()


def test_tie_needs_the_full_softmax():
    with pytest.raises(UsageError, match="--tie"):
        RNNLM(ModelConfig(vocab_size=6000, hidden=8, tie=True, softmax="adaptive"))


def test_dropout_drops_the_given_share_and_keeps_the_mean():
    drop = FastDropout(0.3)
    x = torch.ones(200_000, requires_grad=True)
    y = drop(x)
    dropped = (y == 0).float().mean().item()
    assert abs(dropped - 0.3) < 0.01 and abs(y.mean().item() - 1.0) < 0.02
    y.sum().backward()
    assert torch.equal(x.grad == 0, y == 0)  # no gradient through what was dropped
    with autocast(torch.device("cpu"), "bf16"):
        assert drop(x.bfloat16()).dtype == torch.bfloat16
    assert torch.equal(drop.eval()(x), x)
