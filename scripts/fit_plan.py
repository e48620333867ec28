"""Fit the plan's rule to the grid of measured runs, and show how well it fits.

    python scripts/fit_plan.py [GRID]     (default: benchmarks/plan/grid.jsonl)

Prints the fitted ``Rule(...)`` (to paste into seqgen/training/plan_rule.py as ``RULE``), each run's
measured held-out loss beside its shape's curve (the runs of other texts, dropouts and learning
rates too, which the curves are not fitted to), and the largest miss. tests/test_plan.py checks
that ``RULE`` is this fit of the committed grid.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from seqgen.training.plan_rule import FIT_CORPUS, FIT_DROPOUT, fit, lr_of

GRID = Path(__file__).resolve().parent.parent / "benchmarks" / "plan" / "grid.jsonl"


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else GRID
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    rule = fit(records)
    opening = f"RULE = Rule(beta={rule.beta}, R={rule.R}, curves={{"
    curves = f",\n{' ' * len(opening)}".join(f'"{name}": ({E:.4f}, {B:.4f})' for name, (E, B) in rule.curves.items())
    lrs = ", ".join(f'"{name}": {lr:g}' for name, lr in rule.lrs.items())
    reach = ", ".join(f'"{name}": {epochs:g}' for name, epochs in rule.reach.items())
    indent = " " * len("RULE = Rule(")
    print(f"{opening}{curves}}},\n{indent}lrs={{{lrs}}},\n{indent}reach={{{reach}}})")
    print("\n| corpus | shape | dropout | lr | tokens | epochs | measured | curve |\n|---|---|---|---|---|---|---|---|")
    misses = []
    order = ("corpus", "layers", "hidden", "dropout")
    for r in sorted(records, key=lambda r: (*(r[k] for k in order), lr_of(r), r["tokens"])):
        fitted = rule.loss(r["layers"], r["hidden"], r["tokens"], r["train_tokens"])
        fitted = fitted if lr_of(r) == rule.lr(r["layers"], r["hidden"]) else None
        if fitted is not None and r["corpus"] == FIT_CORPUS and r["dropout"] == FIT_DROPOUT:
            misses.append(abs(fitted - r["val_loss"]))
        shown = "-" if fitted is None else f"{fitted:.4f}"
        print(f"| {r['corpus']} | {r['layers']}x{r['hidden']} | {r['dropout']:g} | {lr_of(r):g} | "
              f"{r['tokens'] / 1e6:.2f} M | "
              f"{r['tokens'] / r['train_tokens']:.1f} | {r['val_loss']:.4f} | {shown} |")
    print(f"\n{len(misses)} runs fitted; largest miss {max(misses):.4f} nats, mean {sum(misses) / len(misses):.4f}")


if __name__ == "__main__":
    main()
