"""The lag curve: which item of a list does the model recall after seeing one of them again?

The free-recall analysis of later work on induction heads (Ji-An et al. 2024, "Linking In-context
Learning in Transformers to Human Episodic Memory"): show a list of distinct items, then one of
them again (the *cue*), and read the probability the model gives, at the cue, to every item of
the list as the next token. Plotted against the item's *lag* from the cue's first occurrence
(``+1`` = the item that followed the cue), an induction head gives a sharp peak at ``+1``
(it attends to the token after the cue's earlier occurrence and copies it); human free recall
shows the same asymmetric "contiguity" peak.

What we chose: items are single tokens (so a lag is one position), listed with nothing between
them; the cue is drawn uniformly from all items but the last (so lag ``+1`` always exists); the
curve at each lag averages over the lists in which that lag exists.
"""

from __future__ import annotations

import torch
from jaxtyping import Float, Int
from torch import Tensor

__all__ = ["recall_lists", "lag_probabilities", "lag_curve"]


def recall_lists(
    pool: Int[Tensor, "n"], n_lists: int = 64, n_items: int = 20, bos: int | None = 0, seed: int = 0
) -> tuple[Int[Tensor, "batch seq"], Int[Tensor, "batch"]]:
    """``n_lists`` rows of (BOS +) ``n_items`` distinct tokens of ``pool`` + the cue (a repeat of
    item ``cue[b]``). Returns the tokens and each row's cue index into the list."""
    if n_items > pool.numel():
        raise ValueError(f"{n_items} items exceed the pool's {pool.numel()} tokens; use fewer items or a larger pool")
    g = torch.Generator().manual_seed(seed)
    items = torch.stack([pool[torch.randperm(pool.numel(), generator=g)[:n_items]] for _ in range(n_lists)])
    cue = torch.randint(0, n_items - 1, (n_lists,), generator=g)
    rows = [items, items.gather(1, cue[:, None])]
    if bos is not None:
        rows.insert(0, torch.full((n_lists, 1), bos, dtype=items.dtype))
    return torch.cat(rows, 1), cue


def lag_probabilities(
    logits: Float[Tensor, "batch seq vocab"], tokens: Int[Tensor, "batch seq"], n_items: int
) -> Float[Tensor, "batch item"]:
    """The next-token probability, at the cue (the last position), of every list item."""
    items = tokens[:, -1 - n_items : -1]
    return logits[:, -1].float().softmax(-1).gather(1, items)


def lag_curve(probs: Float[Tensor, "batch item"], cue: Int[Tensor, "batch"]) -> tuple[Int[Tensor, "lag"], Float[Tensor, "lag"]]:
    """Mean probability by lag ``item - cue``, for lags ``-(n-1) .. n-1`` (NaN where no list has
    that lag)."""
    n = probs.shape[1]
    lags = torch.arange(-(n - 1), n)
    lag_of = torch.arange(n)[None] - cue[:, None]  # [batch, item]
    curve = torch.stack([probs[lag_of == lag].mean() if (lag_of == lag).any() else torch.tensor(float("nan"))
                         for lag in lags.tolist()])
    return lags, curve
