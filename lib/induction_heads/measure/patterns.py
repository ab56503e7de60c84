"""Pattern matching (paper §Argument 4): a four-template classification task learned in context.

The paper's task: lines ``(month)(animal):0``, ``(month)(fruit):1``, ``(colour)(animal):2``,
``(colour)(fruit):3``, a few demonstrations, then a query line whose label the model must give
after the ``:``. Its pattern-matching head puts about 65% of its attention from the ``:`` tokens
on "the correct earlier positions".

What the paper leaves open and we chose: "correct positions" are the tokens of every earlier
demonstration line with the query's template (its two items, its ``:`` and its label). Accuracy
is read among the four labels only (the label with the highest logit of the four), so chance is
25% whatever else the model predicts. The task's items and labels depend on the tokenizer and
are built by the book (:mod:`induction_heads.book.argument4`); this module only scores.
"""

from __future__ import annotations

import torch
from jaxtyping import Bool, Float, Int
from torch import Tensor

__all__ = ["label_accuracy", "colon_attention_share", "chance_share"]


def label_accuracy(
    logits: Float[Tensor, "batch vocab"], labels: Int[Tensor, "label"], answer: Int[Tensor, "batch"]
) -> Float[Tensor, ""]:
    """Share of queries whose right label (``labels[answer]``) has the largest logit of the labels."""
    return (logits[:, labels].argmax(-1) == answer).float().mean()


def colon_attention_share(
    pattern: Float[Tensor, "... batch head query key"], colon: Int[Tensor, "batch"], right: Bool[Tensor, "batch key"]
) -> Float[Tensor, "... head"]:
    """Mean share of attention from the query's colon (position ``colon[b]``) on the ``right``
    positions (the earlier lines of the right template)."""
    rows = torch.stack([pattern[..., i, :, int(c), :] for i, c in enumerate(colon)], -3)  # [..., batch, head, key]
    return (rows * right[:, None, :].to(rows.dtype)).sum(-1).mean(-2)


def chance_share(colon: Int[Tensor, "batch"], right: Bool[Tensor, "batch key"]) -> float:
    """The share a head with uniform attention over positions ``0 .. colon`` would give."""
    n = right.float().cumsum(1).gather(1, colon[:, None]).squeeze(1)
    return float((n / (colon + 1).float()).mean())
