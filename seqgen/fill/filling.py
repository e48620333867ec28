"""Gaps filled: for each gap in turn, candidates drawn, checked and ranked, the best kept.

Several gaps are filled left to right, keeping the ``n`` best texts so far (a beam): each is
carried to the next gap with its own candidates there, and a text's score is the sum of its
fills' scores. A candidate that fails its check (a bar that does not last what the meter says)
is dropped, and a gap with too few good ones is drawn again, up to ``MAX_ROUNDS`` rounds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..data.vocab import EOS_ID
from ..errors import SeqgenError, UsageError
from ..sample import cancelled_by, stream_seed
from .checks import fill_problem
from .draw import Unit, draw_fills
from .gaps import split_gaps
from ..data import fim
from .judge import REACH, judge, text_ids

METHODS = ("auto", "left", "pair", "fim")
MAX_ROUNDS = 5
FILL_STREAM = 2  # the random stream of fills under a seed (sampling's own use 0 and 1)


class NoFill(SeqgenError):
    """No candidate drawn for a gap passed its check."""


@dataclass(frozen=True)
class FillResult:
    text: str  # the whole text, every gap filled, the rest byte for byte as given
    score: float  # the method's rating (nats; higher is better)
    fills: tuple[str, ...]  # what went into each gap, in order


def chosen_method(model, method: str, backward) -> str:
    """``auto``: fill in the middle where the model was trained to, else the forward (and
    backward) pair; a method the model cannot do is a UsageError."""
    if method not in METHODS:
        raise UsageError(f"--fill-method must be one of {', '.join(METHODS)} (got {method!r})")
    can = fim.can_fill(model.vocab)
    if method == "fim" and not can:
        raise UsageError(f"{model.path} was not trained to fill in the middle; train one with --fill-rate "
                         "0.5, or use --fill-method pair")
    if backward is not None and backward.direction != "backward":
        raise UsageError(f"{backward.path} is not a backward model; train one with --direction backward")
    if backward is not None and backward.vocab != model.vocab:
        raise UsageError(f"{backward.path} was trained on another vocabulary than {model.path}; train both on "
                         "the same text")
    return method if method != "auto" else ("fim" if can else "pair")


def fill_gaps(model, text: str, n: int = 5, *, candidates: int = 20, backward=None, method: str = "auto",
              on_attempt: Callable[[int, int], None] | None = None, stop=None, **settings) -> list[FillResult]:
    """Up to ``n`` texts with every gap of ``text`` filled, best first (see the module docstring).
    ``backward``: a loaded backward model of the same text that also judges each fill;
    ``method``: auto, left, pair or fim (``seqgen.fill``); ``candidates``: fills drawn per gap.
    ``settings``: ``SampleConfig``'s (temperature, top_k, top_p, seed). ``on_attempt(gap, round)``
    hears each round of drawing; ``stop`` ends the work at the next token (``Cancelled``)."""
    from ..options import typed

    typed("text", text, "str")
    if typed("n", n, "int") < 1:
        raise UsageError(f"n must be at least 1 (got {n})")
    gapped = split_gaps(text, music=model.kind == "music")
    how = chosen_method(model, method, backward)
    cfg = model.sample_config(**settings)
    seed = cfg.seed
    beam: list[tuple[tuple[str, ...], float]] = [((), 0.0)]
    with cancelled_by(stop):
        for g, unit in enumerate(gapped.units):
            grown = []
            for b, (fills, score) in enumerate(beam):
                before = gapped.before(g, fills)
                after = gapped.pieces[g + 1]
                found = _candidates(model, unit, before, after, candidates, cfg, stream_seed(seed, FILL_STREAM, g, b),
                                    how, lambda r, g=g: on_attempt and on_attempt(g, r))
                rated = judge(model, before, after, found, backward if how == "pair" else None)[how]
                grown += [((*fills, f), score + float(s)) for f, s in zip(found, rated)]
            grown.sort(key=lambda item: -item[1])
            beam = grown[:n]
    return [FillResult(gapped.joined(fills), score, fills) for fills, score in beam]


def _candidates(model, unit: str, before: str, after: str, count: int, cfg, seed: int, how: str,
                on_round: Callable[[int], None]) -> list[str]:
    """Distinct fills of one gap that pass their check, from up to ``MAX_ROUNDS`` rounds of
    ``count`` draws (fewer rounds once there are ``count // 4`` or more)."""
    good, reasons = [], {}
    for r in range(1, MAX_ROUNDS + 1):
        on_round(r)
        for fill in drawn_fills(model, unit, before, after, count, cfg, stream_seed(seed, r), how):
            why = fill_problem(unit, before, fill) if fill is not None else "too long"
            if why is None and fill not in good:
                good.append(fill)
            elif why is not None:
                reasons[why] = reasons.get(why, 0) + 1
        if len(good) >= max(1, count // 4):
            return good
    if good:
        return good
    common = max(reasons, key=reasons.get) if reasons else "none ended"
    raise NoFill(f"no fill drawn for the {unit} gap passed its check in {MAX_ROUNDS * count} draws (most: {common}); "
                 "try another --seed or a higher --temperature")


def drawn_fills(model, unit_name: str, before: str, after: str, count: int, cfg, seed: int, how: str) -> list[str | None]:
    """``count`` fills of one gap as text, unchecked (None where one ran past a unit's length),
    drawn from the text before the gap (``how`` left or pair) or from both sides (fim)."""
    from ..music.bar_guide import BarGuide

    vocab = model.vocab
    if how == "fim":
        unit = Unit(unit_name, vocab, end_id=fim.end_id(vocab))
        ids = np.concatenate([[EOS_ID], fim.fim_context(vocab, before, after[:REACH * 4])])
        contexts = np.tile(ids.astype(np.int64), (count, 1))
    else:
        unit = Unit(unit_name, vocab)
        lead = model.warmup.contexts(count, seed)
        lead = lead if lead is not None else np.ones((count, 1), dtype=np.int64)
        contexts = np.concatenate([lead, np.tile(text_ids(vocab, before)[-REACH:], (count, 1))], axis=1)
    guide = BarGuide(vocab, before, count) if unit_name == "bar" else None
    banned = fim.fim_ids(vocab)[:3] if how == "fim" else fim.fim_ids(vocab)  # <fim-end> ends a middle
    drawn = draw_fills(model.sampler(cfg.precision), unit, contexts, cfg, seed, guide, banned)
    return [_as_text(vocab, d.tokens) if d.ended else None for d in drawn]


def _as_text(vocab, tokens: tuple[int, ...]) -> str:
    if vocab.level == "char":
        return vocab.decode(tokens)
    from ..data.vocab import join_words

    return join_words([vocab.tokens[t] for t in tokens])
