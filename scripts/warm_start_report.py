"""How well a recurrent model predicts the openings of held-out documents (tunes, or lines of
text), started cold (from the all-zero state, right after <eos>) and started warm (after the
held-out text before them, the state training sees, as ``seqgen sample`` starts).

    python scripts/warm_start_report.py CHECKPOINT [--documents 100] [--tokens 60]

Prints the mean cross-entropy (nats/token) of the first ``--tokens`` tokens of ``--documents``
openings chosen with a fixed seed, both ways.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout, uninstalled

import seqgen  # noqa: E402
from seqgen.sample import WARMUP_TOKENS  # noqa: E402
from seqgen.data.vocab import EOS_ID  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint")
    parser.add_argument("--documents", type=int, default=100)
    parser.add_argument("--tokens", type=int, default=60)
    args = parser.parse_args()
    model = seqgen.load(args.checkpoint)
    net, ids = model.network, model.data["val_ids"].numpy().astype(np.int64)
    ends = model.warmup.ends  # openings: right after a boundary with a full stretch before it
    ends = ends[ends + args.tokens < len(ids)]
    picks = np.random.default_rng(0).choice(ends, min(args.documents, len(ends)), replace=False)
    cold = warm = 0.0
    with torch.inference_mode():
        for start in picks:
            target = torch.from_numpy(ids[start:start + args.tokens])[None]
            before = torch.from_numpy(ids[start - WARMUP_TOKENS:start])[None]  # ends with the boundary
            cold += float(net.loss(torch.cat([torch.tensor([[EOS_ID]]), target[:, :-1]], 1), target)[0])
            _, state = net.features(before[:, :-1], None)
            warm += float(net.loss(torch.cat([before[:, -1:], target[:, :-1]], 1), target, state)[0])
    print(f"{model.description}, {len(picks)} openings of {args.tokens} tokens: "
          f"cold {cold / len(picks):.4f} nats/token, warm {warm / len(picks):.4f} nats/token")


if __name__ == "__main__":
    main()
