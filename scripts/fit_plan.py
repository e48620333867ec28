"""Fit the plan's rule to the grid of measured runs, and show how well it fits.

    python scripts/fit_plan.py [GRID]     (default: benchmarks/plan/grid.jsonl)

Prints the fitted ``Rule(...)`` (to paste into seqgen/training/plan_rule.py as ``RULE``), each run's
measured and fitted held-out loss, and the largest miss. tests/test_plan.py checks that ``RULE`` is
this fit of the committed grid.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from seqgen.training.plan_rule import fit, recurrent_params

GRID = Path(__file__).resolve().parent.parent / "benchmarks" / "plan" / "grid.jsonl"


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else GRID
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    rule = fit(records)
    print(f"RULE = Rule(E={rule.E:.4f}, A={rule.A:.4f}, alpha={rule.alpha}, B={rule.B:.4f}, beta={rule.beta}, "
          f"R={rule.R})")
    print(f"\n| corpus | shape | dropout | tokens | epochs | measured | fitted |\n|---|---|---|---|---|---|---|")
    misses = []
    for r in sorted(records, key=lambda r: (r["corpus"], r["layers"] * r["hidden"], r["tokens"])):
        params = recurrent_params(r["layers"], r["hidden"], r.get("vocab_size", 65))
        fitted = rule.loss(params, r["tokens"], r["train_tokens"])
        misses.append(abs(fitted - r["val_loss"]))
        print(f"| {r['corpus']} | {r['layers']}x{r['hidden']} | {r['dropout']:g} | {r['tokens'] / 1e6:.2f} M | "
              f"{r['tokens'] / r['train_tokens']:.1f} | {r['val_loss']:.4f} | {fitted:.4f} |")
    print(f"\n{len(records)} runs; largest miss {max(misses):.4f} nats, mean {sum(misses) / len(misses):.4f}")


if __name__ == "__main__":
    main()
