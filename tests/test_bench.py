"""The benchmark's pieces work, and the fast path computes what the textbook loop computes."""

import torch

from seqgen.bench import _ReferenceLM, lstm_flops_per_token, sampling_speed, tokenise_speed, train_throughput
from seqgen.models.rnn_config import ModelConfig
from seqgen.device import autocast, cpu_has_fast_bf16
from seqgen.models.rnn import RNNLM


def test_fast_path_and_reference_give_the_same_loss():
    V, H, L = 50, 32, 2
    ref = _ReferenceLM(V, H, L)
    model = RNNLM(ModelConfig(vocab_size=V, hidden=H, layers=L, dropout=0.0))
    model.load_state_dict(ref.state_dict())  # same parameter names and shapes
    x, y = torch.randint(0, V, (4, 12)), torch.randint(0, V, (4, 12))
    logits, _ = ref(x, None)
    expected = torch.nn.functional.cross_entropy(logits.view(-1, V), y.view(-1))
    loss, _ = model.loss(x, y)
    assert torch.allclose(loss, expected, atol=1e-5)
    # The mixed-precision path training takes where the hardware has bf16: the same loss within
    # bf16's rounding (8 bits of mantissa), and the same gradients' direction.
    with autocast(torch.device("cpu"), "bf16"):
        fast, _ = model.loss(x, y)
    assert abs(fast.item() - expected.item()) < 0.01 * expected.item()
    fast.backward()
    fast_grad = model.head.weight.grad.clone()
    model.zero_grad()
    loss.backward()
    cos = torch.nn.functional.cosine_similarity(fast_grad.flatten(), model.head.weight.grad.flatten(), dim=0)
    assert cos > 0.99


def test_flop_count_of_a_one_layer_lstm():
    cfg = ModelConfig(vocab_size=10, hidden=4, embed=3, layers=1)
    # forward: gates 2*4*4*(3+4) = 224, head 2*4*10 = 80; training ~3x forward
    assert lstm_flops_per_token(cfg) == 3 * (224 + 80)


def test_figures_are_measured():
    figures = train_throughput(V=30, H=16, L=1, B=2, T=8, repeats=2)
    assert figures["tokens_per_s"] > 0 and figures["reference_tokens_per_s"] > 0
    assert figures["precision"] == ("bf16" if cpu_has_fast_bf16() else "fp32")
    assert train_throughput(V=6000, H=16, L=1, B=2, T=8, repeats=1)["softmax"] == "adaptive"
    assert sampling_speed(16, 1, 30, batch=2, length=10) > 0


def test_tokenising_is_measured_in_a_fresh_process_then_from_the_cache():
    tok = tokenise_speed("some real text\n", target_mb=1)
    assert tok["tokens"] >= 1_000_000 and tok["tokenise_s"] > 0 and tok["tokenise_peak_mb"] > 1
    assert tok["tokenise_cached_s"] > 0
