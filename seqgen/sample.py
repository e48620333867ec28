"""Generation: temperature, top-k, top-p (nucleus), priming, batches, streaming.

All samples are drawn side by side as one batch; a seeded ``torch.Generator`` makes the same
seed give the same text on the same machine. Any model that gives next-token scores with a state
(``next_scores``) samples here: the recurrent model and the n-gram baseline alike.

A recurrent model is trained with its state carried from batch to batch, so it almost never
starts from the all-zero state. Sampling therefore starts from the state training sees: the
model first reads a stretch of held-out text ending at a line or tune boundary (``Warmup``),
then the prime, then draws.

On the CPU, generation runs a time step at a time, the cost reading the weights, not arithmetic:
a recurrent model of ``INT8_FROM`` weights or more samples from a copy with int8 weights
(``for_sampling``: PyTorch's dynamic quantization; ``seqgen bench`` times both), its next-token
probabilities within a fraction of a percent of the model's. A step is too little work to share
between threads: sampling runs on one (device.threads_for_sampling) unless ``OMP_NUM_THREADS`` is set.
"""

from __future__ import annotations

import contextlib
import secrets
import threading
from collections.abc import Callable, Iterator
from typing import Protocol

import numpy as np
import torch

from .config import SampleConfig
from .hardware.device import SharedSetting, threads_for_sampling
from .errors import Cancelled, UsageError
from .data.fim import fim_ids
from .data.vocab import EOS_ID, UNK_ID, Vocab, WordJoiner

OnText = Callable[[int, str], None]  # (sample index, new text) as it is generated
WARMUP_TOKENS = 256  # held-out tokens read before sampling; the state settles well within this
WARMUP_STREAM = 1  # the random stream, under a sample's seed, that picks where its warm-up ends
GREEDY_BELOW = 1e-4  # temperatures this small are greedy: scores / temperature would overflow
_CHUNK = 4096  # sampled ids are kept in blocks of this many steps
_cancel = threading.local()  # the stop flag of the work this thread draws for (``cancelled_by``)


def cancel_flag():
    """The stop flag ``cancelled_by`` set for this thread (None: nobody can stop the drawing)."""
    return getattr(_cancel, "stop", None)


@contextlib.contextmanager
def cancelled_by(stop):
    """Drawing in this thread ends with ``Cancelled`` at the next token once ``stop.is_set()``:
    a server stops drawing for a client that went away, or when it shuts down. A flag of the
    thread, not an argument, so that every caller between (whole tunes, re-sampling) passes it on."""
    before = getattr(_cancel, "stop", None)
    _cancel.stop = stop
    try:
        yield
    finally:
        _cancel.stop = before


class Constraint(Protocol):
    """Rules a sampler must keep to beyond the model's probabilities (e.g. a tune's header order):
    ``restrict`` rules tokens out of each row's next draw, ``advance`` sees what was drawn."""

    def restrict(self, scores: torch.Tensor) -> torch.Tensor: ...

    def advance(self, drawn: torch.Tensor) -> None: ...


def stream_seed(seed: int | None, *keys: int) -> int:
    """A seed for the random stream named by ``keys`` under ``seed`` (a random one when None).

    Streams are independent: re-drawing round 1 of seed 1 shares nothing with seed 2.
    """
    root = secrets.randbits(63) if seed is None else seed
    return int(np.random.SeedSequence([root, *keys]).generate_state(1, np.uint64)[0] >> 1)


class Warmup:
    """Held-out text that sampling starts from: for each sample, the ``size`` tokens up to a line or
    tune boundary (``<eos>``, or a newline for characters) chosen at random among the held-out
    text's, so that every sample starts from a state training sees, and not all from the same one.
    """

    def __init__(self, vocab: Vocab, held_out: np.ndarray, size: int = WARMUP_TOKENS):
        ends = [EOS_ID] + ([vocab.index["\n"]] if vocab.level == "char" and "\n" in vocab.index else [])
        self.ids, self.size = np.asarray(held_out), size
        at = np.flatnonzero(np.isin(self.ids, ends))
        self.ends = at[at >= size - 1] + 1  # a boundary with a full stretch before it, as a slice end

    def contexts(self, rows: int, seed: int) -> np.ndarray | None:
        """(rows, size) ids, each row ending at a boundary drawn with ``seed``; None when the
        held-out text has no boundary (sampling then starts cold, after <eos>)."""
        if not len(self.ends):
            return None
        picks = np.random.default_rng(seed).choice(self.ends, size=rows)
        return np.stack([self.ids[end - self.size:end] for end in picks]).astype(np.int64)


def prime_ids(vocab: Vocab, prime: str) -> tuple[list[int], list[str]]:
    """Encode the prime; return the ids and the symbols the model never saw (now ``<unk>``)."""
    if not prime:
        return [], []
    ids = vocab.encode(prime).tolist()
    unknown = vocab.unknown_symbols(prime)
    if ids and all(i == UNK_ID for i in ids):
        raise UsageError(f"--prime {prime!r} has only symbols this model never saw; prime with text like its training text")
    if vocab.level == "word" and not prime.endswith("\n") and ids and ids[-1] == EOS_ID:
        ids = ids[:-1]  # the word splitter closes the line; a prime continues it
    return ids, unknown


def for_sampling(model, precision: str = "auto"):
    """The model to generate with: for a recurrent model on the CPU an int8 copy (``int8``, and
    ``auto`` for a big enough model), else the model itself (see each model type's ``for_sampling``)."""
    return model.for_sampling(precision)


def filter_logits(logits: torch.Tensor, top_k: int | None, top_p: float) -> torch.Tensor:
    """Keep the k most likely tokens and/or the smallest set whose probability reaches top_p."""
    if top_k is not None and top_k < logits.size(-1):
        kth = torch.topk(logits, top_k, dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p < 1.0:
        sorted_logits, order = torch.sort(logits, descending=True, dim=-1)
        probs = torch.softmax(sorted_logits, dim=-1)
        # Drop a token when the tokens before it already reach top_p. The first always stays, also
        # for a top_p below the smallest float of the scores (1e-300 is 0 in float32: 0 >= 0).
        drop = (probs.cumsum(-1) - probs) >= top_p
        drop[..., 0] = False
        sorted_logits = sorted_logits.masked_fill(drop, float("-inf"))
        logits = torch.full_like(logits, float("-inf")).scatter(-1, order, sorted_logits)
    return logits


def generate(model, vocab: Vocab, config: SampleConfig, on_text: OnText | None = None,
             stop_at_eos: bool = False, device: torch.device | str = "cpu",
             constraint: Constraint | None = None, warmup: Warmup | None = None) -> list[str]:
    """Generate ``config.num_samples`` texts of ``config.length`` tokens after the prime.

    The prime is part of each returned text. With ``stop_at_eos`` a sample ends at its first
    ``<eos>`` (used for whole tunes); otherwise ``<eos>`` is just a line or document break.
    ``warmup``: held-out text to read before the prime (``Warmup``). Text is decoded at the
    end, or token by token when ``on_text`` streams it.
    """
    config.validate(streaming=False)
    n = config.num_samples
    if on_text is not None:
        texts = [_Text(vocab, config.prime) for _ in range(n)]
        for row, token in draw(model, vocab, config, stop_at_eos, device, constraint, warmup):
            piece = texts[row].add(token)
            on_text(row, piece)
        return [t.text for t in texts]
    texts = [""] * n
    for row, text in finished_samples(model, vocab, config, stop_at_eos, device, constraint, warmup):
        texts[row] = text
    return texts


def finished_samples(model, vocab: Vocab, config: SampleConfig, stop_at_eos: bool = False,
                     device: torch.device | str = "cpu", constraint: Constraint | None = None,
                     warmup: Warmup | None = None, stop=None) -> Iterator[tuple[int, str]]:
    """(row, text) for each of ``config.num_samples`` samples as soon as it ends (at its first
    ``<eos>`` with ``stop_at_eos``, else after ``config.length`` tokens), the prime included: a
    whole tune can be checked and kept while the others are still drawn. The draws are those of
    ``generate``. Once ``stop.is_set()`` (checked after every step) drawing ends, and the samples
    that had not ended are left out.
    """
    config.validate(streaming=False)
    n = config.num_samples
    blocks: list[torch.Tensor] = []  # (N, _CHUNK) ids, -1 where a row had ended
    going = torch.ones(n, dtype=torch.bool)  # rows not ended yet
    steps = 0
    # closing: a caller that stops early ends the drawing now, and with it its hold on the
    # process's settings (threads, kernels), not whenever the generator is collected.
    with contextlib.closing(_steps(model, vocab, config, stop_at_eos, device, constraint, warmup)) as drawing:
        for drawn in drawing:
            if steps % _CHUNK == 0:
                blocks.append(torch.full((n, _CHUNK), -1, dtype=torch.long))
            blocks[-1][:, steps % _CHUNK] = drawn
            steps += 1
            ended = going & (drawn < 0)
            going &= ~ended
            for row in ended.nonzero().squeeze(1).tolist():
                yield row, _row_text(vocab, config.prime, blocks, row, steps)
            if stop is not None and stop.is_set() and bool(going.any()):
                return
    for row in going.nonzero().squeeze(1).tolist():  # drawn to the full length
        yield row, _row_text(vocab, config.prime, blocks, row, steps)


def _row_text(vocab: Vocab, prime: str, blocks: list[torch.Tensor], row: int, steps: int) -> str:
    """The text of sample ``row``: the prime, then its ids up to its first -1 (its end)."""
    ids = torch.cat([block[row] for block in blocks])[:steps]
    ended = (ids < 0).nonzero()
    return _Text(vocab, prime).add_all(ids[: int(ended[0]) if len(ended) else steps].tolist())


def stream(model, vocab: Vocab, config: SampleConfig, device: torch.device | str = "cpu",
           warmup: Warmup | None = None) -> Iterator[str]:
    """The text of one sample, piece by piece as it is drawn (the prime first). Memory does not
    grow with the length: nothing drawn is kept."""
    config.validate(streaming=True)
    if config.prime:
        yield config.prime
    text = _Text(vocab, config.prime, keep=False)
    with contextlib.closing(draw(model, vocab, config.with_samples(1), False, device, None, warmup)) as drawing:
        yield from (text.add(token) for _, token in drawing)  # a stream closed early ends its drawing now


def draw(model, vocab: Vocab, config: SampleConfig, stop_at_eos: bool = False, device: torch.device | str = "cpu",
         constraint: Constraint | None = None, warmup: Warmup | None = None) -> Iterator[tuple[int, int]]:
    """(row, token id) for each token drawn, row by row within a step, step by step."""
    with contextlib.closing(_steps(model, vocab, config, stop_at_eos, device, constraint, warmup)) as steps:
        for drawn in steps:
            yield from ((row, token) for row, token in enumerate(drawn.tolist()) if token >= 0)


def _steps(model, vocab, config, stop_at_eos, device, constraint, warmup) -> Iterator[torch.Tensor]:
    """The (N,) ids drawn at each step; -1 for a row that has ended (with ``stop_at_eos``, at its
    first <eos>).

    A generator a caller may go on with in another thread (a web server does) or close in any
    order with others: torch's inference mode belongs to a thread, so it is entered for each step
    and never held across a ``yield``; the settings of the process (threads, kernels) are shared
    ones (``device.SharedSetting``), put back when the last sampling ends."""
    if len(config.temperatures) > 1:  # each temperature is a drawing of its own
        raise UsageError("one drawing has one temperature; SampleConfig.at_each_temperature() gives a "
                         "configuration for each of a list")
    root = config.seed if config.seed is not None else secrets.randbits(63)
    gen = torch.Generator(device="cpu")
    gen.manual_seed(stream_seed(root))
    n = config.num_samples
    never = torch.zeros(len(vocab), dtype=torch.bool)  # <unk>: what the model could not spell; FIM
    never[[UNK_ID, *fim_ids(vocab)]] = True  # tokens: no gap here
    start, _ = prime_ids(vocab, config.prime)
    contexts = warmup.contexts(n, stream_seed(root, WARMUP_STREAM)) if warmup is not None else None
    if contexts is None:
        contexts = np.full((n, 1), EOS_ID)  # cold: right after the end of a document
    if hasattr(model, "eval"):
        model.eval()
    stop = cancel_flag()
    with _lstm_kernels_for(n), threads_for_sampling():
        with torch.inference_mode():
            # Each row reads its own stretch of held-out text, then the prime, side by side.
            scores, state = model.next_scores(torch.from_numpy(contexts).to(device), None)
            if start:
                scores, state = model.next_scores(torch.tensor([start] * n, dtype=torch.long, device=device), state)
        done = torch.zeros(n, dtype=torch.bool)
        for step in range(config.length):
            if stop is not None and stop.is_set():
                raise Cancelled("drawing stopped: nobody waits for it any more")
            with torch.inference_mode():
                scores = scores.to("cpu", torch.float32).masked_fill(never, float("-inf"))  # a copy
                nxt = pick_tokens(constraint.restrict(scores) if constraint else scores, config, gen)  # (N,)
                if constraint:
                    constraint.advance(nxt)
                ended, drawn = step == config.length - 1, nxt
                if stop_at_eos:
                    done |= nxt == EOS_ID  # the <eos> that ends a sample is not part of it
                    drawn = torch.where(done, -1, nxt)
                    ended = ended or bool(done.all())
                if not ended:  # read ahead, so that no inference tensor is made outside inference mode
                    scores, state = model.next_scores(nxt.view(n, 1).to(device), state)
            yield drawn
            if ended:
                return


_KERNELS = SharedSetting(lambda: torch.backends.mkldnn.enabled,
                         lambda on: setattr(torch.backends.mkldnn, "enabled", on))


def _lstm_kernels_for(rows: int):
    """oneDNN's fp32 LSTM re-packs its weights on every call, which for one step of a few rows is
    far slower than ATen's own kernels: those are used then. (The int8 copy has its own.) The
    flag is the process's, shared by overlapping samplings."""
    return _KERNELS.held(False) if rows < 16 else contextlib.nullcontext()


def pick_tokens(logits: torch.Tensor, config: SampleConfig, gen: torch.Generator) -> torch.Tensor:
    """One token a row of ``logits`` (N, V), -inf where a token is ruled out (<unk>, a constraint):
    never one of those, at any temperature, top-k or top-p."""
    if config.temperature < GREEDY_BELOW:
        return logits.argmax(-1)
    # top-k first: the same k tokens at any temperature (a huge one would make every score tie).
    # The temperature at most the largest float of the scores: 1e308 is infinite in float32, and
    # -inf / inf is NaN, which drew <unk>.
    temperature = min(config.temperature, torch.finfo(logits.dtype).max)
    logits = filter_logits(logits, config.top_k, 1.0) / temperature
    probs = torch.softmax(filter_logits(logits, None, config.top_p), -1)
    # Inverse-CDF draw: one uniform number a row (torch.multinomial draws one per token), the token
    # the count of CDF steps at or below it. Tokens of probability 0 have empty steps, never drawn;
    # a draw that rounds up to the total takes the token that reaches it, not one past the end.
    cdf = probs.cumsum(-1)
    total = cdf[:, -1:].contiguous()
    u = torch.rand(probs.size(0), 1, generator=gen) * total
    return torch.minimum(torch.searchsorted(cdf, u, right=True), torch.searchsorted(cdf, total)).squeeze(1)


class _Text:
    """Turns sampled tokens into text as they come (the prime first); words need the words just
    before them for their spacing, which a ``WordJoiner`` keeps. ``keep=False`` keeps no text."""

    def __init__(self, vocab: Vocab, prime: str, keep: bool = True):
        self.vocab, self.keep = vocab, keep
        self.text = prime
        self.joiner = WordJoiner()
        if vocab.level == "word" and prime:
            words = vocab.tokenize(prime)
            if not prime.endswith("\n"):
                words.pop()  # the splitter closed the prime's line with <eos>; sampling continues it
            for word in words:
                self.joiner.add(word)

    def add(self, token: int) -> str:
        word = self.vocab.tokens[token]
        new = self.joiner.add(word) if self.vocab.level == "word" else ("\n" if token == EOS_ID else word)
        if self.keep:
            self.text += new
        return new

    def add_all(self, tokens: list[int]) -> str:
        """The whole text after ``tokens`` (prime included), in one go."""
        if self.vocab.level == "char":
            self.text += self.vocab.decode(tokens)
        else:
            self.text += "".join(self.joiner.add(self.vocab.tokens[t]) for t in tokens)
        return self.text
