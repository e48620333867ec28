"""seqgen: train recurrent language models on text and folk tunes, and generate from them.

    import seqgen
    run = seqgen.train("corpus.txt", time_budget="5m")
    model = seqgen.load(run.best_path)
    print(model.generate(prime="ROMEO:", length=300, seed=1))

See ``seqgen.api`` for every function, and the README for the command line.
"""

__version__ = "0.2.0"

import importlib
import os

# torch's OpenMP threads meet at the end of every parallel step. By default a thread that is done
# spins a while (300,000 turns in libgomp, torch's OpenMP on Linux) before it sleeps, and on a
# machine with other work (a training and a sampling side by side) the spinning takes the cores
# that the threads still working need: about twice as slow. Asleep at once costs a tenth or more
# of a quiet machine's speed; a few hundred turns first keep most of that and cost next to nothing
# on a busy one (scripts/thread_wait_report.py; the README). KMP_BLOCKTIME=0, asleep at once, is
# for Intel's and LLVM's OpenMP, which do not read GOMP_SPINCOUNT. OpenMP reads these when torch
# loads, and torch loads only after seqgen (see _LAZY); what the user set (OMP_WAIT_POLICY too,
# which libgomp puts before GOMP_SPINCOUNT) is kept.
WAIT = {"GOMP_SPINCOUNT": "300", "KMP_BLOCKTIME": "0"}


def wait_settings(env) -> dict[str, str]:
    """What importing seqgen adds to the environment ``env``: ``WAIT``, less what the user set."""
    return {} if "OMP_WAIT_POLICY" in env else {name: value for name, value in WAIT.items() if name not in env}


os.environ.update(wait_settings(os.environ))

from .errors import CheckpointError, CorpusError, MusicError, SeqgenError, SeqgenWarning, UsageError

# Imported when first used, so that importing any part of seqgen (a worker process that only checks
# tunes with music21, say) does not load torch.
_LAZY = {"Model": "api", "load": "api", "train": "train_call", "plan": "train_call", "Score": "evaluate",
         "TrainResult": "training.loop"}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])


__all__ = ["CheckpointError", "CorpusError", "Model", "MusicError", "Score", "SeqgenError", "SeqgenWarning",
           "TrainResult", "UsageError", "__version__", "load", "train"]
