"""The repeat test: does the model *complete* a sequence it has already seen in its context?

The first experiment of every interpretability course: show a model a sequence of random
tokens several times and read its loss and top-1 accuracy on the later copies. A model with
working induction heads predicts the second and later copies almost perfectly (the hand-built
circuit of :mod:`induction_heads.measure.handbuilt` does); without them it stays near chance. The
prefix-matching score says whether the heads *attend* to the right token; this test says
whether what they copy wins the logits.

Two inputs:

- **random repeats** (:func:`repeated_sequences`): ``length`` distinct tokens drawn from a token
  pool, repeated ``repeats`` times after a BOS, drawn exactly like the prefix-matching
  evaluator's input (:func:`induction_heads.measure.metrics.repeated_random_tokens`), only longer and
  more of them by default (30 tokens, 20 sequences);
- **a held-out passage twice** (:func:`passage_twice`): the first ``length`` tokens of
  evaluation-set windows, shown twice after a BOS, so copying is tested on text the model was
  trained to read (copy 1 is the model's plain language-modelling accuracy on it).

What we chose: within every copy the **first token is left out of the score**. Its prediction
is made from the last token of the previous copy, which in the first repeat has never been
followed by it (nothing to copy), so an induction head cannot be asked for it; we drop it in
every copy so that all copies are scored on the same ``length - 1`` positions.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from jaxtyping import Float, Int
from torch import Tensor

from .metrics import repeated_random_tokens

__all__ = [
    "repeated_sequences",
    "passage_twice",
    "copy_positions",
    "repeat_scores",
    "repeat_test",
]


def repeated_sequences(
    pool: Int[Tensor, "n"],
    n_sequences: int = 20,
    length: int = 30,
    repeats: int = 4,
    bos: int = 0,
    seed: int = 0,
) -> Int[Tensor, "batch seq"]:
    """BOS + ``length`` distinct tokens of ``pool`` repeated ``repeats`` times (``1 + length *
    repeats`` tokens a row), drawn like the prefix-matching evaluator's input."""
    if length > pool.numel():
        raise ValueError(f"length {length} exceeds the pool's {pool.numel()} tokens; use a shorter length or a larger pool")
    return repeated_random_tokens(pool, n_sequences, length, repeats, bos=bos, seed=seed)


def passage_twice(
    eval_tokens: Int[Tensor, "n_eval n_ctx"], n_passages: int = 64, length: int = 63, bos: int = 0
) -> Int[Tensor, "batch seq"]:
    """BOS + the first ``length`` tokens of each of the first ``n_passages`` evaluation windows,
    twice (``1 + 2 * length`` tokens a row; 127 for the default, within a 128-token context)."""
    if n_passages > len(eval_tokens) or length > eval_tokens.shape[1]:
        raise ValueError(f"asked for {n_passages} passages of {length} tokens from an evaluation set of shape "
                         f"{tuple(eval_tokens.shape)}; ask for fewer or shorter passages")
    p = eval_tokens[:n_passages, :length].long()
    return torch.cat([torch.full((n_passages, 1), bos, dtype=p.dtype), p, p], dim=1)


def copy_positions(length: int, copies: int) -> Int[Tensor, "copy scored"]:
    """Indices into the per-token arrays (``out[:, i]`` predicts token ``i + 1``) of the scored
    predictions of each copy: every token of the copy but its first (see the module docstring).
    Assumes one BOS before the copies, so copy ``r`` holds tokens ``1 + r*length ..``."""
    first = 1 + torch.arange(copies)[:, None] * length  # index of each copy's first token
    targets = first + torch.arange(1, length)[None]
    return targets - 1


def repeat_scores(
    logits: Float[Tensor, "batch seq vocab"], tokens: Int[Tensor, "batch seq"], length: int,
    by_sequence: bool = False,
) -> dict[str, Float[Tensor, "*batch copy"]]:
    """Loss (nats) and top-1 accuracy of the next-token predictions in each copy.

    ``tokens`` is BOS + copies of ``length`` tokens (:func:`repeated_sequences`,
    :func:`passage_twice`). Returns ``{"loss": [copies], "top1": [copies]}``, each averaged over
    the batch and the copy's scored positions; copy 0 is the first showing (nothing to copy yet).
    ``by_sequence``: ``[batch, copies]`` instead, averaged over the scored positions only (the
    samples a bootstrap over sequences resamples; their mean over the batch is the default).
    """
    copies = (tokens.shape[1] - 1) // length
    if copies * length + 1 != tokens.shape[1]:
        raise ValueError(f"{tokens.shape[1]} tokens are not BOS + whole copies of {length}")
    lp = F.log_softmax(logits[:, :-1].float(), dim=-1)
    target = tokens[:, 1:].long()
    loss = -lp.gather(-1, target[..., None]).squeeze(-1)
    correct = (lp.argmax(-1) == target).float()
    idx = copy_positions(length, copies)
    dims = 2 if by_sequence else (0, 2)
    return {"loss": loss[:, idx].mean(dims), "top1": correct[:, idx].mean(dims)}


@torch.no_grad()
def repeat_test(model, tokens: Int[Tensor, "batch seq"], length: int, batch_size: int = 64,
                by_sequence: bool = False) -> dict[str, Float[Tensor, "*batch copy"]]:
    """:func:`repeat_scores` of ``model`` (anything that maps tokens to logits: the fast twin or
    a ``TransformerBridge``) on ``tokens``, run in batches. The mean over copies 1.. is the
    number to quote ("top-1 on the repeats")."""
    logits = torch.cat([model(tokens[i : i + batch_size]) for i in range(0, len(tokens), batch_size)])
    return repeat_scores(logits, tokens, length, by_sequence)
