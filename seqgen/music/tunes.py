"""Sample whole tunes from a music model, check each, re-sample failures, keep a tally."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TypeVar

import torch

from ..config import SampleConfig
from ..sample import Warmup, finished_samples, for_sampling, generate, stream_seed
from .validate import TuneCheck, check_tune, is_bar_problem

TUNE_START = "X:1\n"  # every training tune starts so (clean_tune renumbers them)
MAX_TUNE_TOKENS = 2000  # a tune longer than this is cut off and fails its check
ENDING_MARGIN = 100  # the bar guide ends a tune this many symbols before the limit (bar_guide.py)
# Nucleus sampling keeps more whole tunes valid at the first try, without copying more phrases
# from the training tunes (compare `seqgen sample --tunes 100` with and without `--top-p 1.0`).
TUNE_TOP_P = 0.7
T = TypeVar("T")


class HeaderOrder:
    """Tunes are drawn with the header order of the tunes training keeps: a meter line (M:)
    before the key line (K:), which ends the header. Every training tune has one, yet a model
    that has just written a short title sometimes takes it for a rhythm line (R:Reel, which
    K: follows) and goes on to K: with no meter; such a tune cannot be checked and is redrawn,
    and without this rule it was the commonest reason to redraw. Until a row has written "M:" at
    the start of a line, K is not drawn at the start of a line.
    """

    def __init__(self, vocab, prime: str, rows: int):
        ids = [vocab.index.get(c) for c in ("\n", "M", ":", "K")]
        self.active = None not in ids
        self.newline, self.m, self.colon, self.k = ids
        text = "\n" + prime
        self.meter = torch.full((rows,), "\nM:" in text)  # a meter line written
        self.line_start = torch.full((rows,), text.endswith("\n"))
        self.after_m = torch.full((rows,), text.endswith("\nM"))  # "M" opens the line so far

    def restrict(self, scores: torch.Tensor) -> torch.Tensor:
        if not self.active:
            return scores
        blocked = self.line_start & ~self.meter
        return scores.index_put((blocked.nonzero().squeeze(1), torch.tensor(self.k)), torch.tensor(float("-inf")))

    def advance(self, drawn: torch.Tensor) -> None:
        if self.active:
            self.meter |= self.after_m & (drawn == self.colon)
            self.after_m = self.line_start & (drawn == self.m)
            self.line_start = drawn == self.newline


def draw_tunes(model, vocab, config: SampleConfig, warmup=None, conditions=None, guide: bool = True) -> list[str]:
    """``config.num_samples`` whole tunes, each from its X: (or ``config.prime``) to its end,
    drawn with ``HeaderOrder``, ``conditions.ForcedHeader`` and (``guide``) ``bar_guide.BarGuide``
    after reading ``warmup`` (see ``sample.Warmup``); unchecked. ``conditions``
    (``conditions.TuneConditions``): the meter, key and first bars each tune gets."""
    cfg, constraint = _tune_rules(vocab, config, conditions, guide)
    return generate(model, vocab, cfg, stop_at_eos=True, constraint=constraint, warmup=warmup)


def finished_tunes(model, vocab, config: SampleConfig, warmup=None, conditions=None, guide: bool = True,
                   stop=None) -> Iterator[tuple[int, str]]:
    """The tunes of ``draw_tunes`` (the same draws), each as (row, text) as soon as it ends;
    once ``stop.is_set()``, the tunes not yet ended are left out (``sample.finished_samples``)."""
    cfg, constraint = _tune_rules(vocab, config, conditions, guide)
    return finished_samples(model, vocab, cfg, stop_at_eos=True, constraint=constraint, warmup=warmup, stop=stop)


def in_row_order(finished: Iterable[tuple[int, T]]) -> Iterator[T]:
    """The items of rows 0, 1, 2, ... in that order, each as soon as every row before it has come:
    tunes that end out of order keep the numbers of the whole batch. Rows after one that never
    came (drawing stopped) follow at the end, in row order."""
    held: dict[int, T] = {}
    following = 0
    for row, item in finished:
        held[row] = item
        while following in held:
            yield held.pop(following)
            following += 1
    for row in sorted(held):
        yield held.pop(row)


def _tune_rules(vocab, config: SampleConfig, conditions, guide: bool):
    """The settings a whole tune is drawn with, and the rules it keeps to (see ``draw_tunes``)."""
    from .bar_guide import BarGuide
    from .conditions import AllOf, ForcedHeader, TuneConditions

    cfg = replace(config, prime=config.prime or TUNE_START, length=max(config.length, MAX_TUNE_TOKENS))
    rules = [HeaderOrder(vocab, cfg.prime, cfg.num_samples)]
    if guide:
        rules.append(BarGuide(vocab, cfg.prime, cfg.num_samples, ending_at=cfg.length - ENDING_MARGIN))
    if conditions or _writes_fields(vocab):
        # Without conditions too: the header keeps its shape (a field letter and its colon on each
        # line until K:), so that no tune goes from a rhythm line into its music with no meter or key.
        rules.append(ForcedHeader(vocab, conditions or TuneConditions(), cfg.prime, cfg.num_samples))
    return cfg, AllOf(*rules)


def _writes_fields(vocab) -> bool:
    """Whether a model writes header fields symbol by symbol (a character-level music model)."""
    return vocab.level == "char" and all(c in vocab.index for c in "\n:K")


@dataclass
class TuneBatch:
    valid: list[tuple[str, TuneCheck]] = field(default_factory=list)
    invalid: list[tuple[str, TuneCheck]] = field(default_factory=list)
    attempts: int = 0
    first_try_valid: int = 0
    reasons: Counter = field(default_factory=Counter)
    stopped: bool = False  # drawing was stopped (``sample_tunes``'s ``stop``) before it finished

    @property
    def resampled(self) -> int:
        """Draws beyond the first one per tune."""
        return self.attempts - min(self.attempts, len(self.valid) + len(self.invalid))

    def write(self, folder, keep_invalid: bool = False, wav: bool = False, *, overwrite: bool = False,
              sheet: bool = False) -> list[Path]:
        """The tunes as files in ``folder`` (made if need be), as ``seqgen sample --tunes`` writes
        them, byte for byte: 001.abc and 001.mid per valid tune, in order; with ``keep_invalid``
        then the tunes that failed their check (004-invalid.abc, ...); with ``wav`` audio beside
        each MIDI file (001.wav), with ``sheet`` sheet music. A folder that holds an earlier batch
        is refused (``SeqgenError``), or its tunes removed first with ``overwrite``; other files
        are left. Returns the files of the batch (``pathlib.Path``), sorted; what could not be
        made (audio without a soundfont) is a ``SeqgenWarning``."""
        from .tune_files import write_batch

        return write_batch(self, folder, keep_invalid, wav, overwrite=overwrite, sheet=sheet)


OnTune = Callable[[str, TuneCheck], None]  # a tune kept as valid: its text and its check
OnAttempt = Callable[[int, int, int], None]  # (tune, of, attempt): tune 2 of 5 is being drawn, for the 1st time


def sample_tunes(model, vocab, count: int, config: SampleConfig, max_rounds: int = 5,
                 on_progress: Callable[[int, int], None] | None = None, warmup=None, conditions=None,
                 guide: bool = True, on_tune: OnTune | None = None, stop=None,
                 on_attempt: OnAttempt | None = None) -> TuneBatch:
    """Draw ``count`` tunes; tunes that fail their check are drawn again, up to ``max_rounds``.

    Each round samples all missing tunes side by side as one batch, from a random stream of its
    own under the seed (``stream_seed``): a fixed --seed gives the same set of tunes, and no
    round of one seed repeats the draws of another seed. Each tune is checked as soon as it ends;
    ``on_tune`` sees the tunes of ``valid`` in their order, each once every tune drawn before it
    in its round has ended, so that they can be kept while the others are drawn.

    Once ``stop.is_set()`` (anything with ``is_set``), drawing ends at the next step: the batch
    holds the tunes that had ended (those ``on_tune`` had not seen yet are passed to it then),
    ``stopped`` is True, and ``invalid`` holds the latest failures, one at most per missing tune.

    ``on_attempt(tune, count, attempt)`` says what is being drawn: when a round starts and after
    each tune kept, the first tune not kept yet (1-based, numbered as ``valid`` will number it)
    and its attempt (the round: every missing tune is drawn once a round).
    """
    batch = TuneBatch()
    failed: list[tuple[str, TuneCheck]] = []
    root = stream_seed(config.seed)
    for round_no in range(max_rounds):
        need = count - len(batch.valid)
        if need <= 0:
            break
        if stop is not None and stop.is_set():
            batch.stopped = True
            break
        cfg = replace(config, num_samples=need, seed=stream_seed(root, round_no))
        drawn_before, failed_now = batch.attempts, []
        drawing = (lambda: on_attempt(len(batch.valid) + 1, count, round_no + 1)) if on_attempt else lambda: None
        drawing()
        tunes = _checked(finished_tunes(model, vocab, cfg, warmup, conditions, guide, stop), conditions, batch,
                         on_progress)
        for text, check in in_row_order(tunes):
            _keep(batch, round_no, text, check, failed_now, on_tune)
            if check.valid and len(batch.valid) < count and not (stop is not None and stop.is_set()):
                drawing()
        if batch.attempts - drawn_before < need:  # stopped within the round
            batch.stopped = True
            # The failures of this round, and for the tunes it left undrawn, those of the round before.
            failed = (failed_now + failed)[:count - len(batch.valid)]
            break
        failed = failed_now
    batch.invalid = failed
    return batch


def _checked(tunes: Iterable[tuple[int, str]], conditions, batch: TuneBatch,
             on_progress: Callable[[int, int], None] | None) -> Iterator[tuple[int, tuple[str, TuneCheck]]]:
    """Each (row, tune) checked as it ends, counted as drawn in ``batch`` and reported."""
    valid = len(batch.valid)
    for row, text in tunes:
        check = check_tune(text, conditions=conditions, parse_invalid=False)  # parsed if asked for
        batch.attempts += 1
        valid += check.valid
        if on_progress:
            on_progress(valid, batch.attempts)
        yield row, (text, check)


def _keep(batch: TuneBatch, round_no: int, text: str, check: TuneCheck, failed: list,
          on_tune: OnTune | None) -> None:
    """A checked tune, in its row's turn: kept as valid (and passed on), or counted as failed."""
    if check.valid:
        batch.valid.append((text, check))
        batch.first_try_valid += round_no == 0
        if on_tune:
            on_tune(text, check)
    else:
        failed.append((text, check))
        batch.reasons.update({reason_kind(r) for r in check.reasons})


def reason_kind(reason: str) -> str:
    """Group reasons for the summary table: every wrong bar counts as one kind."""
    return "a bar has the wrong length" if is_bar_problem(reason) else reason


def tune_quality(model, vocab, data: dict, count: int, seed: int = 0, conditions=None) -> dict:
    """Sample ``count`` tunes once each (no re-sampling, the settings ``seqgen sample`` uses by
    default: its temperature, top-p ``TUNE_TOP_P``) and measure how good they are; with
    ``conditions``, tunes to that order, each checked against it too.

    ``data`` is the checkpoint's record of its corpus: the training tunes are read again from
    its sources and split as training split them, for the copied-phrase figures.
    """
    import tempfile
    from pathlib import Path

    from ..data.corpus import check_stored_sources
    from .abc_format import AbcFormat, held_out_documents
    from .export import tune_to_midi
    from .validate import copied_share

    cfg = SampleConfig(top_p=TUNE_TOP_P, num_samples=count, seed=seed)  # the default temperature
    texts = draw_tunes(for_sampling(model), vocab, cfg, Warmup(vocab, data["val_ids"].numpy()), conditions)
    checks = [check_tune(t, conditions=conditions) for t in texts]
    with tempfile.TemporaryDirectory() as tmp:
        exported = sum(c.score is not None and tune_to_midi(c.score, Path(tmp) / f"{i}.mid").path is not None
                       for i, c in enumerate(checks))
    check_stored_sources(data["sources"])
    tunes = AbcFormat().read(data["sources"]).documents  # a music model's data are tunes
    training = [tunes[i] for i in held_out_documents(len(tunes), data["val_fraction"], data["seed"])[0]]
    bars_ok = sum(c.score is not None and not any(map(is_bar_problem, c.reasons)) for c in checks)
    copied = copied_share(texts, training)
    ordered = {"tunes_to_order": conditions.as_options()} if conditions else {}
    return {**ordered, "tunes_sampled": count, "parse_pct": 100 * sum(c.score is not None for c in checks) / count,
            "midi_pct": 100 * exported / count, "bars_right_pct": 100 * bars_ok / count,
            "valid_pct": 100 * sum(c.valid for c in checks) / count,
            "copied_phrases_pct": 100 * copied, "novelty_pct": 100 * (1 - copied)}
