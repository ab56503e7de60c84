"""The paper's measurements, as small pure functions on tensors.

Conventions used everywhere in the book:
- ``loss_by_position[..., i]`` is the cross-entropy of predicting token ``i + 1`` from tokens
  ``0..i`` (so a context of ``n_ctx`` tokens gives ``n_ctx - 1`` positions).
- Attention patterns are ``[batch, head, query, key]`` (TransformerLens' ``hook_pattern``
  layout); a leading ``layer`` axis is allowed where noted.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from jaxtyping import Float, Int
from torch import Tensor

__all__ = [
    "per_token_losses",
    "icl_indices",
    "icl_score",
    "icl_window_positions",
    "repeated_random_tokens",
    "induction_targets",
    "ideal_induction_pattern",
    "prefix_matching_score",
    "previous_token_score",
]


def per_token_losses(
    logits: Float[Tensor, "batch pos vocab"], tokens: Int[Tensor, "batch pos"]
) -> Float[Tensor, "batch pos_minus_1"]:
    """Cross-entropy of every next-token prediction: ``out[:, i]`` is the loss of predicting
    ``tokens[:, i + 1]`` from ``tokens[:, :i + 1]`` (the book's per-token loss convention)."""
    lp = F.log_softmax(logits[:, :-1].float(), dim=-1)
    return -lp.gather(-1, tokens[:, 1:, None].long()).squeeze(-1)


def icl_indices(n_ctx: int) -> tuple[int, int]:
    """The (early, late) context indices of the ICL score for a context of ``n_ctx`` tokens.

    The paper uses the 50th and 500th token of 512-token examples; we scale both to our
    context length: ``round(50/512 * n_ctx)`` and ``round(500/512 * n_ctx)`` (capped at the last
    predicted position). For ``n_ctx = 512`` this gives exactly 50 and 500. :func:`icl_score`
    moves the late index inwards if its averaging window would run past the last position.
    """
    early = round(50 / 512 * n_ctx)
    late = min(round(500 / 512 * n_ctx), n_ctx - 2)
    return early, late


def icl_score(
    loss_by_position: Float[Tensor, "... pos"],
    early: int | None = None,
    late: int | None = None,
    halfwidth: int = 2,
) -> Float[Tensor, "..."]:
    """In-context learning score (paper §Key Concepts): loss late in the context minus loss early.

    **Sign: negative means in-context learning** (later tokens are predicted better). The paper
    quotes magnitudes ("0.4 nats"); we keep the sign of its Model Analysis Table,
    ``Loss(i=500) - Loss(i=50)``.

    Args:
        loss_by_position: mean loss at each context position (last axis).
        early, late: explicit indices; by default :func:`icl_indices` of the context length.
        halfwidth: average the loss over ``index +/- halfwidth`` positions. The paper reads a
            single index over 10,000 examples; with our smaller evaluation set a 5-position
            window keeps the estimate's noise below a few hundredths of a nat. ``0`` gives the
            paper's single-index reading.
    """
    early_idx, late_idx = icl_window_positions(loss_by_position.shape[-1], early, late, halfwidth)
    return loss_by_position[..., late_idx].mean(-1) - loss_by_position[..., early_idx].mean(-1)


def icl_window_positions(
    n_pos: int, early: int | None = None, late: int | None = None, halfwidth: int = 2
) -> tuple[list[int], list[int]]:
    """The context positions :func:`icl_score` averages: ``(early window, late window)``.

    Useful where only those positions' losses are computed (per-snapshot ablations).
    """
    d_early, d_late = icl_indices(n_pos + 1)
    early = d_early if early is None else early
    late = min(d_late, n_pos - 1 - halfwidth) if late is None else late
    if not (0 <= early - halfwidth and late + halfwidth < n_pos and early < late):
        raise ValueError(
            f"ICL indices early={early}, late={late} (+/-{halfwidth}) do not fit {n_pos} positions"
        )
    return list(range(early - halfwidth, early + halfwidth + 1)), list(range(late - halfwidth, late + halfwidth + 1))


def repeated_random_tokens(
    pool: Int[Tensor, "n"],
    n_sequences: int = 10,
    length: int = 25,
    repeats: int = 4,
    bos: int | None = 0,
    seed: int = 0,
) -> Int[Tensor, "batch seq"]:
    """The paper's evaluator input: ``length`` random tokens repeated ``repeats`` times.

    Tokens are drawn from ``pool`` (the vocabulary without its most and least common tokens,
    see :func:`induction_heads.engine.tokenizer.random_token_pool`) *without replacement* within a
    sequence, so every token of a repeat is distinct and "earlier occurrences" are unambiguous.
    ``bos`` is prepended unless ``None`` (the copying evaluator uses no BOS).
    """
    g = torch.Generator().manual_seed(seed)
    idx = torch.stack([torch.randperm(pool.numel(), generator=g)[:length] for _ in range(n_sequences)])
    seq = pool[idx].repeat(1, repeats)
    if bos is not None:
        seq = torch.cat([torch.full((n_sequences, 1), bos, dtype=seq.dtype), seq], dim=1)
    return seq


def induction_targets(tokens: Int[Tensor, "batch seq"]) -> Float[Tensor, "batch seq seq"]:
    """Mask of the positions an induction head "should" attend to: for destination i, every
    j + 1 with j < i and ``tokens[j] == tokens[i]`` (the token after an earlier occurrence)."""
    same = tokens[:, :, None] == tokens[:, None, :]  # [b, i, j]
    earlier = torch.ones_like(same[0]).tril(-1)
    match = same & earlier  # j < i, same token
    targets = torch.zeros_like(match)
    targets[:, :, 1:] = match[:, :, :-1]  # shift: attend to j + 1
    return targets.to(torch.float32)


def ideal_induction_pattern(tokens: Int[Tensor, "batch seq"]) -> Float[Tensor, "batch seq seq"]:
    """The attention pattern of a perfect induction head: from each token, uniform attention over
    the tokens that followed its earlier occurrences (:func:`induction_targets`); a token with no
    earlier occurrence attends to position 0 (the BOS of an evaluator sequence, the first token
    of a training window). Causal, each row sums to 1; its prefix-matching score is 1."""
    targets = induction_targets(tokens)
    none = targets.sum(-1) == 0
    targets[..., 0] = torch.where(none, 1.0, targets[..., 0])
    return targets / targets.sum(-1, keepdim=True)


def prefix_matching_score(
    pattern: Float[Tensor, "*layer batch head query key"], tokens: Int[Tensor, "batch seq"]
) -> Float[Tensor, "*layer head"]:
    """Prefix-matching score (paper §Methods, "head activation evaluators").

    For each destination token that occurred earlier, the attention it puts on the tokens that
    *followed* its earlier occurrences, **summed over all earlier occurrences**, then averaged
    over such destinations and over the batch. With 25 random tokens repeated 4 times this is
    the paper's reading that lets a perfect induction head score 1 (a plain mean over
    individual entries would cap most positions below 1/2). Destinations with no earlier
    occurrence (the first repeat, the BOS) are left out.
    """
    targets = induction_targets(tokens)  # [b, q, k]
    has_target = targets.sum(-1) > 0  # [b, q]
    if not has_target.any():
        raise ValueError("no token repeats in `tokens`: prefix matching is undefined")
    on_targets = (pattern * targets[:, None]).sum(-1)  # [..., b, h, q]
    w = has_target[:, None, :].to(pattern.dtype)
    return (on_targets * w).sum((-1, -3)) / has_target.sum()


def previous_token_score(
    pattern: Float[Tensor, "*layer batch head query key"],
) -> Float[Tensor, "*layer head"]:
    """Previous-token score (paper §Methods): mean attention from each token i to i - 1 on text
    from the training distribution (destinations 1..end, averaged over the batch)."""
    prev = torch.diagonal(pattern, offset=-1, dim1=-2, dim2=-1)  # [..., b, h, q-1]
    return prev.mean(-1).mean(-2)
