"""Sampling speed with int8 weights and with the exact fp32 model, side by side.

``seqgen sample`` generates on the CPU from an int8 copy of a model as big as the bench's, unless
``--precision fp32`` (sample.for_sampling); both are timed here, in turns, on the same model and
the same seed.
"""

from __future__ import annotations

from ..config import SampleConfig
from ..errors import UsageError
from ..hardware.device import sampling_threads
from ..models.rnn_config import ModelConfig
from ..models.rnn import RNNLM
from ..sample import for_sampling, generate
from ..data.vocab import Vocab
from ..hardware.timing import interleave, rates, spread_figures

PRECISIONS = ("int8", "fp32")


def sampling_models(model: RNNLM) -> tuple[dict[str, RNNLM], str | None]:
    """The models ``seqgen sample`` uses with ``--precision int8`` (what the default takes for the
    bench's 2x512 model) and ``fp32``; where this torch has no int8 kernels, no int8 one, and why."""
    models = {"fp32": for_sampling(model, "fp32")}
    try:
        return {"int8": for_sampling(model, "int8"), **models}, None
    except UsageError:
        return models, "this torch has no quantized (int8) kernels: seqgen samples in fp32 here"


def sampling_figures(hidden: int, layers: int, vocab_size: int, lengths: dict[int, int],
                     repeats: int, warmup: int) -> tuple[dict[str, object], dict[str, str]]:
    """Chars/s (median, min, max) for each precision and batch size (``lengths``: batch -> chars
    per row), and the int8/fp32 ratio of the medians; skip reasons where int8 cannot run."""
    model = RNNLM(ModelConfig(vocab_size=vocab_size, hidden=hidden, layers=layers))
    models, why_not_int8 = sampling_models(model)
    vocab = Vocab(["<unk>", "<eos>"] + [chr(65 + i) for i in range(vocab_size - 2)], "char")
    figures: dict[str, object] = {
        "sample_model": f"char V={vocab_size} H={hidden} L={layers}, on the CPU", "sample_threads": sampling_threads()}
    skipped = {}
    for batch, length in lengths.items():
        cfg = SampleConfig(length=length, temperature=1.0, num_samples=batch, seed=0)
        fns = {name: (lambda m=m: generate(m, vocab, cfg)) for name, m in models.items()}
        spreads = {name: rates(s, batch * length) for name, s in interleave(fns, repeats, warmup).items()}
        for name in PRECISIONS:
            figures.update(spread_figures(f"sample_{name}_chars_per_s_batch{batch}", spreads.get(name)))
        int8 = spreads.get("int8")
        figures[f"sample_int8_speedup_batch{batch}"] = int8 and int8.median / spreads["fp32"].median
        if why_not_int8:
            skipped[f"sample_int8_batch{batch}"] = why_not_int8
    return figures, skipped
