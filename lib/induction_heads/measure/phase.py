"""Measurements over training (paper §Argument 1, §Model Analysis Table): loss by context index
and its derivative with respect to ln(index), per-token-loss vectors and their joint PCA, the phase-change window, the fraction of ICL gained inside it, and
the loss bump.

Curves over training are sampled at log-spaced snapshots (plus a dense stretch), so smoothing
and derivatives are taken over **ln(training tokens)** with a Gaussian-weighted local-linear
fit (:func:`local_linear`): it gives a smoothed value and a slope at once, copes with uneven
spacing, and has no boundary bias in the slope.
"""

from __future__ import annotations

import math
from typing import Mapping, NamedTuple

import torch
from jaxtyping import Float, Int
from torch import Tensor

__all__ = [
    "local_linear",
    "loss_by_context_index",
    "loss_derivative_by_log_index",
    "per_token_loss_vector",
    "LossPCA",
    "per_token_loss_pca",
    "PhaseWindow",
    "MIN_PEAK_RATE",
    "peak_icl_rate",
    "phase_change_window",
    "ended_phase_change",
    "snapshots_around",
    "smoothed_over_training",
    "share_in_window",
    "icl_share_in_window",
    "loss_bump",
]


def local_linear(
    x: Float[Tensor, "n"],
    y: Float[Tensor, "... n"],
    grid: Float[Tensor, "m"],
    bandwidth: float,
    min_neighbours: int = 0,
) -> tuple[Float[Tensor, "... m"], Float[Tensor, "... m"]]:
    """Gaussian-weighted local-linear regression of ``y`` on ``x``: (value, slope) at ``grid``.

    At each grid point ``g`` it fits ``y ~ a + b (x - g)`` with weights
    ``exp(-(x - g)^2 / 2 h^2)`` and returns ``(a, b)``. ``h`` is ``bandwidth``, widened where
    the samples are sparse so that about ``min_neighbours`` samples lie within ``±h``: ``h >=
    min_neighbours / (2 density)``, with the sample density (samples per unit of ``x``) from a
    Gaussian kernel estimate of width ``4 * bandwidth``. The widening varies smoothly along
    ``x``, so it adds no wiggles of its own. Computed in float64.
    """
    x, y, grid = x.double(), y.double(), grid.double()
    dist = x[None, :] - grid[:, None]  # [m, n]
    h = torch.full_like(grid, bandwidth)
    if min_neighbours > 0:
        wide = 4 * bandwidth
        density = torch.exp(-0.5 * (dist / wide) ** 2).sum(-1) / (wide * math.sqrt(2 * math.pi))
        h = torch.maximum(h, min_neighbours / (2 * density))
    w = torch.exp(-0.5 * (dist / h[:, None]) ** 2)  # [m, n]
    w = w / w.sum(-1, keepdim=True)
    xm = w @ x  # [m]
    ym = y @ w.T  # [..., m]
    dx = x[None, :] - xm[:, None]  # [m, n]
    slope = ((y[..., None, :] - ym[..., :, None]) * (w * dx)).sum(-1) / (w * dx**2).sum(-1).clamp_min(1e-30)
    return ym + slope * (grid - xm), slope


def loss_by_context_index(per_token_losses: Float[Tensor, "... example pos"]) -> Float[Tensor, "... pos"]:
    """Mean loss at each context position over the evaluation examples (paper §Model Analysis
    Table, "loss by context index"; one row of the heatmap per snapshot)."""
    return per_token_losses.mean(-2)


def loss_derivative_by_log_index(
    loss_by_position: Float[Tensor, "... pos"], bandwidth: float = 0.15
) -> Float[Tensor, "... pos"]:
    """``dLoss / d ln(context index)`` at every position (paper's derivative heatmaps): "loss
    change per ε% more context".

    Position ``i`` predicts token ``i + 1`` after seeing ``i + 1`` tokens, so its context index
    is ``i + 1`` (this keeps ``ln`` finite at position 0). The paper does not say how it
    differentiates; we take the slope of a local-linear fit over ln(index) with a Gaussian
    ``bandwidth`` of 0.15 in ln units (a 15% change of context length), which averages about
    30 positions at index 128 and is close to a secant between neighbours at the start.
    """
    n = loss_by_position.shape[-1]
    log_index = torch.log(torch.arange(1, n + 1, dtype=torch.float64))
    return local_linear(log_index, loss_by_position, log_index, bandwidth)[1].to(loss_by_position.dtype)


def per_token_loss_vector(
    per_token_losses: Float[Tensor, "... example pos"], positions: Int[Tensor, "example"]
) -> Float[Tensor, "... example"]:
    """The paper's per-token-loss vector (§Per-Token Loss Analysis): from each example the loss
    at its one fixed random position (``positions``, drawn once with the evaluation set and
    shared by every snapshot of every model)."""
    idx = positions.long().expand(*per_token_losses.shape[:-1])[..., None]
    return per_token_losses.gather(-1, idx).squeeze(-1)


class LossPCA(NamedTuple):
    """Result of :func:`per_token_loss_pca`."""

    trajectories: dict[str, Float[Tensor, "snapshot component"]]
    components: Float[Tensor, "component example"]
    mean: Float[Tensor, "example"]
    explained_variance_ratio: Float[Tensor, "component"]


def per_token_loss_pca(
    vectors: Mapping[str, Float[Tensor, "snapshot example"]], n_components: int = 2
) -> LossPCA:
    """Joint PCA of the per-token-loss vectors of every snapshot of every model of a family
    (paper §Per-Token Loss Analysis), and each model's trajectory in it.

    The rows of all models are stacked into one ``(snapshots x models) x examples`` matrix,
    **centred** on the mean vector and **not scaled**: every column is a loss in nats, and
    standardising would inflate tokens whose loss barely moves (the paper states no scaling).
    Components come from an SVD of the centred matrix; each is signed so that its largest
    loading is positive, which makes the result deterministic.
    """
    names = list(vectors)
    X = torch.cat([vectors[n].double() for n in names])
    mean = X.mean(0)
    _, S, Vh = torch.linalg.svd(X - mean, full_matrices=False)
    comps = Vh[:n_components]
    comps = comps * comps.gather(1, comps.abs().argmax(1, keepdim=True)).sign()
    var = S**2
    trajectories = {n: ((vectors[n].double() - mean) @ comps.T).float() for n in names}
    return LossPCA(trajectories, comps.float(), mean.float(), (var[:n_components] / var.sum()).float())


MIN_NEIGHBOURS = 5
"""Curves over training are smoothed over at least this many snapshots (see
:func:`local_linear`): in the sparse log-spaced part of a run, a 0.2 bandwidth would otherwise
rest on two snapshots, and their noise alone could look like a fast change."""


class PhaseWindow(NamedTuple):
    """A stretch of training in tokens: ``start``, ``end`` and the ``peak`` rate inside."""

    start: float
    end: float
    peak: float


def _log_tokens(tokens_seen: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
    keep = tokens_seen > 0  # the step-0 snapshot has no place on a log axis
    if keep.sum() < 4:
        raise ValueError("need at least 4 snapshots with tokens > 0")
    x = torch.log(tokens_seen[keep].double())
    return x, y[keep].double()


def _smoothed(
    tokens_seen: Tensor, y: Tensor, bandwidth: float, n_grid: int, after_tokens: float = 0.0
) -> tuple[Tensor, Tensor, Tensor]:
    """``(grid, value, slope)``: ``y`` smoothed over ln(tokens) on an even grid of ln(tokens)
    from the first snapshot (or ``after_tokens``) to the last; slope is ``dy/d ln(tokens)``."""
    x, y = _log_tokens(tokens_seen, y)
    start = max(float(x.min()), math.log(after_tokens) if after_tokens > 0 else -math.inf)
    grid = torch.linspace(start, float(x.max()), n_grid, dtype=torch.float64)
    value, slope = local_linear(x, y, grid, bandwidth, MIN_NEIGHBOURS)
    return grid, value, slope


# The slowest fall of the smoothed ICL score (nats per e-fold of training tokens) that counts as a
# phase change (:func:`phase_change_window`'s ``min_peak_rate``; the book's decisions log has its history).
MIN_PEAK_RATE = 0.15


def peak_icl_rate(tokens_seen: Float[Tensor, "snapshot"], icl: Float[Tensor, "snapshot"], bandwidth: float = 0.2) -> float:
    """The fastest improvement of the smoothed ICL score, ``max(-dICL/d ln tokens)`` in nats per
    e-fold of training tokens (smoothed as in :func:`phase_change_window`)."""
    return float(-_smoothed(tokens_seen, icl, bandwidth, 512)[2].min())


def phase_change_window(
    tokens_seen: Float[Tensor, "snapshot"],
    icl: Float[Tensor, "snapshot"],
    fraction: float = 0.3,
    bandwidth: float = 0.2,
    min_drop: float = 0.05,
    min_peak_rate: float = MIN_PEAK_RATE,
    n_grid: int = 512,
) -> PhaseWindow | None:
    """The phase-change window, found from the ICL-score curve (paper §Argument 1: "selected
    based on the derivative of the in-context score"). None if there is none.

    Rule:
      1. Smooth the ICL score over ln(tokens) with :func:`local_linear` (``bandwidth`` 0.2 in
         ln units, i.e. a ±22% change in training tokens: wide enough to average a few
         noisy snapshots, narrow against a change that takes a doubling of training) and
         take its rate of improvement ``r = -dICL/d ln(tokens)`` on ``n_grid`` points.
      2. The window is the contiguous stretch around the peak of ``r`` where
         ``r >= fraction * peak`` (``fraction`` 0.3: for a logistic step in ln(tokens) the
         window then holds about 80% of the step).
      3. It is a phase change only if it is **large** and **abrupt**: the smoothed ICL falls by
         at least ``min_drop`` nats inside it (0.05: the paper's small models gain ~0.25 nats
         in theirs, and our evaluation noise is a few hundredths), and its peak rate reaches
         ``min_peak_rate`` nats per e-fold of training tokens (0.15: the paper's window gains
         ~0.25 nats over a doubling, ~0.36 per e-fold; the public 2-layer reference, one of the
         slowest, averages ~0.16 per e-fold over its whole transition). It separates the slow
         drift of a one-layer model's ICL score, with no induction head, from the phase changes
         (:func:`peak_icl_rate`; the Argument 1 chapter prints every model's). Why 0.15 and
         not 0.1: the decisions log, ``chapters/08_decisions.md``.

    Returns the window in training tokens and the position of the peak rate.
    """
    grid, value, slope = _smoothed(tokens_seen, icl, bandwidth, n_grid)
    rate = -slope
    peak = int(rate.argmax())
    if rate[peak] <= 0:
        return None
    above = rate >= fraction * rate[peak]
    lo, hi = peak, peak
    while lo > 0 and above[lo - 1]:
        lo -= 1
    while hi < n_grid - 1 and above[hi + 1]:
        hi += 1
    drop = float(value[lo] - value[hi])
    if drop < min_drop or float(rate[peak]) < min_peak_rate:
        return None
    at = grid.exp()  # the grid's ends are the first and last snapshots: exact, not exp(log(.))
    sampled = tokens_seen[tokens_seen > 0].double()
    at[0], at[-1] = sampled.min(), sampled.max()
    return PhaseWindow(float(at[lo]), float(at[hi]), float(at[peak]))


def ended_phase_change(
    tokens_seen: Float[Tensor, "snapshot"], icl: Float[Tensor, "snapshot"], margin: float = 0.1
) -> PhaseWindow | None:
    """The phase-change window of a run still in training, once it has ended: the window that
    :func:`phase_change_window` finds on the snapshots so far, if the last snapshot lies more than
    ``margin`` past its end in ln(training tokens) (0.1: about 10% more tokens); else None.

    Read online, the window's end sits later than on the finished run (the smoothing has no
    snapshots beyond the last one): on the committed small zoo, attn-only-2l's online stop comes
    at 10.0M tokens with a window of 1.1M-8.3M, against 1.2M-6.1M on the whole run. Margins from
    0 to 0.1 stop at the same snapshot there; the live chapter uses this rule to stop training."""
    window = phase_change_window(tokens_seen, icl)
    if window is None or math.log(float(tokens_seen[-1])) - math.log(window.end) <= margin:
        return None
    return window


def snapshots_around(tokens_seen: Float[Tensor, "snapshot"], window: PhaseWindow) -> tuple[int, int]:
    """Indices of the snapshots that bracket a window: the last one at or before its start (the
    first snapshot if none) and the first one at or after its end (the last snapshot if none).
    "Before" and "after" the phase change always mean these two snapshots."""
    t = tokens_seen.double()
    before = torch.nonzero(t <= window.start)
    after = torch.nonzero(t >= window.end)
    return (int(before[-1]) if len(before) else 0), (int(after[0]) if len(after) else len(t) - 1)


def smoothed_over_training(
    tokens_seen: Float[Tensor, "snapshot"], values: Float[Tensor, "snapshot"], at: list[float], bandwidth: float = 0.2
) -> Float[Tensor, "n"]:
    """A curve over training smoothed over ln(tokens) as in :func:`phase_change_window`, read at
    the training-token counts ``at``. Single snapshots of our small models are noisy (at batch 8
    the model itself wanders by a few hundredths of a nat between snapshots), so point readings
    of a curve (the ICL score before a window, say) use this."""
    x, y = _log_tokens(tokens_seen, values)
    grid = torch.tensor([math.log(a) for a in at], dtype=torch.float64)
    return local_linear(x, y, grid, bandwidth, MIN_NEIGHBOURS)[0]


def share_in_window(
    tokens_seen: Float[Tensor, "snapshot"],
    values: Float[Tensor, "snapshot"],
    window: PhaseWindow | tuple[float, float],
    bandwidth: float = 0.2,
) -> float:
    """Fraction of a quantity's final value that forms inside ``window``:
    ``(v(end) - v(start)) / v(final)`` on the curve smoothed as in :func:`phase_change_window`
    (same ``bandwidth``), ``v(final)`` read at the last snapshot of the smoothed curve.

    For the ICL score this is the paper's "more than 75% of the final ICL forms inside the
    window" (:func:`icl_share_in_window`). For an induction head's prefix-matching score
    it measures the other half of the co-occurrence claim, that the head forms in that same
    window, without a fixed threshold: the small zoo's heads level off between about 0.5 and 0.8, so a
    fixed score such as 0.5 can sit at the end of one head's rise and the middle of another's.
    """
    start, end, final = _readings_at_window(tokens_seen, values, window, bandwidth)
    if final == 0:
        raise ValueError("the final value is 0: there is nothing to attribute to the window")
    return (end - start) / final


def _readings_at_window(
    tokens_seen: Tensor, values: Tensor, window: PhaseWindow | tuple[float, float], bandwidth: float
) -> tuple[float, float, float]:
    """The smoothed curve at the window's start, its end and the last snapshot."""
    at = [window[0], window[1], float(tokens_seen.max())]
    start, end, final = smoothed_over_training(tokens_seen, values, at, bandwidth).tolist()
    return start, end, final


def icl_share_in_window(
    tokens_seen: Float[Tensor, "snapshot"],
    icl: Float[Tensor, "snapshot"],
    window: PhaseWindow | tuple[float, float],
    bandwidth: float = 0.2,
) -> float:
    """Fraction of the final ICL that forms inside ``window`` (paper §Argument 1: "more than
    75%").

    ``(ICL(start) - ICL(end)) / -ICL(final)`` (:func:`share_in_window`). The
    denominator is the final ICL score itself, i.e. the ICL gained from zero (an untrained
    model predicts every position alike and has ICL 0).
    """
    start, end, final = _readings_at_window(tokens_seen, icl, window, bandwidth)
    if final >= 0:
        raise ValueError(f"the final ICL score is {final:.3f} >= 0: there is no ICL to attribute")
    return (end - start) / final


def loss_bump(
    tokens_seen: Float[Tensor, "snapshot"],
    loss: Float[Tensor, "snapshot"],
    min_excess: float = 0.02,
    bandwidth: float = 0.2,
    after_tokens: float = 0.0,
    n_grid: int = 512,
) -> tuple[float, float] | None:
    """The loss bump: the stretch of training where the loss curve is **not convex** (paper
    §Argument 1, "loss curves diverge"). None if the curve is convex throughout.

    Convexity is judged against training tokens on a *linear* axis, as in the paper's loss
    plot: a convex decreasing curve gets monotonically less steep. We smooth the loss over
    ln(tokens) (:func:`local_linear`, ``bandwidth`` as in :func:`phase_change_window`), take its
    steepness ``s = -dLoss/dtokens = -(dLoss/d ln tokens) / tokens`` and find the stretches
    where ``s`` *increases*. From a point with steepness ``s_a`` a convex curve can fall by at
    most ``s_a * (t_b - t_a)`` until ``t_b``; the **excess** fall beyond that (in nats) measures
    how far the curve is from convex. Noise tolerance: a stretch counts only if its excess
    reaches ``min_excess`` (0.02 nats, a few times the snapshot-to-snapshot noise of the mean
    evaluation loss); the one with the largest excess is returned, as ``(start, end)`` in
    tokens.

    Pass a smooth loss curve: the evaluation loss averaged over all positions is much less
    noisy than the one-token-per-example loss. Learning-rate warm-up also makes the early curve
    non-convex; pass ``after_tokens`` (e.g. the tokens of the warm-up) to look only after it.
    """
    grid, value, slope = _smoothed(tokens_seen, loss, bandwidth, n_grid, after_tokens)
    t = grid.exp()
    steep = -slope / t
    rising = steep[1:] > steep[:-1]
    best, best_excess = None, min_excess
    i = 0
    while i < n_grid - 1:
        if not rising[i]:
            i += 1
            continue
        j = i + 1  # the stretch runs over grid points i..j while the steepness keeps rising
        while j < n_grid - 1 and rising[j]:
            j += 1
        excess = float(value[i] - value[j] - steep[i].clamp_min(0) * (t[j] - t[i]))
        if excess >= best_excess:
            best, best_excess = (float(t[i]), float(t[j])), excess
        i = j
    return best
