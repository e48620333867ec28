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

from seqgen.training.plan_rule import FIT_CORPUS, FIT_DROPOUT, fit, lr_of, shape_name

GRID = Path(__file__).resolve().parent.parent / "benchmarks" / "plan" / "grid.jsonl"


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else GRID
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    rule = fit(records)
    indent = " " * len("RULE = Rule(")
    opening = f"RULE = Rule(beta={rule.beta}, curves={{"
    curves = f",\n{' ' * len(opening)}".join(
        f'"{name}": {{' + f",\n{' ' * (len(opening) + len(name) + 5)}".join(
            f"{lr:g}: ({E:.4f}, {B:.4f}, {R:g})" for lr, (E, B, R) in rates.items()) + "}"
        for name, rates in rule.curves.items())
    reach = f",\n{indent}       ".join(
        f'"{name}": {{' + ", ".join(f"{lr:g}: {epochs:g}" for lr, epochs in rates.items()) + "}"
        for name, rates in rule.reach.items())
    print(f"{opening}{curves}}},\n{indent}reach={{{reach}}})")
    print("\n| corpus | shape | dropout | lr | tokens | epochs | measured | curve |\n|---|---|---|---|---|---|---|---|")
    misses = []
    order = ("corpus", "layers", "hidden", "dropout")
    for r in sorted(records, key=lambda r: (*(r[k] for k in order), lr_of(r), r["tokens"])):
        name = shape_name(r["layers"], r["hidden"])
        fitted = None
        if r["corpus"] == FIT_CORPUS and r["dropout"] == FIT_DROPOUT and lr_of(r) in rule.curves.get(name, {}):
            fitted = rule.curve_loss(name, lr_of(r), r["tokens"], r["train_tokens"])
            misses.append(abs(fitted - r["val_loss"]))
        shown = "-" if fitted is None else f"{fitted:.4f}"
        print(f"| {r['corpus']} | {name} | {r['dropout']:g} | {lr_of(r):g} | "
              f"{r['tokens'] / 1e6:.2f} M | "
              f"{r['tokens'] / r['train_tokens']:.1f} | {r['val_loss']:.4f} | {shown} |")
    print(f"\n{len(misses)} runs fitted; largest miss {max(misses):.4f} nats, mean {sum(misses) / len(misses):.4f}")


if __name__ == "__main__":
    main()
