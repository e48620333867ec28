"""Interpolated modified Kneser-Ney n-gram language model (Chen & Goodman, 1998), orders 1-7.

Counting is vectorised with numpy. Every k-gram gets a dense id: its position in the sorted array
of keys ``prefix_id * V + word`` of order k, where ``prefix_id`` is the id of its first k-1 tokens
at order k-1 (the empty prefix is id 0 at order 0). So a context is looked up one order at a time
with ``np.searchsorted``, keys never exceed (number of n-grams) x V, and memory grows with the
number of distinct n-grams, not with V ** n.

    p_k(w | h) = max(c_k(h w) - D_k(c), 0) / c_k(h .)  +  gamma_k(h) * p_{k-1}(w | h')
    gamma_k(h) = (D_k1 N1(h .) + D_k2 N2(h .) + D_k3+ N3+(h .)) / c_k(h .)

c_k is the raw count at the highest order and the continuation count (distinct left neighbours)
below it; p_0 is uniform over the vocabulary, so unseen words keep some probability and every
distribution sums to one. A context never seen at order k passes p_{k-1} through unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from ..evaluate import Score
from .ngram_config import MAX_ORDER, NGramConfig

_TABLE_FIELDS = ("keys", "counts", "total", "gamma", "discounts")


def _check_order(order: int) -> int:
    return NGramConfig(order=order).validate().order


def _discounts(counts: np.ndarray) -> np.ndarray:
    """D1, D2, D3+ from the count-of-counts n1..n4 (Chen & Goodman's estimates), kept in range."""
    n = [np.count_nonzero(counts == i) for i in (1, 2, 3, 4)]
    if n[0] == 0 or n[1] == 0:
        return np.array([0.5, 1.0, 1.5])
    y = n[0] / (n[0] + 2 * n[1])
    d = [1 - 2 * y * n[1] / n[0], 2 - 3 * y * n[2] / n[1], 3 - 4 * y * n[3] / max(n[2], 1)]
    return np.clip(np.array(d, dtype=np.float64), [0.05, 0.05, 0.05], [0.95, 1.95, 2.95])


class KneserNeyLM:
    """An n-gram model over token ids 0..V-1; see the module docstring for the formulas.
    Trained by counting (see ``models.base``)."""

    name = "ngram"
    Config = NGramConfig
    trained_by = "counting"

    def __init__(self, order: int, vocab_size: int, tables: list[dict]):
        self.order, self.vocab_size, self.tables = order, vocab_size, tables

    # -- counting ---------------------------------------------------------------------------------
    @classmethod
    def fit(cls, ids: np.ndarray, vocab_size: int, config: NGramConfig | int) -> "KneserNeyLM":
        order = _check_order(config if isinstance(config, int) else config.order)
        ids = np.asarray(ids, dtype=np.int64)
        V = vocab_size
        prefix = np.zeros(len(ids), dtype=np.int64)  # id at order k-1 of the tokens before i
        grams: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # per order: keys, raw counts, gram id per position
        for k in range(1, order + 1):
            valid = np.arange(len(ids)) >= k - 1  # a k-gram needs k tokens
            keys_at = prefix * V + ids
            keys, inverse, raw = np.unique(keys_at[valid], return_inverse=True, return_counts=True)
            gram_id = np.full(len(ids), -1, dtype=np.int64)
            gram_id[valid] = inverse
            grams.append((keys, raw, gram_id))
            prefix = np.concatenate([[-1], gram_id[:-1]])  # the k-gram ending just before i
            prefix = np.where(prefix < 0, 0, prefix)
        tables = []
        for k in range(1, order + 1):
            keys, raw, gram_id = grams[k - 1]
            if k < order:
                # Continuation count: how many distinct (k+1)-grams end with this k-gram.
                _, higher_raw, higher_id = grams[k]
                first = np.unique(higher_id[higher_id >= 0], return_index=True)[1]
                positions = np.flatnonzero(higher_id >= 0)[first]
                counts = np.bincount(gram_id[positions], minlength=len(keys))
                counts = np.where(counts == 0, raw, counts)  # only seen at the very start of the text
            else:
                counts = raw
            tables.append(cls._table(keys, counts, V))
        return cls(order, V, tables)

    @staticmethod
    def _table(keys: np.ndarray, counts: np.ndarray, V: int) -> dict:
        d = _discounts(counts)
        ctx = keys // V
        n_ctx = int(ctx.max()) + 1 if len(ctx) else 1
        total = np.bincount(ctx, weights=counts, minlength=n_ctx)
        gamma_mass = np.bincount(ctx, weights=d[np.minimum(counts, 3) - 1], minlength=n_ctx)
        gamma = np.divide(gamma_mass, total, out=np.ones(n_ctx), where=total > 0)
        return {"keys": keys, "counts": counts.astype(np.int64), "total": total, "gamma": gamma, "discounts": d}

    # -- probabilities ----------------------------------------------------------------------------
    def _term(self, k: int, key_ids: np.ndarray, ctx: np.ndarray):
        """For order k: discounted probability share and gamma, for k-gram keys given contexts."""
        t = self.tables[k - 1]
        pos = np.searchsorted(t["keys"], key_ids)
        pos_c = np.minimum(pos, len(t["keys"]) - 1)
        found = t["keys"][pos_c] == key_ids
        c = np.where(found, t["counts"][pos_c], 0)
        disc = np.where(c > 0, t["discounts"][np.clip(c, 1, 3) - 1], 0.0)
        total = t["total"][ctx]
        share = np.maximum(c - disc, 0.0) / total
        return share, t["gamma"][ctx], np.where(found, pos_c, -1)

    def _context_ids(self, context: Sequence[int]) -> list[int]:
        """Gram ids of the context's last j tokens, j = 0 .. order-1 (-1: never seen)."""
        tokens = list(context)[max(0, len(context) - (self.order - 1)):] if self.order > 1 else []
        ids = [0]
        for j in range(1, len(tokens) + 1):
            gid = 0
            for k, tok in enumerate(tokens[-j:], 1):
                keys = self.tables[k - 1]["keys"]
                key = gid * self.vocab_size + int(tok)
                pos = int(np.searchsorted(keys, key))
                if pos >= len(keys) or keys[pos] != key:
                    gid = -1
                    break
                gid = pos
            ids.append(gid)
        return ids

    def next_log_probs(self, context: Sequence[int]) -> np.ndarray:
        """Natural-log probabilities of every next token after ``context``; they sum to one."""
        V = self.vocab_size
        p = np.full(V, 1.0 / V)
        ctx_ids = self._context_ids(context)
        for k in range(1, self.order + 1):
            if k - 1 >= len(ctx_ids) or ctx_ids[k - 1] < 0:
                break
            h = ctx_ids[k - 1]
            t = self.tables[k - 1]
            if h >= len(t["total"]) or t["total"][h] == 0:
                break  # context never followed by anything at this order: keep the lower order
            lo, hi = np.searchsorted(t["keys"], [h * V, (h + 1) * V])
            words = t["keys"][lo:hi] - h * V
            c = t["counts"][lo:hi]
            new = t["gamma"][h] * p
            new[words] += np.maximum(c - t["discounts"][np.clip(c, 1, 3) - 1], 0.0) / t["total"][h]
            p = new
        return np.log(p)

    def next_scores(self, x, state: list[list[int]] | None = None):
        """Sampling, as for the recurrent model: ids (B, T) read after each row's history ->
        log-probabilities of the next token (B, V) and the histories (the state)."""
        keep = self.order - 1
        rows = state if state is not None else [[] for _ in range(x.size(0))]
        rows = [(h + ids)[-keep:] if keep else [] for h, ids in zip(rows, x.tolist())]
        return torch.from_numpy(np.stack([self.next_log_probs(h) for h in rows])), rows

    def nll(self, ids: np.ndarray) -> tuple[float, int]:
        """Total negative log-likelihood (nats) of ids[1:] given what precedes each, and the count."""
        ids = np.asarray(ids, dtype=np.int64)
        n, V = len(ids), self.vocab_size
        p = np.full(n, 1.0 / V)
        prev = np.zeros(n, dtype=np.int64)  # id of the (k-1)-gram ending at i-1, order by order
        seen = np.ones(n, dtype=bool)
        for k in range(1, self.order + 1):
            t = self.tables[k - 1]
            ok = seen & (prev < len(t["total"]))
            ctx = np.where(ok, prev, 0)
            ok &= t["total"][ctx] > 0
            with np.errstate(divide="ignore", invalid="ignore"):
                share, gamma, gram = self._term(k, ctx * V + ids, ctx)
            p = np.where(ok, share + gamma * p, p)
            # Next order's context at i: the k-gram ending at i-1, where it was seen.
            gram = np.where(ok, gram, -1)
            seen = np.concatenate([[False], (gram >= 0)[:-1]])
            prev = np.concatenate([[0], np.maximum(gram, 0)[:-1]])
        return float(-np.log(p[1:]).sum()), n - 1

    # -- the model type's members (models.base.LanguageModel) -----------------------------------
    @classmethod
    def build(cls, config: NGramConfig, vocab_size: int) -> None:
        return None  # made by counting: fit()

    def config_dict(self) -> dict:
        return {"order": self.order}

    def describe(self) -> str:
        return f"kneser-ney {self.order}-gram"

    def for_sampling(self, precision: str = "auto") -> "KneserNeyLM":
        return self

    def score(self, ids: np.ndarray, device="cpu", precision: str = "fp32") -> Score:
        return Score(*self.nll(ids))

    def state(self) -> dict:
        """The count tables as tensors."""
        state = {"vocab_size": self.vocab_size}
        for k, t in enumerate(self.tables, 1):
            state.update({f"{name}_{k}": torch.from_numpy(np.asarray(value)) for name, value in t.items()})
        return state

    @classmethod
    def from_state(cls, config: dict, state: dict, vocab_size: int) -> "KneserNeyLM":
        order = int(config["order"])
        if not 1 <= order <= MAX_ORDER:
            raise ValueError(f"order {order} is not between 1 and {MAX_ORDER}")
        if int(state["vocab_size"]) != vocab_size:
            raise ValueError(f"the model has {int(state['vocab_size'])} tokens, its vocabulary {vocab_size}")
        tables = []
        for k in range(1, order + 1):
            t = {name: _array(state[f"{name}_{k}"]) for name in _TABLE_FIELDS}
            n_ctx = len(t["total"])
            if not (len(t["keys"]) == len(t["counts"]) and len(t["gamma"]) == n_ctx and len(t["discounts"]) == 3):
                raise ValueError(f"the order-{k} tables have inconsistent sizes")
            if len(t["keys"]) and (t["keys"].min() < 0 or t["keys"].max() // vocab_size >= n_ctx):
                raise ValueError(f"the order-{k} table holds n-grams outside its vocabulary")
            if not all(np.isfinite(t[name]).all() for name in ("total", "gamma", "discounts")):
                raise ValueError(f"the order-{k} table holds numbers that are not finite")
            tables.append(t)
        return cls(order, vocab_size, tables)


def _array(value) -> np.ndarray:
    return value.numpy() if isinstance(value, torch.Tensor) else np.asarray(value)
