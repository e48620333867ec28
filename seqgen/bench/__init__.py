"""Benchmark: how fast seqgen trains, samples and tokenises here, and what each part of that is worth.

Training speed is a ladder on one model and one batch (ladder.py): pytorch/examples' textbook
loop, then seqgen's training step in fp32, then with mixed precision, then (large word
vocabularies) with the adaptive softmax, the rungs timed in turns so that a busy machine slows
them alike. The char model's throughput is set against the matrix-multiply peak of the precision
it ran in, measured at its own matrix shapes (peak.py). Sampling is timed with int8 weights and in
fp32 (sampling.py), tokenising in a fresh process and from the cache (tokenise.py).

Every figure is a median of timed runs after untimed warm-up runs, with the lowest and highest.
"""

from .report import table_notes, table_sections
from .run import FULL, QUICK, TINY, Sizes, run_bench, sizes_for

__all__ = ["FULL", "QUICK", "TINY", "Sizes", "run_bench", "sizes_for", "table_notes", "table_sections"]
