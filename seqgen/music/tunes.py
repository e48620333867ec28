"""Sample whole tunes from a music model, check each, re-sample failures, keep a tally."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import torch

from ..config import SampleConfig
from ..sample import Warmup, for_sampling, generate, stream_seed
from .validate import TuneCheck, check_tune, is_bar_problem

TUNE_START = "X:1\n"  # every training tune starts so (clean_tune renumbers them)
MAX_TUNE_TOKENS = 2000  # a tune longer than this is cut off and fails its check
ENDING_MARGIN = 100  # the bar guide ends a tune this many symbols before the limit (bar_guide.py)
# Nucleus sampling keeps more whole tunes valid at the first try, without copying more phrases
# from the training tunes (compare `seqgen sample --tunes 100` with and without `--top-p 1.0`).
TUNE_TOP_P = 0.7


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
    constraint = AllOf(*rules)
    return generate(model, vocab, cfg, stop_at_eos=True, constraint=constraint, warmup=warmup)


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

    @property
    def resampled(self) -> int:
        """Draws beyond the first one per tune."""
        return self.attempts - min(self.attempts, len(self.valid) + len(self.invalid))


def sample_tunes(model, vocab, count: int, config: SampleConfig, max_rounds: int = 5,
                 on_progress: Callable[[int, int], None] | None = None, warmup=None, conditions=None,
                 guide: bool = True) -> TuneBatch:
    """Draw ``count`` tunes; tunes that fail their check are drawn again, up to ``max_rounds``.

    Each round samples all missing tunes side by side as one batch, from a random stream of its
    own under the seed (``stream_seed``): a fixed --seed gives the same set of tunes, and no
    round of one seed repeats the draws of another seed.
    """
    batch = TuneBatch()
    failed: list[tuple[str, TuneCheck]] = []
    root = stream_seed(config.seed)
    for round_no in range(max_rounds):
        need = count - len(batch.valid)
        if need <= 0:
            break
        cfg = replace(config, num_samples=need, seed=stream_seed(root, round_no))
        failed = []
        for text in draw_tunes(model, vocab, cfg, warmup, conditions, guide):
            batch.attempts += 1
            check = check_tune(text, conditions=conditions)
            if check.valid:
                batch.valid.append((text, check))
                batch.first_try_valid += round_no == 0
            else:
                failed.append((text, check))
                batch.reasons.update({_kind(r) for r in check.reasons})
            if on_progress:
                on_progress(len(batch.valid), batch.attempts)
    batch.invalid = failed
    return batch


def _kind(reason: str) -> str:
    """Group reasons for the summary table: every wrong bar counts as one kind."""
    return "a bar has the wrong length" if is_bar_problem(reason) else reason


def tune_quality(model, vocab, data: dict, count: int, seed: int = 0, conditions=None) -> dict:
    """Sample ``count`` tunes once each (no re-sampling, the settings ``seqgen sample`` uses by
    default: temperature 0.8, top-p ``TUNE_TOP_P``) and measure how good they are; with
    ``conditions``, tunes to that order, each checked against it too.

    ``data`` is the checkpoint's record of its corpus: the training tunes are read again from
    its sources and split as training split them, for the copied-phrase figures.
    """
    import tempfile
    from pathlib import Path

    from ..corpus import check_stored_sources
    from ..formats import read_corpus
    from .abc_format import held_out_documents
    from .export import tune_to_midi
    from .validate import copied_share

    cfg = SampleConfig(temperature=0.8, top_p=TUNE_TOP_P, num_samples=count, seed=seed)
    texts = draw_tunes(for_sampling(model), vocab, cfg, Warmup(vocab, data["val_ids"].numpy()), conditions)
    checks = [check_tune(t, conditions=conditions) for t in texts]
    with tempfile.TemporaryDirectory() as tmp:
        exported = sum(c.score is not None and tune_to_midi(c.score, Path(tmp) / f"{i}.mid").path is not None
                       for i, c in enumerate(checks))
    check_stored_sources(data["sources"])
    tunes = read_corpus(data["sources"]).documents
    training = [tunes[i] for i in held_out_documents(len(tunes), data["val_fraction"], data["seed"])[0]]
    bars_ok = sum(c.score is not None and not any(map(is_bar_problem, c.reasons)) for c in checks)
    copied = copied_share(texts, training)
    ordered = {"tunes_to_order": conditions.as_options()} if conditions else {}
    return {**ordered, "tunes_sampled": count, "parse_pct": 100 * sum(c.score is not None for c in checks) / count,
            "midi_pct": 100 * exported / count, "bars_right_pct": 100 * bars_ok / count,
            "valid_pct": 100 * sum(c.valid for c in checks) / count,
            "copied_phrases_pct": 100 * copied, "novelty_pct": 100 * (1 - copied)}
