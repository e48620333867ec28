"""seqgen from Python: train a model, load it, generate, score, draw whole tunes.

    import seqgen
    run = seqgen.train("corpus.txt", time_budget="5m")
    model = seqgen.load(run.best_path)          # or seqgen.load() for the latest run's best
    model.generate(prime="ROMEO:", length=300, temperature=0.8, seed=1)   # -> str, always
    model.generate_many(3, length=100, temperature=[0.5, 1.0])           # -> list[str], always
    model.generate_to_file("sample.txt", length=2000)                    # -> Path("sample.txt")
    model.score("some held-out text")           # -> Score (cross-entropy, perplexity, ...)

The command line and the studio page are thin layers over these functions. Errors are
``SeqgenError`` subclasses with a message that says what to do; progress goes to an optional
callback.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from . import arguments
from .training import checkpoint as ckpt
from .config import SampleConfig, TuneOptions
from .errors import UsageError
from .evaluate import Score
from .options import keywords, signature, typed
from .options import options as option_fields
from .train_call import plan, train  # noqa: F401  (seqgen.api.train, as before)

ONE_SAMPLE = ("num_samples",)  # settings that streaming has no use for: it draws one sample
WHOLE_TUNE = ("prime", "length", "num_samples")  # a tune runs from X: to its end; count gives how many

KINDS = {("text", "char"): "text", ("text", "word"): "words", ("abc", "char"): "music", ("abc", "word"): "music"}


class Model:
    """A trained model loaded from a checkpoint, ready to generate and score."""

    def __init__(self, path: Path, payload: dict):
        self.path = Path(path)
        self.payload = payload
        self.network, self.vocab = ckpt.load_model(payload, source=path)
        self.data = payload["data"]
        self._samplers: dict[str, object] = {}

    @classmethod
    def load(cls, path: str | Path | None = None, root: str | Path = ckpt.DEFAULT_ROOT,
             on_found: Callable[[Path], None] | None = None) -> Model:
        """The model in checkpoint ``path``; without one, the latest run's best under ``root``,
        which ``on_found(path)`` hears of before it is read. The one way into a model: the
        command line, the studio and ``seqgen eval`` come in here too."""
        path = arguments.path("path", path) if path is not None else None
        arguments.callback("on_found", on_found)
        checkpoint_path, picked_latest = ckpt.resolve(path, Path(arguments.path("root", root)))
        if picked_latest and on_found:
            on_found(checkpoint_path)
        return cls(checkpoint_path, ckpt.load(checkpoint_path))

    # -- what it is ------------------------------------------------------------------------------
    @property
    def kind(self) -> str:
        """"text" (characters), "words" or "music" (ABC tunes)."""
        return KINDS[(self.data["kind"], self.vocab.level)]

    @property
    def level(self) -> str:
        return self.vocab.level

    @property
    def direction(self) -> str:
        """"forward", or "backward": read from the end, to score fills; it writes no text. Older ones: forward."""
        return (self.payload.get("train_config") or {}).get("direction") or "forward"

    @property
    def model_type(self) -> str:
        return self.payload["model_type"]

    @property
    def description(self) -> str:
        """"lstm 2x512", "kneser-ney 5-gram", ..."""
        return self.network.describe()

    @property
    def held_out(self) -> Score | None:
        """The best held-out score recorded while training (None if none was)."""
        best = self.payload.get("progress", {}).get("best_val_loss")
        tokens = len(self.data["val_ids"])
        return Score(best * max(tokens - 1, 1), max(tokens - 1, 1)) if best is not None and np.isfinite(best) else None

    def __repr__(self) -> str:
        return f"<seqgen.Model {self.kind} {self.description} from {self.path}>"

    # -- generating ------------------------------------------------------------------------------
    def generate(self, *args, on_text: Callable[[int, str], None] | None = None, **settings) -> str:
        """One sample: the text after ``prime`` (the prime included), as ``seqgen sample`` prints
        it. Always a ``str``: several samples, or one per temperature of a list, are
        ``generate_many``'s, and asking this for them is a UsageError that says so.
        ``on_text(0, piece)`` sees each piece as drawn. The settings are ``SampleConfig``'s, by
        name or in its order: prime, length, temperature, ..."""
        if "num_samples" in settings:
            raise UsageError("generate returns one sample (a str); for several, call generate_many(n, ...), "
                             "which returns a list of n")
        given = keywords(SampleConfig, args, settings, ONE_SAMPLE)
        if isinstance(given.get("temperature"), (list, tuple)):
            raise UsageError("generate returns one sample at one temperature; generate_many(temperature=[...]) "
                             "returns one per temperature")
        return self.generate_many(1, on_text=on_text, **given)[0]

    def generate_many(self, n: int = 1, *args, on_text: Callable[[int, str], None] | None = None,
                      **settings) -> list[str]:
        """``n`` samples, drawn side by side: always a ``list[str]``. With a list of temperatures
        (``temperature=[0.5, 1.0]``), the ``n`` samples at each, in the order of the list, all from
        the same seed, so that only the temperature differs. ``on_text(i, piece)`` sees each piece
        of sample ``i`` (its place in the list) as drawn. The settings are ``generate``'s."""
        from .sample import generate

        if typed("n", n, "int") < 1:
            raise UsageError(f"n must be at least 1 (got {n})")
        cfg = self.sample_config(num_samples=n, **keywords(SampleConfig, args, settings, ONE_SAMPLE))
        arguments.callback("on_text", on_text)
        texts = []
        for each in cfg.at_each_temperature():
            first = len(texts)
            told = on_text and (lambda row, piece: on_text(first + row, piece))
            texts += generate(self.sampler(cfg.precision), self.vocab, each, on_text=told, warmup=self.warmup)
        return texts

    def generate_to_file(self, path: str | os.PathLike, *args, overwrite: bool = False, **settings) -> Path:
        """What ``seqgen sample`` prints for these settings (``SampleConfig``'s, ``num_samples``
        among them), written to the file ``path`` (UTF-8, atomically: whole or not at all), which
        is returned as a ``pathlib.Path``. One sample streams into the file at any length; with
        several, each comes after "=== sample 2 ===", and each temperature of a list after
        "--- temperature 0.5 ---". A file that exists is refused unless ``overwrite``."""
        from .sample_output import printed, write_new

        target = Path(arguments.path("path", path))
        typed("overwrite", overwrite, "bool")
        given = keywords(SampleConfig, args, settings)
        count = given.get("num_samples", 1)
        self.sample_config(streaming=count == 1, **given)  # every setting checked before the file is made
        return write_new(target, printed(self, given), overwrite)

    def stream(self, *args, **settings) -> Iterator[str]:
        """One sample, piece by piece as it is drawn (the prime first); any length, in constant memory."""
        from .sample import stream

        given = keywords(SampleConfig, args, settings, ONE_SAMPLE)
        cfg = arguments.one_temperature(self.sample_config(streaming=True, **given), "a stream is one sample")
        return stream(self.sampler(cfg.precision), self.vocab, cfg, warmup=self.warmup)

    def tunes(self, count: int = 1, *, max_rounds: int = 5, on_progress: Callable[[int, int], None] | None = None,
              on_tune: Callable | None = None, on_attempt: Callable | None = None, stop=None, **settings):
        """``count`` whole tunes, each checked; a tune that fails is drawn again (up to
        ``max_rounds`` rounds). Returns a ``TuneBatch``: ``valid`` and ``invalid`` (text, check)
        pairs, ``first_try_valid``, ``attempts`` and the reasons tunes were rejected. The
        settings are ``SampleConfig``'s that apply to whole tunes (temperature, top_k, top_p,
        seed, precision) and ``TuneOptions``'s.

        Tunes to order: ``meter`` ("6/8", "C|"), ``key`` ("G", "Dmix", "Bm") and ``prime_abc``
        (first bars, "|:d2B AFD|EFG A2B|") are written into every tune, and checked first.

        ``on_tune(text, check)`` sees each valid tune, in the order of ``valid``, as soon as it is
        sure, while the others are drawn: what it keeps survives an interruption; ``on_attempt(tune,
        count, attempt)`` hears what is drawn now (tune 2 of 5, attempt 1). ``stop`` (a ``threading.Event``)
        ends the drawing at the next step with the tunes that had ended (``stopped`` is then True)."""
        from .music.tunes import sample_tunes

        self.check_tune_count(count)
        tune_names = [f.name for f in option_fields(TuneOptions)]
        ordered = {name: settings.pop(name) for name in tune_names if name in settings}
        cfg = arguments.one_temperature(self.sample_config(**keywords(SampleConfig, (), settings, WHOLE_TUNE)),
                                        "a batch of tunes is drawn at one temperature; draw one batch per temperature")
        if typed("max_rounds", max_rounds, "int") < 1:
            raise UsageError(f"max_rounds must be at least 1 (got {max_rounds})")
        arguments.callback("on_progress", on_progress)
        arguments.callback("on_tune", on_tune)
        arguments.callback("on_attempt", on_attempt)
        arguments.stop_flag(stop)
        wanted = self.tune_conditions(**ordered)
        return sample_tunes(self.sampler(cfg.precision), self.vocab, count, cfg, max_rounds, on_progress,
                            warmup=self.warmup, conditions=wanted, on_tune=on_tune, stop=stop, on_attempt=on_attempt)

    def fill(self, text: str, n: int = 5, **settings) -> list[tuple[str, float]]:
        """Up to ``n`` versions of ``text`` with its gaps filled, best first, as (text, score):
        ``[...]`` in text, a bar ``...`` between bar lines in a tune; the rest stays byte for byte
        (``seqgen.fill.filling.fill_gaps``: also ``backward``, ``method``, ``candidates``, ``stop``,
        and the sampling settings)."""
        from .fill.filling import fill_gaps

        if isinstance(settings.get("backward"), (str, os.PathLike)):
            settings["backward"] = Model.load(settings["backward"])
        return [(r.text, r.score) for r in fill_gaps(self, text, n, **settings)]

    def check_tune_count(self, count: int) -> None:
        """UsageError unless this model draws whole tunes and ``count`` of them can be kept."""
        from .config import MAX_SAMPLE_TOKENS
        from .music.tunes import MAX_TUNE_TOKENS

        if self.kind != "music":
            raise UsageError(f"{self.path} is a {self.kind} model; whole tunes need a model trained on ABC tunes")
        most = MAX_SAMPLE_TOKENS // MAX_TUNE_TOKENS  # tunes are kept in memory, each up to a tune's tokens
        if not 1 <= typed("--tunes", count, "int") <= most:
            raise UsageError(f"--tunes must be from 1 to {most:,}, each tune being drawn up to "
                             f"{MAX_TUNE_TOKENS:,} tokens (got {count:,})")

    def tune_conditions(self, *args, **ordered):
        """The meter, key and first bars asked for (``TuneOptions``'s fields), checked (also that
        this model can write them)."""
        from .music.conditions import conditions

        wanted = conditions(**keywords(TuneOptions, args, ordered))
        wanted.check_model(self.vocab)
        return wanted

    def sample_config(self, *args, streaming: bool = False, **settings) -> SampleConfig:
        """The settings (``SampleConfig``'s fields, by name or in its order) checked, with this
        model's defaults (top-p for music models)."""
        from .music.tunes import TUNE_TOP_P

        if self.direction == "backward":  # what it would write runs backward: it only scores fills
            raise UsageError(f"{self.path} is a backward model, made to score fills (seqgen sample FORWARD.pt --fill "
                             f"FILE --backward {self.path}), not to write text; sample from a forward model")
        given = keywords(SampleConfig, args, settings)
        if "top_p" not in given and self.kind == "music":
            given["top_p"] = TUNE_TOP_P
        return SampleConfig(**given).validate(streaming)

    @functools.cached_property
    def warmup(self):
        """Held-out text read before sampling, so that it starts from the states training sees."""
        from .sample import Warmup

        return Warmup(self.vocab, self.data["val_ids"].numpy())

    def sampler(self, precision: str = "auto"):
        """The network to sample with (``sample.for_sampling``): on the CPU an int8 copy of a big
        enough model, or with ``precision="int8"``."""
        from .sample import for_sampling

        if precision not in self._samplers:
            self._samplers[precision] = for_sampling(self.network, precision)
        return self._samplers[precision]

    def unknown_symbols(self, prime: str) -> list[str]:
        """Symbols of ``prime`` this model never saw (read as <unk>); UsageError when it has
        nothing but such symbols."""
        from .sample import prime_ids

        return prime_ids(self.vocab, prime)[1]

    # -- scoring ---------------------------------------------------------------------------------
    def score(self, text: str | None = None, files: list[str | Path] | None = None,
              encoding: str = "utf-8") -> Score:
        """Cross-entropy (nats/token), perplexity and, for characters, bits per character of
        ``text``, of ``files``, or (neither given) of the model's own held-out text; a backward
        model reads each from its end."""
        from .scoring import ids_to_score

        typed("text", text, "str | None")
        typed("encoding", encoding, "str")
        files = arguments.paths("files", files) if files is not None else None  # one path, or a list
        return self.network.score(ids_to_score(self, text, files, encoding))


def _show_keywords(method, classes: list[type], left_out: tuple[str, ...] = ()) -> None:
    """The keywords ``method`` takes, as help() and editors show them: generated from the configs."""
    method.__signature__ = signature(method, classes, left_out)


_show_keywords(Model.generate, [SampleConfig], ONE_SAMPLE)
_show_keywords(Model.generate_many, [SampleConfig], ONE_SAMPLE)
_show_keywords(Model.generate_to_file, [SampleConfig])
_show_keywords(Model.stream, [SampleConfig], ONE_SAMPLE)
_show_keywords(Model.tunes, [SampleConfig, TuneOptions], WHOLE_TUNE)
_show_keywords(Model.sample_config, [SampleConfig])
_show_keywords(Model.tune_conditions, [TuneOptions])


def load(path: str | Path | None = None, root: str | Path = ckpt.DEFAULT_ROOT) -> Model:
    """The model in checkpoint ``path``; without one, the latest run's best under ``root``
    (``Model.load``)."""
    return Model.load(path, root)
