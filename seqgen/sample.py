"""Generation from a recurrent model: temperature, top-k, top-p (nucleus), priming, batches.

All samples are drawn side by side as one batch; a seeded ``torch.Generator`` makes the same
seed give the same text on the same machine.

On the CPU, generation runs one time step at a time, where the cost is reading the weights, not
arithmetic: ``for_sampling`` gives a copy with int8 weights (PyTorch's dynamic quantization),
four times less to read and integer matrix products, which samples several times faster with
next-token probabilities within a fraction of a percent of the fp32 model's.
"""

from __future__ import annotations

import contextlib
import copy
import warnings
from collections.abc import Callable
from typing import Protocol

import torch
from torch import nn

from .config import SampleConfig
from .errors import UsageError
from .model import RNNLM
from .vocab import EOS_ID, UNK_ID, Vocab, join_words

OnText = Callable[[int, str], None]  # (sample index, new text) as it is generated


class Constraint(Protocol):
    """Rules a sampler must keep to beyond the model's probabilities (e.g. a tune's header order):
    ``restrict`` rules tokens out of each row's next draw, ``advance`` sees what was drawn."""

    def restrict(self, scores: torch.Tensor) -> torch.Tensor: ...

    def advance(self, drawn: torch.Tensor) -> None: ...


def prime_ids(vocab: Vocab, prime: str) -> tuple[list[int], list[str]]:
    """Encode the prime; return the ids and the symbols the model never saw (now ``<unk>``)."""
    if not prime:
        return [EOS_ID], []  # <eos> ends the previous document, so it starts a fresh one
    ids = vocab.encode(prime).tolist()
    unknown = vocab.unknown_symbols(prime)
    if ids and all(i == UNK_ID for i in ids):
        raise UsageError(f"--prime {prime!r} has only symbols this model never saw; prime with text like its training text")
    if vocab.level == "word" and not prime.endswith("\n") and ids and ids[-1] == EOS_ID:
        ids = ids[:-1]  # the word splitter closes the line; a prime continues it
    return ids, unknown


def for_sampling(model: RNNLM, precision: str = "auto") -> RNNLM:
    """The model to generate with: an int8 copy on the CPU (``auto``/``int8``), else ``model``."""
    if precision == "fp32" or model.embed.weight.device.type != "cpu":
        return model
    quantize = getattr(getattr(torch, "ao", None), "quantization", None)
    try:
        with warnings.catch_warnings():
            # PyTorch marks its eager quantization as deprecated in favour of a separate package
            # (torchao) that does not cover recurrent layers; it still works, and a torch without
            # it falls back to fp32 below.
            warnings.simplefilter("ignore")
            return quantize.quantize_dynamic(copy.deepcopy(model), {nn.LSTM, nn.GRU, nn.Linear}, dtype=torch.qint8)
    except (AttributeError, RuntimeError, NotImplementedError):
        return model  # no quantized kernels here: sample in full precision


def filter_logits(logits: torch.Tensor, top_k: int | None, top_p: float) -> torch.Tensor:
    """Keep the k most likely tokens and/or the smallest set whose probability reaches top_p."""
    if top_k is not None and top_k < logits.size(-1):
        kth = torch.topk(logits, top_k, dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p < 1.0:
        sorted_logits, order = torch.sort(logits, descending=True, dim=-1)
        cum = torch.softmax(sorted_logits, dim=-1).cumsum(-1)
        # Drop a token when the tokens before it already reach top_p (the first always stays).
        drop = (cum - torch.softmax(sorted_logits, dim=-1)) >= top_p
        sorted_logits = sorted_logits.masked_fill(drop, float("-inf"))
        logits = torch.full_like(logits, float("-inf")).scatter(-1, order, sorted_logits)
    return logits


def generate(model: RNNLM, vocab: Vocab, config: SampleConfig, on_text: OnText | None = None,
             stop_at_eos: bool = False, device: torch.device | str = "cpu",
             constraint: Constraint | None = None) -> list[str]:
    """Generate ``config.num_samples`` texts of ``config.length`` tokens after the prime.

    The prime is part of each returned text. With ``stop_at_eos`` a sample ends at its first
    ``<eos>`` (used for whole tunes); otherwise ``<eos>`` is just a line or document break.
    All samples advance together as one batch; text is decoded at the end, or token by token
    when ``on_text`` streams it.
    """
    config.validate()
    model.eval()
    gen = torch.Generator(device="cpu")
    gen.manual_seed(config.seed if config.seed is not None else torch.seed())
    start, _ = prime_ids(vocab, config.prime)
    n, length = config.num_samples, config.length
    with torch.inference_mode(), _lstm_kernels_for(n):
        return _generate(model, vocab, config, start, gen, on_text, stop_at_eos, device, constraint)


@contextlib.contextmanager
def _lstm_kernels_for(rows: int):
    """oneDNN's fp32 LSTM re-packs its weights on every call: for one step of a few rows that is
    ~10x slower than ATen's own kernels, so those are used then. (The int8 copy has its own.)"""
    if rows >= 16:
        yield
        return
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="TF32 acceleration")  # oneDNN's flag setter warns on CPUs
        with torch.backends.mkldnn.flags(enabled=False):
            yield


def _generate(model, vocab, config, start, gen, on_text, stop_at_eos, device, constraint) -> list[str]:
    """The loop of ``generate``: one batched step per token."""
    n, length = config.num_samples, config.length
    scores, hidden = model.next_scores(torch.tensor([start] * n, dtype=torch.long, device=device))  # (N, V)
    tokens = torch.zeros(n, length, dtype=torch.long)  # (N, length) sampled ids
    ends = torch.full((n,), length)  # where each sample stops (its <eos>, with stop_at_eos)
    streams = [_TextStream(vocab, config.prime) for _ in range(n)] if on_text else []
    for t in range(length):
        scores = scores.float().cpu()
        nxt = _pick(constraint.restrict(scores) if constraint else scores, config, gen)  # (N,)
        if constraint:
            constraint.advance(nxt)
        tokens[:, t] = nxt
        if stop_at_eos:
            ends = torch.where((nxt == EOS_ID) & (ends == length), t, ends)
        for i, stream in enumerate(streams):
            if t < ends[i]:
                on_text(i, stream.add(int(nxt[i])))
        if bool((ends <= t).all()):
            break
        scores, hidden = model.next_scores(nxt.view(n, 1).to(device), hidden)
    return [_TextStream(vocab, config.prime).add_all(tokens[i, :ends[i]].tolist()) for i in range(n)]


def _pick(logits: torch.Tensor, config: SampleConfig, gen: torch.Generator) -> torch.Tensor:
    if config.temperature == 0:
        return logits.argmax(-1)
    probs = torch.softmax(filter_logits(logits / config.temperature, config.top_k, config.top_p), -1)
    # Inverse-CDF draw: one uniform number a row. torch.multinomial draws one exponential per
    # token instead, a tenth of the time of a whole 64-row step of the 2x512 int8 model here.
    # Tokens with probability 0 are never picked: their CDF step is empty.
    cdf = probs.cumsum(-1)
    u = torch.rand(probs.size(0), 1, generator=gen) * cdf[:, -1:]
    return (cdf <= u).sum(-1).clamp(max=probs.size(-1) - 1)


class _TextStream:
    """Turns sampled tokens into text as they come; words need their neighbours for spacing."""

    def __init__(self, vocab: Vocab, prime: str):
        self.vocab, self.prime = vocab, prime
        self.words = [t for t in vocab.tokenize(prime)] if vocab.level == "word" and prime else []
        if self.words and not prime.endswith("\n"):
            self.words.pop()  # the splitter closed the prime's line with <eos>; sampling continues it
        self.base = len(join_words(self.words))
        self.text = prime

    def add_all(self, tokens: list[int]) -> str:
        """The whole text after ``tokens`` (prime included), in one go."""
        if self.vocab.level == "char":
            self.text += self.vocab.decode(tokens)
        else:
            self.words += [self.vocab.tokens[t] for t in tokens]
            self.text = self.prime + join_words(self.words)[self.base:]
        return self.text

    def add(self, token: int) -> str:
        if self.vocab.level == "char":
            new = self.vocab.decode([token])
        else:
            self.words.append(self.vocab.tokens[token])
            new = join_words(self.words)[self.base + len(self.text) - len(self.prime):]
        self.text += new
        return new


def generate_ngram(model, vocab: Vocab, config: SampleConfig, on_text: OnText | None = None) -> list[str]:
    """The same sampling for the n-gram baseline: temperature, top-k, top-p, prime, seed."""
    config.validate()
    gen = torch.Generator(device="cpu")
    gen.manual_seed(config.seed if config.seed is not None else torch.seed())
    start, _ = prime_ids(vocab, config.prime)
    texts = []
    for i in range(config.num_samples):
        history, stream = list(start), _TextStream(vocab, config.prime)
        for _ in range(config.length):
            logits = torch.from_numpy(model.next_log_probs(history)).view(1, -1)
            token = int(_pick(logits, config, gen))
            history.append(token)
            new = stream.add(token)
            if on_text:
                on_text(i, new)
        texts.append(stream.text)
    return texts
