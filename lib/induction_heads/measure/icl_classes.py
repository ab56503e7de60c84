"""The ICL score decomposed by what an induction head could know (a referee's question: is the
in-context learning just literal copying?).

Every predicted position ``i`` of a sequence (predicting ``tokens[i + 1]`` from ``tokens[:i + 1]``,
the book's per-token loss convention) falls in one of three classes:

- **induction-predictable** (:data:`INDUCTION`): the current token ``tokens[i]`` occurred earlier,
  and one of its earlier occurrences was followed by the target (``[A][B] ... [A] -> [B]``). We
  count *any* earlier occurrence, not only the most recent: the paper's prefix-matching score sums
  an induction head's attention over all of them, so a head that attends to every earlier
  successor puts weight on the right one.
- **repeated-other** (:data:`REPEATED`): the current token occurred earlier, but never followed by
  the target.
- **novel** (:data:`NOVEL`): the current token has not occurred before.

The ICL score (:func:`induction_heads.measure.metrics.icl_score`: mean loss in a late window of
positions minus mean loss in an early one) splits exactly into one term per class:
``ICL = sum_c (p_c_late * L_c_late - p_c_early * L_c_early)``, where ``p_c`` is the class's share
of the window's (sequence, position) pairs and ``L_c`` its mean loss there. A class's term mixes
two things that :class:`IclByClass` also keeps apart: how its share changes from the early to the
late window (late in a context more tokens have occurred before), and how its loss changes.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from jaxtyping import Float, Int
from torch import Tensor

from .metrics import icl_window_positions, induction_targets

__all__ = ["INDUCTION", "REPEATED", "NOVEL", "CLASS_NAMES", "token_classes", "IclByClass", "icl_by_class",
           "loss_by_position_by_class"]

INDUCTION, REPEATED, NOVEL = 0, 1, 2
CLASS_NAMES: tuple[str, ...] = ("induction-predictable", "repeated-other", "novel")


def token_classes(tokens: Int[Tensor, "batch seq"]) -> Int[Tensor, "batch pos"]:
    """The class of every predicted position (``pos = seq - 1``; position ``i`` predicts
    ``tokens[:, i + 1]``): :data:`INDUCTION`, :data:`REPEATED` or :data:`NOVEL`."""
    targets = induction_targets(tokens)[:, :-1].bool()  # [b, i, k]: k follows an earlier occurrence of token i
    hits = targets & (tokens[:, None, :] == tokens[:, 1:, None])  # ... and token k is the target
    same = tokens[:, :, None] == tokens[:, None, :]
    seen = (same & torch.ones_like(same[0]).tril(-1)).any(-1)[:, :-1]  # token i occurred before i
    out = torch.full(seen.shape, NOVEL, dtype=torch.long)
    out[seen] = REPEATED
    out[hits.any(-1)] = INDUCTION
    return out


@dataclass(frozen=True)
class IclByClass:
    """The ICL score's split by class (:func:`icl_by_class`), each field indexed by class
    (:data:`CLASS_NAMES` order).

    ``share_early``/``share_late``: the class's share of the (sequence, position) pairs in the
    early and late windows; ``loss_early``/``loss_late``: its mean loss there (NaN where it has
    no pair); ``contribution``: its term of the ICL score (they sum to ``icl``, NaN counted as 0);
    ``share_all``: its share of every predicted position."""

    share_all: Float[Tensor, "cls"]
    share_early: Float[Tensor, "cls"]
    share_late: Float[Tensor, "cls"]
    loss_early: Float[Tensor, "cls"]
    loss_late: Float[Tensor, "cls"]
    contribution: Float[Tensor, "cls"]
    icl: float

    @property
    def within_class_change(self) -> Float[Tensor, "cls"]:
        """Each class's own late-minus-early loss (negative: predicted better later in context)."""
        return self.loss_late - self.loss_early


def _window_stats(losses: Tensor, classes: Tensor, window: list[int]) -> tuple[Tensor, Tensor]:
    c, l = classes[:, window].flatten(), losses[:, window].flatten().double()
    n = torch.bincount(c, minlength=len(CLASS_NAMES)).double()
    total = torch.zeros(len(CLASS_NAMES), dtype=torch.float64).index_add_(0, c, l)
    return n / n.sum(), torch.where(n > 0, total / n.clamp_min(1), torch.nan)


def icl_by_class(losses: Float[Tensor, "batch pos"], classes: Int[Tensor, "batch pos"], halfwidth: int = 2) -> IclByClass:
    """Split the ICL score of per-token ``losses`` by the positions' ``classes``
    (:func:`token_classes`), over the same early and late windows as
    :func:`induction_heads.measure.metrics.icl_score`. The ICL here is the mean over every
    (sequence, position) pair of each window, which equals ``icl_score(losses.mean(0))``."""
    if losses.shape != classes.shape:
        raise ValueError(f"losses {tuple(losses.shape)} and classes {tuple(classes.shape)} differ in shape")
    early, late = icl_window_positions(losses.shape[-1], halfwidth=halfwidth)
    share_e, loss_e = _window_stats(losses, classes, early)
    share_l, loss_l = _window_stats(losses, classes, late)
    contribution = torch.nan_to_num(share_l * loss_l) - torch.nan_to_num(share_e * loss_e)
    share_all = torch.bincount(classes.flatten(), minlength=len(CLASS_NAMES)).double() / classes.numel()
    return IclByClass(share_all, share_e, share_l, loss_e, loss_l, contribution, float(contribution.sum()))


def loss_by_position_by_class(
    losses: Float[Tensor, "batch pos"], classes: Int[Tensor, "batch pos"]
) -> Float[Tensor, "cls pos"]:
    """Each class's mean loss at every position (NaN where the class has no sequence there): the
    loss-by-position curve split by class."""
    onehot = torch.nn.functional.one_hot(classes, len(CLASS_NAMES)).double()  # [b, pos, cls]
    n = onehot.sum(0)  # [pos, cls]
    total = (onehot * losses.double()[..., None]).sum(0)
    return torch.where(n > 0, total / n.clamp_min(1), torch.nan).T
