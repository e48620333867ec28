"""The figures laid out for people: sections of rows, each ladder read top to bottom.

Plain strings only; the CLI draws them (rich lives there).
"""

from __future__ import annotations

from .ladder import SPEEDUPS

Row = tuple[str, str, str, str]  # label, median, "min – max", speed-up
TITLES = {
    "char": "char model",
    "word_default": "word, default model",
    "word_large": "word, large vocabulary",
}


def number(value: object) -> str:
    """A figure as text: thousands separated, three significant digits below 100."""
    if value is None:
        return "-"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def _ratio(value: object) -> str:
    return "" if value is None else f"{value:.2f}x"


def _spread(f: dict, key: str) -> str:
    low, high = f.get(f"{key}_min"), f.get(f"{key}_max")
    return "" if low is None else f"{number(low)} - {number(high)}"


def _ladder(f: dict, prefix: str) -> list[Row]:
    labels = {"reference": "pytorch/examples loop (fp32, SGD)",
              "seqgen_fp32": "seqgen step, fp32",
              "seqgen_mixed": "+ mixed precision" if f["mixed_precision"] is None else f"+ {f['mixed_precision']} autocast",
              "seqgen_adaptive": "+ adaptive softmax"}
    rows = []
    for rung, label in labels.items():
        key = f"{prefix}_{rung}_tokens_per_s"
        if key not in f:
            continue
        if f["skipped"].get(f"{prefix}_{rung}"):
            rows.append((label, "skipped", "(see below)", ""))
            continue
        speedup = f.get(f"{prefix}_speedup_{SPEEDUPS[rung]}") if rung in SPEEDUPS else None
        rows.append((label, number(f[key]), _spread(f, key), _ratio(speedup)))
    return rows


def table_sections(f: dict) -> list[tuple[str, list[Row]]]:
    """(title, rows) for each part of the benchmark, in reading order; speed-ups are over the
    ladder's reference rung, and for sampling int8 over fp32."""
    p = f["precision"]
    share = f["char_share_of_peak"]
    sections = [("matrix products (GFLOP/s)", [
        ("input projection, fp32", number(f["matmul_fp32_gflops"]), "", ""),
        ("input projection, bf16", number(f["matmul_bf16_gflops"]), "", ""),
        (f"recurrent, {p}", number(f["matmul_recurrent_gflops"]), "", "")])]
    for prefix, title in TITLES.items():
        rows = _ladder(f, prefix)
        if prefix == "char":
            rows += [(f"seqgen step in {p}: GFLOP/s", number(f["char_gflops"]), "", ""),
                     (f"share of the {p} peak", "-" if share is None else f"{share:.1%}", "", "")]
        sections.append((f"{title} (tokens/s)", rows))
    rows = []
    for batch in sorted({int(k.rsplit("batch", 1)[1]) for k in f if k.startswith("sample_fp32_") and k[-1].isdigit()}):
        for name in ("fp32", "int8"):
            key = f"sample_{name}_chars_per_s_batch{batch}"
            skipped = f["skipped"].get(f"sample_{name}_batch{batch}")
            rows.append((f"batch {batch}, {name}", "skipped" if skipped else number(f[key]),
                         "(see below)" if skipped else _spread(f, key),
                         _ratio(f[f"sample_int8_speedup_batch{batch}"]) if name == "int8" else ""))
    sections.append(("sampling on the CPU (chars/s)", rows))
    sections.append((f"tokenising {number(f['tokenise_mb'])} MB ({number(f['tokens'])} tokens)", [
        ("fresh process: seconds", number(f["tokenise_s"]), "", ""),
        ("fresh process: peak MB", number(f["tokenise_peak_mb"]), "", ""),
        ("from the cache: seconds", number(f["tokenise_cached_s"]), "", "")]))
    return sections


def table_notes(f: dict) -> list[str]:
    """What the table's figures are of: device, run, shapes, models, and what was skipped why."""
    load = "" if f["load_average"] is None else f", load average {f['load_average']:.1f}"
    caps = "".join(f", {name}={value}" for name, value in f["isa_caps"].items())
    notes = [f"{f['cpu_model']} ({' '.join(f['cpu_flags']) or 'flags unknown'}; torch {f['torch']} runs {f['cpu_capability']} "
             f"kernels{caps})",
             f"{f['device']}, {f['threads']} threads{load}; seqgen trains in {f['precision']} here",
             (f"{f['sizes']} run: median of {f['repeats']} timed runs once the times settled ({f['warmup']} untimed "
              "runs or more before), rungs in turns"),
             f"matrix products: {f['matmul_shapes']}",
             "speed-up: over the pytorch/examples loop on the same model and batch; for sampling, int8 over fp32"]
    notes += [f"{prefix}: {f[prefix + '_model']}" for prefix in TITLES]
    notes.append(f"sampling: {f['sample_model']}, {f['sample_threads']} thread{'s' if f['sample_threads'] > 1 else ''}")
    notes += [f"skipped {key}: {why}" for key, why in f["skipped"].items()]
    return notes
