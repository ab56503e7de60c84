"""Measurements across model sizes (paper §Argument 6, §Model Analysis Table, §Unexplained
Curiosities) and the onset law of later work (Aoyama et al. 2025).

Each function compares curves that the recorder stored for several models, or fits a law to a
few numbers; none of them knows how the models were named, trained or stored:

- :func:`read_at_tokens`: a curve over training read at a given number of training tokens, so
  that two models are compared at matched tokens;
- :func:`advantage_by_position`, :func:`advantage_share_by_index`: where in the context a
  larger model's lower loss sits (the paper: "almost all of it in the first ~10 tokens");
- :func:`loss_rates`, :func:`rate_crossings`: ``-dLoss / d ln(tokens)`` of two models and where
  their order switches (the paper: small models improve faster before the phase change, slower
  after);
- :func:`induction_heads_by_layer`, :func:`share_before_last_layer`: how many induction heads
  each layer holds, and which share of them sits before the last layer;
- :func:`prefix_copying_contrast`: whether heads that prefix-match also copy;
- :func:`path_turn_degrees`: how sharply a per-token-loss PCA path turns;
- :func:`prediction_interval`: the tolerance a set of seeds gives for one more run;
- :func:`fit_power_law`, :func:`onset_law_tokens`: the onset of the phase change against
  batch x context, log-log least squares.
"""

from __future__ import annotations

import math
from typing import NamedTuple, Sequence

import torch
from jaxtyping import Float
from torch import Tensor

from .heads import THRESHOLDS, HeadThresholds, induction_heads, parse_head
from .phase import MIN_NEIGHBOURS, local_linear

__all__ = [
    "read_at_tokens",
    "advantage_by_position",
    "advantage_over",
    "advantage_share_by_index",
    "LossRates",
    "loss_rates",
    "rate_crossings",
    "mean_rate_difference",
    "induction_heads_by_layer",
    "share_before_last_layer",
    "prefix_copying_contrast",
    "path_turn_degrees",
    "prediction_interval",
    "PowerLawFit",
    "fit_power_law",
    "ONSET_LAW_LOG10_T",
    "onset_law_tokens",
]


def read_at_tokens(tokens_seen: Float[Tensor, "snapshot"], values: Float[Tensor, "snapshot ..."], at: float) -> Tensor:
    """``values`` at ``at`` training tokens, interpolated linearly in ln(tokens) between the two
    snapshots around it (exact at a snapshot). Used to compare models at matched tokens: all
    models of a size share their snapshot steps today, but a ladder rung trained with another
    batch size or context would not. ``at`` must lie within the snapshots (tokens > 0)."""
    t = tokens_seen.double()
    keep = t > 0
    t, v = t[keep].log(), values[keep].double()
    x = math.log(at)
    if not float(t[0]) - 1e-9 <= x <= float(t[-1]) + 1e-9:
        raise ValueError(f"{at:,.0f} tokens is outside the snapshots ({float(t[0].exp()):,.0f} to {float(t[-1].exp()):,.0f})")
    hi = int(torch.searchsorted(t, torch.tensor(x, dtype=torch.float64)).clamp(1, len(t) - 1))
    w = (x - float(t[hi - 1])) / max(float(t[hi] - t[hi - 1]), 1e-30)
    w = min(max(w, 0.0), 1.0)
    return (1 - w) * v[hi - 1] + w * v[hi]


def advantage_by_position(
    loss_small: Float[Tensor, "pos"], loss_large: Float[Tensor, "pos"]
) -> Float[Tensor, "pos"]:
    """The larger model's advantage at every context position, ``loss_small - loss_large``
    (positive: the larger model is better there). Pass losses read at matched training tokens
    (:func:`read_at_tokens`); the paper compares its models at the end of training."""
    return loss_small.double() - loss_large.double()


def advantage_over(advantage: Float[Tensor, "pos"], first: int, last: int) -> float:
    """The mean advantage over context indices ``first`` to ``last`` (inclusive, counted from 1:
    position ``i`` predicts at context index ``i + 1``); negative indices count from the end
    (``-5, -1``: the last five)."""
    lo = first - 1 if first > 0 else len(advantage) + first
    hi = last if last > 0 else len(advantage) + last + 1
    return float(advantage[lo:hi].mean())


def advantage_share_by_index(advantage: Float[Tensor, "pos"], index: int = 10, halfwidth: int = 2) -> float:
    """The share of the end-of-context advantage already there at context index ``index``.

    The paper (§Argument 6, footnotes 27-28): large models gain "almost all" their advantage "in
    the first ~10 tokens", then keep a roughly fixed lead. Position ``i`` predicts after ``i + 1``
    tokens (context index ``i + 1``), as in :func:`~induction_heads.measure.phase.loss_derivative_by_log_index`.
    We read the advantage averaged over indices ``index +/- halfwidth`` and divide it by the
    advantage averaged over the last ``2 * halfwidth + 1`` positions: 1 means the lead is
    complete by ``index``; a lead growing like ``ln(index)`` from zero gives ``ln(10) / ln(n)``.
    """
    n = advantage.shape[-1]
    at = advantage[max(index - 1 - halfwidth, 0): index + halfwidth].double().mean()
    end = advantage[n - 2 * halfwidth - 1:].double().mean()
    if float(end) <= 0:
        raise ValueError(f"the advantage at the end of the context is {float(end):.3f} <= 0: no lead to share out")
    return float(at / end)


class LossRates(NamedTuple):
    """Two models' rates of improvement ``-dLoss / d ln(tokens)`` on one grid of training tokens."""

    tokens_seen: Float[Tensor, "grid"]
    rate_a: Float[Tensor, "grid"]
    rate_b: Float[Tensor, "grid"]


def loss_rates(
    tokens_a: Float[Tensor, "snapshot"], loss_a: Float[Tensor, "snapshot"],
    tokens_b: Float[Tensor, "snapshot"], loss_b: Float[Tensor, "snapshot"],
    bandwidth: float = 0.2, n_grid: int = 256, after_tokens: float = 0.0,
) -> LossRates:
    """``-dLoss / d ln(training tokens)`` of two models on the stretch of training both cover.

    The paper plots the derivative of the loss with respect to the log of tokens elapsed and
    reads where one model's curve crosses the other's. It does not say how it differentiates; we
    smooth as the phase-change window does (:func:`~induction_heads.measure.phase.local_linear`,
    bandwidth 0.2 in ln(tokens), at least :data:`~induction_heads.measure.phase.MIN_NEIGHBOURS`
    snapshots) and read the slope. ``after_tokens`` starts the grid later (e.g. after the warm-up,
    whose schedule bends every curve alike)."""
    xa, xb = tokens_a.double(), tokens_b.double()
    ka, kb = xa > 0, xb > 0
    lo = max(float(xa[ka].min()), float(xb[kb].min()), after_tokens)
    hi = min(float(xa[ka].max()), float(xb[kb].max()))
    if lo >= hi:
        raise ValueError("the two runs share no stretch of training")
    grid = torch.linspace(math.log(lo), math.log(hi), n_grid, dtype=torch.float64)
    ra = -local_linear(xa[ka].log(), loss_a[ka].double(), grid, bandwidth, MIN_NEIGHBOURS)[1]
    rb = -local_linear(xb[kb].log(), loss_b[kb].double(), grid, bandwidth, MIN_NEIGHBOURS)[1]
    return LossRates(grid.exp(), ra, rb)


def rate_crossings(rates: LossRates) -> list[float]:
    """The training tokens where ``rate_a - rate_b`` changes sign (interpolated in ln(tokens)):
    where the two models' order of improvement switches."""
    d = rates.rate_a - rates.rate_b
    x = rates.tokens_seen.log()
    out = []
    for i in range(len(d) - 1):
        if d[i] == 0 or (d[i] > 0) == (d[i + 1] > 0):
            continue
        f = float(d[i] / (d[i] - d[i + 1]))
        out.append(math.exp(float(x[i]) + f * float(x[i + 1] - x[i])))
    return out


def mean_rate_difference(rates: LossRates, start: float, end: float) -> float:
    """``rate_a - rate_b`` averaged over the grid points from ``start`` to ``end`` tokens (NaN if
    none): positive means model a improved faster there."""
    inside = (rates.tokens_seen >= start) & (rates.tokens_seen <= end)
    return float((rates.rate_a - rates.rate_b)[inside].mean()) if inside.any() else float("nan")


def induction_heads_by_layer(
    prefix_matching: Float[Tensor, "layer head"],
    copying: Float[Tensor, "layer head"],
    thresholds: HeadThresholds = THRESHOLDS,
) -> list[int]:
    """How many induction heads (:func:`~induction_heads.measure.heads.classify_heads`'s
    definition) each layer holds. The paper: in the last layer of attention-only models, mostly
    the second-to-last in its 5- and 6-layer MLP models, before half depth in its 24- and 40-layer
    models."""
    counts = [0] * prefix_matching.shape[0]
    for head in induction_heads(prefix_matching, copying, thresholds):
        counts[parse_head(head)[0]] += 1
    return counts


def share_before_last_layer(counts: Sequence[int]) -> float:
    """The share of a model's induction heads that sit before its last layer, from
    :func:`induction_heads_by_layer`'s counts (NaN for a model without one). The paper's layer
    observation as one number: 0 in its attention-only models (all in the last layer), mostly
    the second-to-last layer in its 5- and 6-layer models with MLPs, so above one half there."""
    total = sum(counts)
    return float("nan") if total == 0 else sum(counts[:-1]) / total


def prefix_copying_contrast(
    prefix_matching: Float[Tensor, "layer head"], copying: Float[Tensor, "layer head"], threshold: float = THRESHOLDS.prefix_matching
) -> tuple[float, float]:
    """``(mean copying of heads that prefix-match, mean copying of the others)``: the paper's
    "heads with high prefix-matching scores tend to have high copying scores" as two numbers.
    A head prefix-matches when its score reaches ``threshold``; a mean over no heads is NaN."""
    pm, cp = prefix_matching.flatten().double(), copying.flatten().double()
    high = pm >= threshold
    mean = lambda m: float(cp[m].mean()) if m.any() else float("nan")  # noqa: E731
    return mean(high), mean(~high)


def path_turn_degrees(path: Float[Tensor, "snapshot component"], before: int, after: int) -> float:
    """The angle between a PCA path's direction up to snapshot ``before`` (start to ``before``)
    and its direction from snapshot ``after`` to its end: 0 is a straight path, 90 a right-angled
    turn. The paper's per-token-loss paths turn at the phase change; comparing the angle across
    models says whether they turn alike."""
    p = path.double()
    u, v = p[before] - p[0], p[-1] - p[after]
    cos = float(u @ v / (u.norm() * v.norm()).clamp_min(1e-30))
    return math.degrees(math.acos(max(-1.0, min(1.0, cos))))


# Two-sided 95% quantiles of Student's t, by degrees of freedom (no scipy in the book's pins).
_T975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262, 10: 2.228,
         12: 2.179, 15: 2.131, 20: 2.086, 30: 2.042}


def _t975(df: int) -> float:
    if df < 1:
        raise ValueError("need at least two values for a spread")
    return _T975[max(k for k in _T975 if k <= df)] if df <= 30 else 1.96


def prediction_interval(values: Sequence[float]) -> tuple[float, float]:
    """The 95% prediction interval for one more draw from the distribution ``values`` came from
    (normal, unknown variance): ``mean +/- t(0.975, n-1) * sd * sqrt(1 + 1/n)``.

    The paper says the ICL score after the phase change is "roughly constant" across sizes and
    gives no tolerance. Ours is this interval over the seeds of one model: a rung whose reading
    falls inside it differs from that model by no more than another seed could. With three seeds
    ``t`` is 4.3, so the interval is wide; it says what the seeds cannot tell apart."""
    v = torch.tensor(list(values), dtype=torch.float64)
    n = len(v)
    half = _t975(n - 1) * float(v.std()) * math.sqrt(1 + 1 / n)
    return float(v.mean()) - half, float(v.mean()) + half


class PowerLawFit(NamedTuple):
    """``y = 10**log10_prefactor * x**exponent``, fitted in log-log space."""

    exponent: float
    log10_prefactor: float
    exponent_se: float  # ordinary least-squares standard error (NaN with fewer than 3 points)
    exponent_interval: tuple[float, float]  # 95% bootstrap interval over points (NaN if too few)
    n_points: int


def fit_power_law(
    x: Sequence[float], y: Sequence[float], n_bootstrap: int = 2000, seed: int = 0
) -> PowerLawFit:
    """Least squares of ``log10 y`` on ``log10 x``: the exponent, the prefactor, the exponent's
    standard error and a 95% bootstrap interval (points resampled with replacement; resamples
    with a single distinct ``x`` are redrawn).

    For the onset law, ``x`` is batch x context (tokens per step) and ``y`` the onset in training
    tokens of each run; Aoyama et al. 2025 report ``N = 10**5.7 * (B C)**0.5``. Several seeds at
    one ``x`` are separate points: their scatter is part of the residual. Needs at least two
    distinct ``x``."""
    lx = torch.tensor(list(x), dtype=torch.float64).log10()
    ly = torch.tensor(list(y), dtype=torch.float64).log10()
    if len(lx) != len(ly) or len(lx) == 0:
        raise ValueError("x and y must be non-empty and of the same length")
    if len(lx.unique()) < 2:
        raise ValueError(f"a power law needs at least two distinct x; got only x = {float(10 ** lx[0]):g}")
    slope, intercept = _ols(lx, ly)
    n = len(lx)
    se = float("nan")
    if n > 2:
        resid = ly - (intercept + slope * lx)
        sxx = float(((lx - lx.mean()) ** 2).sum())
        se = math.sqrt(float((resid**2).sum()) / (n - 2) / sxx)
    interval = (float("nan"), float("nan"))
    if n > 2 and n_bootstrap > 0:
        g = torch.Generator().manual_seed(seed)
        slopes = []
        while len(slopes) < n_bootstrap:
            idx = torch.randint(0, n, (n,), generator=g)
            if len(lx[idx].unique()) > 1:
                slopes.append(_ols(lx[idx], ly[idx])[0])
        s = torch.tensor(slopes, dtype=torch.float64)
        interval = (float(s.quantile(0.025)), float(s.quantile(0.975)))
    return PowerLawFit(slope, intercept, se, interval, n)


def _ols(lx: Tensor, ly: Tensor) -> tuple[float, float]:
    dx = lx - lx.mean()
    slope = float((dx * (ly - ly.mean())).sum() / (dx**2).sum())
    return slope, float(ly.mean() - slope * lx.mean())


ONSET_LAW_LOG10_T = 5.7
"""Aoyama, Wilcox & Schneider 2025 (arXiv 2511.16893): induction heads emerge after
``N = T * sqrt(B * C)`` training tokens with ``T ~ 10**5.7``, independent of model size. The
units of ``N`` were not checked against that paper's figures."""


def onset_law_tokens(batch_times_context: float, log10_t: float = ONSET_LAW_LOG10_T, exponent: float = 0.5) -> float:
    """The published law's onset in training tokens for ``batch x context`` tokens per step."""
    return 10**log10_t * batch_times_context**exponent
