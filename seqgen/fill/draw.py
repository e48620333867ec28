"""Candidate fills for one gap, drawn side by side, a row each, until each row's unit ends.

Each row reads the same context (held-out text up to a boundary, as sampling starts, then the
text before the gap; or, for a model trained to fill in the middle, both sides of the gap) and
draws until the token that ends its unit: the bar line that closes a bar, the character after a
word, the end of a line (or ``<fim-end>``). That token is not part of the fill: the text after
the gap already has it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..config import SampleConfig
from ..data.vocab import EOS_ID, UNK_ID
from ..errors import Cancelled
from ..hardware.device import threads_for_sampling
from ..sample import cancel_flag, pick_tokens

MAX_TOKENS = {("bar", "char"): 96, ("word", "char"): 32, ("line", "char"): 240,
              ("word", "word"): 2, ("line", "word"): 60, ("bar", "word"): 40}
_BAR_END = set("|:\n")


@dataclass(frozen=True)
class Drawn:
    tokens: tuple[int, ...]  # the fill's ids
    ended: bool  # its unit ended (False: cut at the most tokens a unit may have)


class Unit:
    """What ends a fill of ``unit`` ("bar", "word", "line") for ``vocab``."""

    def __init__(self, unit: str, vocab, end_id: int | None = None):
        self.unit, self.vocab, self.end_id = unit, vocab, end_id
        self.max_tokens = MAX_TOKENS[(unit, vocab.level)]

    def ends(self, token: int, drawn_so_far: int) -> bool:
        if token == EOS_ID or token == self.end_id:
            return True
        text = self.vocab.tokens[token]
        if self.vocab.level == "word":
            return self.unit == "word" and drawn_so_far >= 1
        if self.unit == "bar":
            return text in _BAR_END
        if self.unit == "line":
            return text == "\n"
        return not (text.isalnum() or text in "'-")  # a word ends at a space, a stop, a comma...

    def ruled_out(self) -> list[int]:
        """Tokens a fill never holds: <unk>, which the model could not spell."""
        return [UNK_ID]


def draw_fills(network, unit: Unit, contexts: np.ndarray, config: SampleConfig, seed: int,
               constraint=None, banned: list[int] = ()) -> list[Drawn]:
    """One fill a row of ``contexts`` (rows, T): drawn with ``config``'s temperature, top-k and
    top-p under ``seed``, each kept to ``constraint`` (e.g. a bar to its meter) while drawn."""
    rows = len(contexts)
    gen = torch.Generator().manual_seed(seed)
    drawn: list[list[int]] = [[] for _ in range(rows)]
    ended = [False] * rows
    stop = cancel_flag()
    out_of_reach = [*unit.ruled_out(), *banned]
    if hasattr(network, "eval"):
        network.eval()
    with threads_for_sampling(), torch.inference_mode():
        scores, state = network.next_scores(torch.from_numpy(contexts.astype(np.int64)), None)
        for _ in range(unit.max_tokens):
            if stop is not None and stop.is_set():
                raise Cancelled("drawing stopped: nobody waits for it any more")
            scores = scores.float().clone()
            scores[:, out_of_reach] = float("-inf")
            nxt = pick_tokens(constraint.restrict(scores) if constraint else scores, config, gen)  # (rows,)
            if constraint:
                constraint.advance(nxt)
            for r, token in enumerate(nxt.tolist()):
                if not ended[r]:
                    if unit.ends(token, len(drawn[r])):
                        ended[r] = True
                    else:
                        drawn[r].append(token)
            if all(ended):
                break
            scores, state = network.next_scores(nxt.view(rows, 1), state)
    return [Drawn(tuple(d), e) for d, e in zip(drawn, ended)]
