"""Weight-based circuit measurements (paper §Argument 5; Framework paper "Analyzing a Two-Layer
Model"): OV eigenvalue positivity, the paper's copying score, Q/K/V composition scores and the
K-composition trace with previous-token heads.

Conventions (TransformerLens, row vectors): ``W_Q, W_K, W_V`` are ``[layer, head, d_model,
d_head]``, ``W_O`` is ``[layer, head, d_head, d_model]``, ``W_E`` is ``[vocab, d_model]`` and
``W_U`` is ``[d_model, vocab]``. ``W_QK = W_Q W_K^T`` (scores are ``x_dst W_QK x_src^T``) and
``W_OV = W_V W_O``. Nothing here builds a ``vocab x vocab`` matrix: every statistic is computed
in a ``d_head``-sized factorisation.

**LayerNorm** is folded, not ignored (:meth:`CircuitWeights.from_bridge`): each matrix that
reads the residual stream through a LayerNorm is multiplied by that norm's centring projection
and per-dimension weight, ``W -> (I - 11^T/d) diag(w) W``. What is left out is the per-position
``1/std`` scale (a positive scalar, which changes no sign and no ratio below) and the norms'
biases. MLPs are left out: these are the direct-path and head-to-head terms only.

**Positions.** Our zoo uses rotary embeddings, so a head's real QK form depends on the offset
between query and key. ``W_Q W_K^T`` is that form at offset 0; composition scores and the
K-composition trace use it, as the paper's models (whose positions also stay out of the
residual stream) used their plain ``W_QK``. For smeared-key models ``W_K`` is the un-smeared
projection: the smear mixes each key with the previous position's, which these weight-only
statistics do not see.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union

import torch
from jaxtyping import Float, Int
from torch import Tensor

from .hooks import hook_name

__all__ = [
    "CircuitWeights",
    "eigenvalue_positivity",
    "ov_eigenvalue_positivity",
    "copying_score",
    "composition_scores",
    "composition_baseline",
    "k_composition_trace",
]


@dataclass(frozen=True)
class CircuitWeights:
    """The weights the circuit statistics read, in TransformerLens shapes."""

    W_E: Float[Tensor, "vocab d_model"]
    W_Q: Float[Tensor, "layer head d_model d_head"]
    W_K: Float[Tensor, "layer head d_model d_head"]
    W_V: Float[Tensor, "layer head d_model d_head"]
    W_O: Float[Tensor, "layer head d_head d_model"]
    W_U: Float[Tensor, "d_model vocab"]

    @classmethod
    def from_bridge(cls, bridge, fold_ln: bool = True) -> "CircuitWeights":
        """Read the weights of a ``TransformerBridge``, folding LayerNorm (see module docstring).

        ``fold_ln=False`` returns the raw matrices (what ``bridge.all_composition_scores``
        uses).
        """
        with torch.no_grad():
            W_Q, W_K, W_V = (w.detach().clone() for w in (bridge.W_Q, bridge.W_K, bridge.W_V))
            W_U = bridge.W_U.detach().clone()
            if fold_ln:
                fold = [_ln_fold(block.ln1, bridge.cfg) for block in bridge.blocks]
                if all(f is not None for f in fold):
                    ln1 = torch.stack(fold)[:, None]  # [layer, 1, d_model, d_model]
                    W_Q, W_K, W_V = ln1 @ W_Q, ln1 @ W_K, ln1 @ W_V
                f_final = _ln_fold(bridge.ln_final, bridge.cfg)
                if f_final is not None:
                    W_U = f_final @ W_U
            return cls(bridge.W_E.detach().clone(), W_Q, W_K, W_V, bridge.W_O.detach().clone(), W_U)

    @property
    def n_layers(self) -> int:
        return self.W_Q.shape[0]

    @property
    def n_heads(self) -> int:
        return self.W_Q.shape[1]


Model = Union[CircuitWeights, "TransformerBridge"]  # noqa: F821


def _weights(model: Model) -> CircuitWeights:
    return model if isinstance(model, CircuitWeights) else CircuitWeights.from_bridge(model)


def _ln_fold(ln, cfg) -> Tensor | None:
    """``(I - 11^T/d) diag(w)`` for a LayerNorm, ``diag(w)`` for RMSNorm, None for no norm
    (also for a norm slot that wraps ``nn.Identity``: a model without a final LayerNorm)."""
    norm = getattr(cfg, "normalization_type", None)
    if norm is None or isinstance(getattr(ln, "original_component", None), torch.nn.Identity):
        return None
    d = cfg.d_model
    w = getattr(ln, "w", None)
    scale = torch.diag(w.detach()) if w is not None else torch.eye(d)
    if norm.startswith("LN"):
        return (torch.eye(d) - torch.full((d, d), 1 / d)) @ scale
    return scale


def eigenvalue_positivity(eigenvalues: Tensor, eps: float = 1e-12) -> Tensor:
    """``sum(lambda) / sum(|lambda|)`` over the last axis (Framework, "Detecting Copying").

    In [-1, 1]: +1 when every eigenvalue is positive, -1 when every one is negative, near 0
    for a random matrix. A matrix with no non-zero eigenvalue scores 0.
    """
    return eigenvalues.sum(-1).real / (eigenvalues.abs().sum(-1) + eps)


def ov_eigenvalue_positivity(model: Model) -> Float[Tensor, "layer head"]:
    """Eigenvalue positivity of every head's full OV circuit ``W_E W_V W_O W_U`` (paper
    §Validating head activation evaluators; Framework "Detecting Copying Behavior").

    The ``vocab x vocab`` circuit ``(W_E W_V)(W_O W_U)`` has the same non-zero eigenvalues as
    the ``d_head x d_head`` product ``(W_O W_U)(W_E W_V)``, which is what we decompose (in
    float64). Written in the paper's column convention this is ``W_U W_OV W_E``.
    """
    w = _weights(model)
    embed_unembed = (w.W_U.double() @ w.W_E.double())  # [d_model, d_model]
    small = w.W_O.double() @ embed_unembed @ w.W_V.double()  # [layer, head, d_head, d_head]
    return eigenvalue_positivity(torch.linalg.eigvals(small)).float()


@torch.no_grad()
def copying_score(bridge, tokens: Int[Tensor, "batch seq"]) -> Float[Tensor, "layer head"]:
    """The paper's copying evaluator (§Methods (3), revised 2022-09-20).

    For every head and destination position: take the head's output ``z @ W_O`` (its
    contribution to the residual stream), map it to logits along the direct path through the
    final LayerNorm's centring and weight and the unembedding, subtract the mean logit and
    apply a ReLU so that only raised logits count. The raw score is the raised logit of the
    **token the head attends to most** (argmax of its pattern) divided by the raised logits
    summed over **the distinct tokens of the sample**. The per-position ``1/std`` of the final
    LayerNorm is left out: it scales all logits of a position alike and cancels in the ratio.

    Rescaling: the raw ratio lies in [0, 1] here (1 = raises only the attended token, 0 =
    raises only other tokens); we map it linearly to [-1, 1] as ``2 * ratio - 1`` and average
    over positions and sequences. The paper states its raw ratio lies in [0, 0.5] without
    saying why; its two endpoints mean the same as ours and map to the same -1 and +1.

    Input (the caller's choice): the paper uses 25 random tokens without BOS, averaged over
    10 examples; we recommend ``repeated_random_tokens(pool, bos=None)`` (the prefix-matching
    input without its BOS), so that an induction head has a token to attend to in the
    repeats. A head that raises the logits of every token it reads equally scores
    ``2/n - 1`` when its attention is spread over ``n`` tokens.
    """
    names = lambda n: n.endswith("attn.hook_pattern") or n.endswith("attn.hook_z")  # noqa: E731
    _, cache = bridge.run_with_cache(tokens, names_filter=names)
    W_U = CircuitWeights.from_bridge(bridge).W_U  # final LayerNorm folded in
    in_sample = torch.zeros(tokens.shape[0], W_U.shape[1], dtype=torch.bool)
    in_sample.scatter_(1, tokens.long(), True)  # [batch, vocab]
    scores = []
    for layer in range(bridge.cfg.n_layers):
        z, pattern = cache[hook_name("z", layer)], cache[hook_name("pattern", layer)]
        out = torch.einsum("bphd,hdm->bphm", z, bridge.W_O[layer])
        logits = out @ W_U  # [batch, pos, head, vocab]
        raised = (logits - logits.mean(-1, keepdim=True)).relu()
        attended = tokens.long().gather(1, pattern.argmax(-1).flatten(1)).view(pattern.shape[:3])
        top = raised.gather(-1, attended.transpose(1, 2)[..., None]).squeeze(-1)  # [b, p, h]
        total = (raised * in_sample[:, None, None]).sum(-1)
        ratio = torch.where(total > 0, top / total.clamp_min(1e-30), torch.zeros_like(top))
        scores.append((2 * ratio - 1).mean((0, 1)))
    return torch.stack(scores)


def _factored_sq_norm(A: Tensor, B: Tensor) -> Tensor:
    """``||A B||_F^2`` from the factors: ``tr((A^T A)(B B^T))``."""
    return ((A.transpose(-1, -2) @ A) * (B @ B.transpose(-1, -2))).sum((-1, -2))


def _composition(A1: Tensor, B1: Tensor, A2: Tensor, B2: Tensor, all_pairs: bool = True) -> Tensor:
    """``||A1 B1 A2 B2||_F / (||A1 B1||_F ||A2 B2||_F)`` from the factors.

    Left factors ``[n, d, r]``/``[n, r, d]``, right ``[m, d, r]``/``[m, r, d]``; returns every
    (left, right) pair ``[n, m]``, or with ``all_pairs=False`` (and ``n == m``) the ``n``
    matched pairs. Uses ``||A1 M B2||^2 = sum((G M) * (M H))`` with ``M = B1 A2``,
    ``G = A1^T A1`` and ``H = B2 B2^T``, so only ``d_head``-sized products are formed.
    """
    G = A1.transpose(-1, -2) @ A1  # [n, r, r]
    H = B2 @ B2.transpose(-1, -2)  # [m, r, r]
    left_sq, right_sq = _factored_sq_norm(A1, B1), _factored_sq_norm(A2, B2)
    if all_pairs:
        G, B1, left_sq = G[:, None], B1[:, None], left_sq[:, None]
        A2, H, right_sq = A2[None], H[None], right_sq[None]
    M = B1 @ A2  # [n, m, r, r] or [n, r, r]
    sq = ((G @ M) * (M @ H)).sum((-1, -2))
    return (sq / (left_sq * right_sq)).clamp_min(0).sqrt()


_BASELINES: dict[tuple[int, int, int, int], float] = {}


def composition_baseline(d_model: int, d_head: int, n_samples: int = 256, seed: int = 0) -> float:
    """Mean composition score of random matrices of our shapes (Framework §"Analyzing a
    Two-Layer Model": scores are reported minus this).

    ``n_samples`` pairs of a random left (``W_V W_O``-shaped) and right (``W_Q W_K^T``-shaped)
    product of i.i.d. Gaussian ``d_model x d_head`` factors. The score is scale-free, so the
    factors' variance does not matter, and Q-, K- and V-composition of random factors have the
    same distribution, so one baseline serves all three. ARENA draws Kaiming-uniform factors
    instead; the two agree to the sampling error. The per-pair spread is about 7% of the mean
    for our shapes, so 256 pairs give the baseline to about 0.5%. Memoised per arguments.
    """
    key = (d_model, d_head, n_samples, seed)
    if key not in _BASELINES:
        g = torch.Generator().manual_seed(seed)
        A1, A2 = (torch.randn(n_samples, d_model, d_head, generator=g, dtype=torch.float64) for _ in range(2))
        B1, B2 = (torch.randn(n_samples, d_head, d_model, generator=g, dtype=torch.float64) for _ in range(2))
        _BASELINES[key] = _composition(A1, B1, A2, B2, all_pairs=False).mean().item()
    return _BASELINES[key]


def composition_scores(
    model: Model, mode: str, subtract_baseline: bool = True
) -> Float[Tensor, "src_layer src_head dst_layer dst_head"]:
    """Q-, K- or V-composition of every earlier head's OV output with every later head (paper
    §Argument 5; Framework "Analyzing a Two-Layer Model").

    ``comp(A, B) = ||A B||_F / (||A||_F ||B||_F)`` with ``A = W_OV`` of the source head and
    ``B = W_QK`` (Q), ``W_QK^T`` (K) or ``W_OV`` (V) of the destination head, minus
    :func:`composition_baseline` when ``subtract_baseline`` (the Framework's default).
    Pairs whose source layer is not strictly earlier are NaN (undefined). With raw weights
    (``CircuitWeights.from_bridge(b, fold_ln=False)``, no baseline) this equals
    ``b.all_composition_scores(mode)`` on its defined pairs.
    """
    if mode not in ("Q", "K", "V"):
        raise ValueError(f"unknown composition mode {mode!r}; choose one of: Q, K, V")
    w = _weights(model)
    L, H, d, r = w.W_Q.shape
    flat = lambda t: t.double().reshape(L * H, *t.shape[2:])  # noqa: E731
    W_Q, W_K, W_V, W_O = flat(w.W_Q), flat(w.W_K), flat(w.W_V), flat(w.W_O)
    right = {"Q": (W_Q, W_K.transpose(-1, -2)), "K": (W_K, W_Q.transpose(-1, -2)), "V": (W_V, W_O)}[mode]
    scores = _composition(W_V, W_O, *right).reshape(L, H, L, H)
    if subtract_baseline:
        scores = scores - composition_baseline(d, r)
    layer = torch.arange(L)
    earlier = (layer[:, None] < layer[None, :])[:, None, :, None].expand(L, H, L, H)
    return torch.where(earlier, scores, torch.nan).float()


def k_composition_trace(
    model: Model, previous_token_scores: Float[Tensor, "layer head"]
) -> Float[Tensor, "layer head"]:
    """Trace of the previous-token K-composition QK term of every head (paper §Methods (4)).

    For a head ``h`` and an earlier head ``p``, the pure K-composition term scores query token
    ``a`` against a key whose residual holds token ``b`` moved there by ``p``:
    ``W_E W_Q^h W_K^hT (W_V^p W_O^p)^T W_E^T`` (``vocab x vocab``; large positive diagonal =
    "attend where the previous token equals me"). Its trace is computed as
    ``tr(W_Q W_K^T W_O^pT W_V^pT W_E^T W_E)``, never forming the vocabulary matrix. The
    terms of all earlier heads are summed weighted by their ``previous_token_scores`` (how well
    each matches an ideal previous-token head). Heads of the first layer have no earlier head:
    NaN. Units are the raw bilinear form's (LayerNorm weights folded, ``1/std`` not), so
    compare a head with itself over training rather than across models.
    """
    w = _weights(model)
    L = w.W_Q.shape[0]
    gram = w.W_E.double().T @ w.W_E.double()  # [d_model, d_model]
    # per (source l', h') and destination (l, h): tr( (W_O' W_K)^T (W_V'^T G W_Q) )
    ok = torch.einsum("abrd,lhds->ablhrs", w.W_O.double(), w.W_K.double())
    vq = torch.einsum("abdr,de,lhes->ablhrs", w.W_V.double(), gram, w.W_Q.double())
    traces = (ok * vq).sum((-1, -2))  # [L', H', L, H]
    layer = torch.arange(L)
    earlier = (layer[:, None] < layer[None, :])[:, None, :, None].to(traces.dtype)
    weighted = torch.einsum("ab,ablh->lh", previous_token_scores.double(), traces * earlier)
    weighted[0] = torch.nan
    return weighted.float()
