"""The translation head (paper §Argument 4): attention along a translation.

The paper's translation head, given the same sentence in English, French and German, attends
from a word to the word that comes *next* in an earlier language version: induction through a
translation instead of a literal repeat. Our analogue needs no natural languages: a fixed random
bijection ``f`` between two halves of the vocabulary (``engine.dataset.translation_map``), and a
window ``x_1 .. x_n`` followed by its translation ``f(x_1) .. f(x_n)``. A translation head
attends from ``f(x_i)`` to ``x_{i+1}``, the token after the source of the token it sits on.

Word order and lengths are the same in both "languages" here, so the paper's meandering
off-diagonal is a straight one, ``n - 1`` positions below the diagonal.
"""

from __future__ import annotations

import torch
from jaxtyping import Float, Int
from torch import Tensor

__all__ = ["translated_windows", "translation_pairs", "translation_score", "uniform_chance"]


def translated_windows(
    windows: Int[Tensor, "batch n"], mapping: Int[Tensor, "vocab"], bos: int | None = None
) -> Int[Tensor, "batch seq"]:
    """(BOS +) each window followed by its translation, as the ``-translation`` models train on
    (their training windows carry no BOS, hence the default)."""
    rows = [windows, mapping[windows]]
    if bos is not None:
        rows.insert(0, torch.full((len(windows), 1), bos, dtype=windows.dtype))
    return torch.cat(rows, 1)


def translation_pairs(n: int, offset: int = 0) -> tuple[Int[Tensor, "pair"], Int[Tensor, "pair"]]:
    """(query, key) positions: query ``f(x_i)`` at ``offset + n + i``, key ``x_{i+1}`` at
    ``offset + i + 1``, for ``i = 0 .. n - 2`` (``offset`` = 1 with a BOS)."""
    i = torch.arange(n - 1)
    return offset + n + i, offset + i + 1


def translation_score(pattern: Float[Tensor, "... batch head query key"], n: int, offset: int = 0) -> Float[Tensor, "... head"]:
    """Mean attention from each translated token to the token after its source."""
    q, k = translation_pairs(n, offset)
    return pattern[..., q, k].mean((-1, -3))


def uniform_chance(n: int, offset: int = 0) -> float:
    """The same score for a head that attends uniformly to every allowed (earlier or same) key:
    the mean of ``1 / (q + 1)`` over the query positions."""
    q, _ = translation_pairs(n, offset)
    return float((1.0 / (q + 1).double()).mean())
