"""Argument 6, continuity across model sizes (chapter 07): which trained runs are the ladder's
rungs, which rungs are still missing, and the numbers the chapter compares across them.

A *rung* is a vanilla model of the attention-only or MLP family at some depth and width
(``attn-only-3l``, ``mlp-4l``, ``attn-only-2l-d256``). Rungs are picked by parsing model names
(:func:`induction_heads.engine.config.parse_model_name`), never from a fixed list, so the chapter
takes in every rung that has data as the zoo grows; seeds, variants and the smeared family are
left out (one run per architecture, as in the paper's Model Analysis Table). The measurements
themselves are in :mod:`induction_heads.measure.scaling`.
"""

from __future__ import annotations

import math
from typing import Iterable, Mapping, NamedTuple

from torch import Tensor

from ..engine.config import ONSET_BATCHES, ONSET_VARIANTS, get_size, model_config, parse_model_name
from ..engine.zoo import Zoo
from ..measure.phase import PhaseWindow, smoothed_over_training
from .checks import Verdict, verdict_of

__all__ = [
    "LADDER_FAMILIES",
    "PLANNED_RUNGS",
    "onset_sweep",
    "Rung",
    "rung",
    "ladder",
    "missing_rungs",
    "smallest_and_largest",
    "IclAfter",
    "icl_after_window",
    "log_spread",
    "OnsetPoint",
    "onset_points",
    "missing_onset_points",
    "seeds_of",
    "LAYER_DEVIATIONS",
    "estimated_minutes",
    "ALMOST_ALL",
    "advantage_verdict",
    "crossing_verdict",
    "reported",
]

LADDER_FAMILIES = ("attn-only", "mlp")
# Rungs whose induction heads are measured not to sit where the paper's claim puts them (the
# decisions log, "Argument 6: attn-only-6l's induction heads are not in its last layer"): the
# chapter checks that the claim still fails for them (``book.check_deviation``).
LAYER_DEVIATIONS: frozenset[str] = frozenset({"attn-only-6l"})

PLANNED_RUNGS: tuple[str, ...] = (
    *(f"{family}-{depth}l" for family in LADDER_FAMILIES for depth in (1, 2, 3, 4, 6)),
    "attn-only-2l-d64",
    "attn-only-2l-d256",
)
"""The planned ladder: depths 1-4 and 6 in both families, and widths 64 and 256 beside
the size's own (128 at ``small``) at two layers. Rungs without data are listed by
:func:`missing_rungs`; they train by name with ``make zoo`` once added to the zoo."""


def onset_sweep(size: str) -> tuple[tuple[int, int], ...]:
    """``(batch, context)`` of the onset-law sweep on ``attn-only-2l`` (the onset law's test): the
    size's own batch and the zoo's ``-b<batch>`` variants, at the size's context. Other contexts
    are left out: the recorder's instruments (evaluation set, random-token evaluator, the ICL
    score's positions) are defined on the size's context, so a run at another context would be
    measured with other instruments."""
    p = get_size(size)
    return tuple((b, p.n_ctx) for b in sorted({p.train.batch_size, *ONSET_BATCHES}))


class Rung(NamedTuple):
    """One rung: its run name, family, depth and width (``d_model``)."""

    name: str
    family: str
    n_layers: int
    d_model: int


def rung(size: str, name: str) -> Rung | None:
    """The rung ``name`` stands for in ``size``, or None if it is not a ladder model (another
    family, a variant, a seed other than 0, a recipe change such as ``-natural`` or ``-long``, or a
    name the zoo does not parse)."""
    try:
        n = parse_model_name(name)
    except ValueError:
        return None
    if n.family not in LADDER_FAMILIES or n.variant is not None or n.seed != 0 or n.recipes:
        return None
    return Rung(name, n.family, n.n_layers, n.d_model or get_size(size).d_model)


def ladder(size: str, names: Iterable[str]) -> list[Rung]:
    """The rungs among ``names``, sorted by family, depth and width. Two names for one
    architecture (``attn-only-2l`` and ``attn-only-2l-d128`` at ``small``) count once: the first."""
    seen: dict[tuple[str, int, int], Rung] = {}
    for name in names:
        r = rung(size, name)
        if r is not None:
            seen.setdefault((r.family, r.n_layers, r.d_model), r)
    return sorted(seen.values(), key=lambda r: (LADDER_FAMILIES.index(r.family), r.n_layers, r.d_model))


def missing_rungs(size: str, names: Iterable[str], planned: Iterable[str] = PLANNED_RUNGS) -> list[str]:
    """The planned rungs with no run among ``names`` (same family, depth and width)."""
    have = {(r.family, r.n_layers, r.d_model) for r in ladder(size, names)}
    return [r.name for r in ladder(size, planned) if (r.family, r.n_layers, r.d_model) not in have]


def smallest_and_largest(size: str, rungs: Iterable[Rung]) -> tuple[Rung, Rung] | None:
    """The rungs with the fewest and the most non-embedding parameters (None with fewer than two)."""
    ordered = sorted(rungs, key=lambda r: model_config(size, r.name).non_embedding_params)
    return (ordered[0], ordered[-1]) if len(ordered) > 1 else None


class IclAfter(NamedTuple):
    """A rung's ICL score (smoothed, nats) before its window, at its end and at the last snapshot."""

    before: float
    at_window_end: float
    final: float

    @property
    def growth_after_window(self) -> float:
        """How much more ICL (nats, positive = more) the rung gains after its window ends."""
        return self.at_window_end - self.final


def icl_after_window(metrics: Mapping[str, Tensor], window: PhaseWindow | None) -> IclAfter:
    """The ICL readings of :class:`IclAfter`, on the curve smoothed as the window is found
    (:func:`~induction_heads.measure.phase.smoothed_over_training`); NaN before and at the end
    of a window that does not exist."""
    tokens, icl = metrics["tokens"].double(), metrics["icl_score"].double()
    final = float(smoothed_over_training(tokens, icl, [float(tokens[-1])])[0])
    if window is None:
        return IclAfter(math.nan, math.nan, final)
    before, end = smoothed_over_training(tokens, icl, [window.start, window.end]).tolist()
    return IclAfter(before, end, final)


def log_spread(values: Iterable[float]) -> float:
    """``ln(max / min)``: how many e-folds of training tokens a set of onsets spans (NaN with
    fewer than two)."""
    v = list(values)
    return math.log(max(v) / min(v)) if len(v) > 1 else math.nan


class OnsetPoint(NamedTuple):
    """One run of the onset-law sweep: its tokens per step and the start of its window."""

    name: str
    batch: int
    context: int
    onset_tokens: float | None  # None: no phase-change window

    @property
    def batch_times_context(self) -> int:
        return self.batch * self.context


def onset_points(zoo: Zoo, windows: Mapping[str, PhaseWindow | None]) -> list[OnsetPoint]:
    """Every run of the ``attn-only-2l`` architecture (the size's width; no variant but the
    batch sizes of the sweep, ``-b<batch>``; any seed; the size's recipe) among ``windows``, with the batch size and
    context it was trained with (read from its ``info.json``, not its name) and the start of its
    window: the points the onset law is fitted on."""
    out = []
    for name, w in windows.items():
        try:
            n = parse_model_name(name)
        except ValueError:
            continue
        if ((n.family, n.n_layers, n.d_model) != ("attn-only", 2, None) or n.variant not in (None, *ONSET_VARIANTS)
                or n.recipes):
            continue
        run = zoo[name]
        out.append(OnsetPoint(name, run.train_config.batch_size, run.model_config.n_ctx, None if w is None else w.start))
    return out


def missing_onset_points(points: Iterable[OnsetPoint], sweep: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """The ``(batch, context)`` pairs of the sweep (:func:`onset_sweep`) with no run yet."""
    have = {(p.batch, p.context) for p in points}
    return [bc for bc in sweep if bc not in have]


def seeds_of(name: str, names: Iterable[str]) -> list[str]:
    """The runs among ``names`` that differ from ``name`` only in their seed (``name`` included)."""
    base = parse_model_name(name)._replace(seed=0)
    out = []
    for n in names:
        try:
            if parse_model_name(n)._replace(seed=0) == base:
                out.append(n)
        except ValueError:
            continue
    return out


def estimated_minutes(measured: Mapping[Rung, float], target: Rung) -> float | None:
    """A missing rung's training wall time, extrapolated along depth: a least-squares line of
    minutes against layers through the measured rungs of the same family and width (None with
    fewer than two). The trainer's cost per layer is constant at a fixed width, so a line fits
    the small zoo's three depths to within a minute; another width has no measured point."""
    pts = [(r.n_layers, m) for r, m in measured.items() if (r.family, r.d_model) == (target.family, target.d_model)]
    if len({d for d, _ in pts}) < 2:
        return None
    n = len(pts)
    mx, my = sum(d for d, _ in pts) / n, sum(m for _, m in pts) / n
    slope = sum((d - mx) * (m - my) for d, m in pts) / sum((d - mx) ** 2 for d, _ in pts)
    return my + slope * (target.n_layers - mx)


# "Almost all" of the larger model's advantage by about index 10 (paper, Argument 6): at least
# this share of its end-of-context advantage (scaling.advantage_share_by_index).
ALMOST_ALL = 0.9


def reported(paper: str, ours: str, passed: int, total: int, why: str) -> Verdict:
    """A closing-table row for a comparison the chapter reports but does not assert: the verdict
    from how many of the paper's ``total`` statements our numbers meet, its why prefixed
    "reported, not asserted"."""
    return Verdict(paper, ours, verdict_of(passed, total), f"reported, not asserted: {why}")


def advantage_verdict(better_at: int, n_indices: int, share_by_10: float) -> Verdict:
    """The paper: the larger model is better at every context index, with almost all of its
    advantage (:data:`ALMOST_ALL`) in place by about index 10. Two statements; NaN share (no
    advantage at the end of the context) meets neither."""
    ok = [better_at == n_indices, share_by_10 >= ALMOST_ALL]
    return reported("The larger model is better at every index, almost all of its lead by about index 10",
                    f"better at {better_at} of {n_indices} indices; share of the lead by index 10 {share_by_10:.2f}",
                    sum(ok), 2, "both as the paper" if all(ok) else
                    "; ".join(t for t, good in zip(("not better at every index", f"share by index 10 below {ALMOST_ALL}"), ok)
                              if not good))


def crossing_verdict(before: float, after: float) -> Verdict:
    """The paper: the smaller model's loss improves faster before the phase change and slower
    after it (``before`` > 0, ``after`` < 0: the smaller minus the larger model's rate, nats per
    e-fold of training tokens, :func:`induction_heads.measure.scaling.mean_rate_difference`)."""
    ok = [before > 0, after < 0]
    return reported("The smaller model's loss improves faster before the phase change, slower after",
                    f"smaller minus larger rate: {before:+.3f} before both windows, {after:+.3f} after",
                    sum(ok), 2, "both as the paper" if all(ok) else
                    "; ".join(t for t, good in zip(("before the windows the larger model is the faster",
                                                    "after the windows the smaller model is the faster"), ok) if not good))
