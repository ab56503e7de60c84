"""Head labels and head classes: the one place the book decides what an "induction head" is.

Every chapter colours, selects and ablates heads through these functions, so changing a
threshold here changes it everywhere. Heads are named ``"layer.head"`` (``"1.3"``), and
per-head tensors are ``[layer, head]``; flat lists follow the layer-major order of
:func:`head_labels`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import torch
from jaxtyping import Bool, Float
from torch import Tensor

__all__ = [
    "HeadThresholds",
    "THRESHOLDS",
    "HEAD_CLASSES",
    "head_labels",
    "parse_head",
    "head_mask",
    "classify_heads",
    "induction_heads",
    "previous_token_heads",
]


@dataclass(frozen=True)
class HeadThresholds:
    """Score thresholds of the head classes (the paper gives none).

    - ``prefix_matching = 0.3``: a head with uniform attention over the 101-token evaluator
      input scores about 0.04 (see the closed form in ``tests/measure/test_metrics.py``), the
      paper's formed induction heads 0.6-0.9, and the public 2-layer reference head 0.17 at
      the start of its phase change and 0.63 shortly after. 0.3 sits well clear of chance
      and is reached early in the formation.
    - ``copying = 2/25 - 1 + 0.25`` (about -0.67): a head counts as copying when its copying
      score is clearly above *chance*. On the evaluator's 25 distinct random tokens, a head
      whose output is unrelated to the token it attends to raises that token's logit as much
      as any of the 25: a raw ratio of 1/25, a score of ``2/25 - 1 = -0.92``. A perfect copier
      scores +1, but the score averages over every position of the input, including the first
      25 tokens, where an induction head has nothing to copy, so trained induction heads score
      far lower (about -0.5 in the small zoo). 0.25 above chance separates them from every
      other head (-0.95 to -0.75). Why not the paper's "positive copying" (0): the decisions
      log, ``chapters/08_decisions.md``.
    - ``previous_token = 0.4``: mean attention on the previous token. Uniform attention over
      ``n`` positions gives about ``ln(n)/n`` (0.04 at 128 positions); 0.4 asks for a head
      that puts a large part of its attention on the token right before.
    """

    prefix_matching: float = 0.3
    copying: float = 2 / 25 - 1 + 0.25
    previous_token: float = 0.4


THRESHOLDS = HeadThresholds()
HEAD_CLASSES: tuple[str, ...] = ("induction", "previous-token", "other")


def head_labels(n_layers: int, n_heads: int) -> list[str]:
    """``["0.0", "0.1", ..., f"{n_layers-1}.{n_heads-1}"]``, layer-major."""
    return [f"{layer}.{head}" for layer in range(n_layers) for head in range(n_heads)]


def parse_head(head: str | tuple[int, int]) -> tuple[int, int]:
    """``"1.3"`` or ``(1, 3)`` -> ``(1, 3)``."""
    if isinstance(head, str):
        try:
            layer, h = head.split(".")
            return int(layer), int(h)
        except ValueError:
            raise ValueError(f"bad head label {head!r}; expected 'layer.head', e.g. '1.3'") from None
    layer, h = head
    return int(layer), int(h)


def head_mask(
    heads: Iterable[str | tuple[int, int]], n_layers: int, n_heads: int
) -> Bool[Tensor, "layer head"]:
    """Boolean ``[layer, head]`` mask that is True on ``heads`` (labels or ``(layer, head)``)."""
    mask = torch.zeros(n_layers, n_heads, dtype=torch.bool)
    for head in heads:
        layer, h = parse_head(head)
        if not (0 <= layer < n_layers and 0 <= h < n_heads):
            raise ValueError(f"head {layer}.{h} is outside a {n_layers}-layer, {n_heads}-head model")
        mask[layer, h] = True
    return mask


def classify_heads(
    prefix_matching: Float[Tensor, "layer head"],
    copying: Float[Tensor, "layer head"],
    previous_token: Float[Tensor, "layer head"],
    thresholds: HeadThresholds = THRESHOLDS,
) -> list[str]:
    """The class of every head, layer-major (aligned with :func:`head_labels`).

    A head is an *induction* head if it prefix-matches and copies on repeated random tokens
    (paper §Key Concepts, "induction heads"), else a *previous-token* head if its
    previous-token score is high (§Methods), else *other*. Induction wins ties: a head cannot
    prefix-match well while attending to the previous token, so the overlap is empty in
    practice.
    """
    induction = _induction_mask(prefix_matching, copying, thresholds).flatten().tolist()
    previous = _previous_mask(previous_token, thresholds).flatten().tolist()
    return ["induction" if i else "previous-token" if p else "other" for i, p in zip(induction, previous)]


def _induction_mask(prefix_matching: Tensor, copying: Tensor, thresholds: HeadThresholds) -> Tensor:
    return (prefix_matching >= thresholds.prefix_matching) & (copying > thresholds.copying)


def _previous_mask(previous_token: Tensor, thresholds: HeadThresholds) -> Tensor:
    return previous_token >= thresholds.previous_token


def _labels_where(mask: Bool[Tensor, "layer head"]) -> list[str]:
    return [f"{layer}.{head}" for layer, head in mask.nonzero().tolist()]


def induction_heads(
    prefix_matching: Float[Tensor, "layer head"],
    copying: Float[Tensor, "layer head"],
    thresholds: HeadThresholds = THRESHOLDS,
) -> list[str]:
    """Labels of the induction heads (prefix matching at least, copying above, its threshold)."""
    return _labels_where(_induction_mask(prefix_matching, copying, thresholds))


def previous_token_heads(
    previous_token: Float[Tensor, "layer head"], thresholds: HeadThresholds = THRESHOLDS
) -> list[str]:
    """Labels of the heads whose previous-token score reaches the threshold."""
    return _labels_where(_previous_mask(previous_token, thresholds))
