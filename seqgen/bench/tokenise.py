"""Tokenising speed and memory: a fresh process (so its peak memory is that of tokenising alone),
then a second one that finds the token ids in the on-disk cache."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

# The child imports the seqgen this process runs (its folder first on the path), not one that the
# working folder or an installed copy would give it.
_TOKENISE = """
import json, resource, sys, time
sys.path.insert(0, sys.argv[3])
from seqgen.formats import tokenize_corpus
start = time.perf_counter()
data = tokenize_corpus([sys.argv[1]], sys.argv[2])
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"seconds": seconds, "peak_bytes": peak, "tokens": len(data.ids), "cached": data.from_cache}))
"""


def tokenise_speed(text: str, target_mb: float, level: str = "char") -> dict:
    """Seconds and peak memory to tokenise ``target_mb`` MB of ``text`` repeated, then seconds
    to load the same again from the cache."""
    repeats = max(1, -(-int(target_mb * 1_000_000) // max(len(text.encode()), 1)))
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus.txt"
        with open(corpus, "w", encoding="utf-8") as fh:
            for _ in range(repeats):
                fh.write(text)
        env = {**os.environ, "XDG_CACHE_HOME": str(Path(tmp) / "cache")}
        root = str(Path(__file__).resolve().parents[2])  # the folder that holds the seqgen package
        runs = [json.loads(subprocess.run([sys.executable, "-c", _TOKENISE, str(corpus), level, root], env=env,
                                          check=True, capture_output=True, text=True).stdout) for _ in range(2)]
        size = corpus.stat().st_size
    first, second = runs
    return {"tokenise_mb": size / 1e6, "tokenise_s": first["seconds"], "tokenise_peak_mb": first["peak_bytes"] / 1e6,
            "tokenise_cached_s": second["seconds"], "tokens": first["tokens"]}
