"""seqgen: train recurrent language models on text and folk tunes, and generate from them.

    import seqgen
    run = seqgen.train("corpus.txt", time_budget="5m")
    model = seqgen.load(run.best_path)
    print(model.generate(prime="ROMEO:", length=300, seed=1))

See ``seqgen.api`` for every function, and the README for the command line.
"""

__version__ = "0.2.0"

from .api import Model, load, train  # noqa: E402
from .errors import CheckpointError, CorpusError, MusicError, SeqgenError, SeqgenWarning, UsageError  # noqa: E402
from .evaluate import Score  # noqa: E402
from .loop import TrainResult  # noqa: E402

__all__ = ["CheckpointError", "CorpusError", "Model", "MusicError", "Score", "SeqgenError", "SeqgenWarning",
           "TrainResult", "UsageError", "__version__", "load", "train"]
