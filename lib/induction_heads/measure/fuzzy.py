"""Fuzzy prefix matching: does a head attend to the *counterpart* of an earlier token when the
repeat is not literal (paper §Argument 4, "fuzzy" and "nearest-neighbour" versions of induction)?

Code repeats itself with variations: ``max_retry`` / ``MAX_RETRY`` / ``MaxRetry``, a name with
and without a leading space, a block indented one level deeper. The tokens of the variant differ
from those of the first occurrence, so the literal prefix-matching score (attend to the token
after an earlier *identical* token) does not apply. We align the two by characters instead.

What we chose: two characters correspond when they are the ``k``-th **significant** character of
their text, a significant character being any character but whitespace and the underscore (case is not
compared: only positions are). This one rule aligns all four variations (case, leading space,
snake vs Camel, re-indentation); a target is never a whitespace-only token. For a query token of the variant that ends just before
significant character ``k``, the *target* is the token of the first occurrence that contains its
significant character ``k``: the token after the earlier counterpart, as in prefix matching. The
fuzzy score of a head is its mean attention from the query tokens to their targets. A literal
repeat gives the literal targets (tested), and a control draws the targets at random among the
first occurrence's tokens.
"""

from __future__ import annotations

import torch
from jaxtyping import Float
from torch import Tensor

from .intervals import bootstrap_ci  # the book's one bootstrap; kept importable from here for Argument 4

__all__ = ["significant", "significant_index", "aligned_pairs", "pair_attention", "shuffled_pairs", "bootstrap_ci"]


def significant_index(text: str) -> list[int]:
    """For every character of ``text``, the number of significant characters before it."""
    out, k = [], 0
    for ch in text:
        out.append(k)
        k += significant(ch)
    return out


def significant(ch: str) -> bool:
    """Whether a character counts in the alignment: anything but whitespace and ``_``."""
    return not ch.isspace() and ch != "_"


def aligned_pairs(
    offsets: list[tuple[int, int]], text: str, first: tuple[int, int], variant: tuple[int, int]
) -> list[tuple[int, int]]:
    """(query, key) token positions aligning the ``variant`` character span of ``text`` to the
    ``first`` span by significant characters (module docstring).

    ``offsets[t]`` is token ``t``'s character span in ``text`` (a BOS or other special token may
    have an empty span). Query tokens lie inside ``variant``, keys inside ``first``; a query whose
    next significant character has no counterpart in ``first`` is left out.
    """
    sig_first = [i for i in range(*first) if significant(text[i])]
    key_of_char = {}
    for t, (s, e) in enumerate(offsets):
        for c in range(s, e):
            key_of_char[c] = t
    pairs = []
    for t, (s, e) in enumerate(offsets):
        if s < variant[0] or e > variant[1] or e <= s:
            continue
        k = sum(significant(text[c]) for c in range(variant[0], e))  # significant chars up to the query's end
        nxt = next((c for c in range(e, variant[1]) if significant(text[c])), None)
        if nxt is None or k >= len(sig_first):
            continue
        key = key_of_char.get(sig_first[k])
        if key is not None and key < t:
            pairs.append((t, key))
    return pairs


def pair_attention(pattern: Float[Tensor, "... head query key"], pairs: list[tuple[int, int]]) -> Float[Tensor, "... head"]:
    """Mean attention over ``(query, key)`` pairs (NaN for no pairs)."""
    if not pairs:
        return torch.full(pattern.shape[:-2], float("nan"))
    q, k = torch.tensor(pairs).T
    return pattern[..., q, k].mean(-1)


def shuffled_pairs(pairs: list[tuple[int, int]], keys: list[int], seed: int = 0) -> list[tuple[int, int]]:
    """The control: each query paired with a key drawn at random (seeded) from ``keys`` (the first
    occurrence's tokens), so the score measures attention to the first occurrence at large."""
    g = torch.Generator().manual_seed(seed)
    draw = torch.randint(0, len(keys), (len(pairs),), generator=g).tolist()
    return [(q, keys[i]) for (q, _), i in zip(pairs, draw)]
