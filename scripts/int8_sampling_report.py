"""Where int8 weights sample faster than fp32 ones: one sample (batch 1) drawn from each of a ladder
of model shapes, untrained (speed does not depend on the weights' values), with the int8 copy
``--precision int8`` gives and the exact model (``--precision fp32``), timed in turns on one thread
as ``seqgen sample`` runs. ``--precision auto`` takes int8 from ``INT8_FROM`` weights (in
``seqgen/hardware/__init__.py``; those of the recurrent layers and the output layer, which int8
replaces) and fp32 below: the figures this prints are what that bound is drawn from.

    python scripts/int8_sampling_report.py [--repeats 5] [--length 1500]

Prints, per shape, its weights, milliseconds per character, median (min-max), for each, and the
ratio of the medians (above 1: int8 faster). Time on a quiet machine.
"""

from __future__ import annotations

import argparse
import json

from seqgen.bench.sampling import sampling_models
from seqgen.config import SampleConfig
from seqgen.data.vocab import Vocab
from seqgen.hardware import INT8_FROM
from seqgen.hardware.timing import interleave
from seqgen.models.rnn import RNNLM
from seqgen.models.rnn_config import ModelConfig
from seqgen.sample import generate

# (vocabulary, layers, hidden, tied): character models of a text like tiny-shakespeare's, and word
# models of 10,000 words with the word models' default tied embeddings.
SHAPES = [(67, 1, 64, False), (67, 1, 128, False), (67, 1, 192, False), (67, 1, 256, False),
          (67, 2, 256, False), (67, 2, 384, False), (67, 2, 512, False),
          (10_000, 1, 32, True), (10_000, 1, 64, True), (10_000, 1, 128, True)]


def one_shape(vocab_size: int, layers: int, hidden: int, tie: bool, length: int, repeats: int) -> dict:
    model = RNNLM(ModelConfig(vocab_size=vocab_size, layers=layers, hidden=hidden, tie=tie, softmax="full"))
    vocab = Vocab(["<unk>", "<eos>"] + [f"t{i}" for i in range(vocab_size - 2)], "char")
    models, why_not = sampling_models(model)
    if why_not:
        raise SystemExit(why_not)
    seeds = iter(range(10**6))
    calls = {name: (lambda m=m: generate(m, vocab, SampleConfig(length=length, seed=next(seeds))))
             for name, m in models.items()}
    times = interleave(calls, repeats, warmup=1)  # generate samples on one thread, as seqgen sample does
    ms = {name: sorted(t / length * 1000 for t in seconds) for name, seconds in times.items()}
    median = {name: values[len(values) // 2] for name, values in ms.items()}
    return {"shape": f"{layers}x{hidden}", "vocabulary": vocab_size, "tied": tie, "weights": model.int8_weights(),
            "auto": "int8" if model.int8_weights() >= INT8_FROM else "fp32",
            **{f"{name}_ms_per_char": {"median": round(median[name], 3), "min": round(v[0], 3), "max": round(v[-1], 3)}
               for name, v in ms.items()},
            "int8_speedup": round(median["fp32"] / median["int8"], 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--length", type=int, default=1500, help="characters (tokens) per timed sample")
    args = parser.parse_args()
    for shape in SHAPES:
        print(json.dumps(one_shape(*shape, length=args.length, repeats=args.repeats)), flush=True)


if __name__ == "__main__":
    main()
