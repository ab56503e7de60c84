"""95% intervals: a percentile bootstrap over the samples a number is averaged from.

The paper reports single numbers; its referee asked for error controls. Every number of the book
that is a mean over samples (held-out evaluation sequences for the ICL score, the loss by
context position and an ablation's ICL fraction removed; random-token sequences for prefix
matching, copying and the repeat test; passages for the second copy) gets a percentile bootstrap
interval here: the samples are resampled with replacement, the statistic recomputed on each
resample, and the interval is the ``(1 - level) / 2`` and ``(1 + level) / 2`` quantiles of the
resampled statistics.

What we chose (the decisions log, "Intervals: what the bootstrap resamples"):

- **What is resampled**: the samples the statistic averages over (sequences), never positions
  inside a sequence (they are not independent) and never training snapshots.
- **How many resamples**: 2,000 by default; the quantiles of a 95% interval then move by well
  under a tenth of its width between seeds of the bootstrap.
- **Determinism**: one ``torch.Generator`` seeded by ``seed``; the same input gives the same
  interval on every machine.
- **Curves**: a band over snapshots resamples the *same* sequences at every snapshot (one index
  draw shared by the whole curve), so the band is the curve's, not a stack of independent
  intervals.
- **Ratios** (a fraction removed = ablated change / clean value): numerator and denominator are
  resampled together (:func:`bootstrap`, a statistic of the resampled rows), not as two intervals.
"""

from __future__ import annotations

from typing import Callable, NamedTuple, Sequence

import torch
from jaxtyping import Float
from torch import Tensor

__all__ = ["Interval", "bootstrap", "bootstrap_ci", "paired_difference", "bootstrap_band", "seed_spread", "SeedSpread",
           "N_RESAMPLES", "LEVEL"]

N_RESAMPLES = 2000
LEVEL = 0.95


class Interval(NamedTuple):
    """A value with its interval: ``value`` (the statistic on all samples), ``lo``, ``hi``."""

    value: float
    lo: float
    hi: float

    def __str__(self) -> str:
        return self.format()

    def format(self, spec: str = ".2f") -> str:
        """``value [lo, hi]`` with ``spec`` for each number, e.g. ``-0.85 [-0.87, -0.83]``."""
        return f"{self.value:{spec}} [{self.lo:{spec}}, {self.hi:{spec}}]"

    def excludes(self, x: float) -> bool:
        """True when ``x`` lies outside ``[lo, hi]``."""
        return not (self.lo <= x <= self.hi)

    def above(self, x: float) -> bool:
        """True when the whole interval lies above ``x`` (``lo > x``)."""
        return self.lo > x

    def separated_below(self, other: "Interval") -> bool:
        """True when this interval lies wholly below ``other`` (``hi < other.lo``)."""
        return self.hi < other.lo


def _quantiles(stats: Tensor, level: float) -> tuple[Tensor, Tensor]:
    a = (1 - level) / 2
    q = torch.quantile(stats, torch.tensor([a, 1 - a], dtype=stats.dtype), dim=0)
    return q[0], q[1]


def _indices(n: int, n_resamples: int, seed: int) -> Tensor:
    if n < 1:
        raise ValueError("a bootstrap needs at least one sample")
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, n, (n_resamples, n), generator=g)


def bootstrap(
    samples: Float[Tensor, "n *rest"] | Sequence[Tensor],
    statistic: Callable[..., Tensor],
    n_resamples: int = N_RESAMPLES,
    level: float = LEVEL,
    seed: int = 0,
) -> Interval:
    """The interval of ``statistic(samples)`` (a scalar), resampling the rows (first axis).

    ``samples`` is one tensor or several with the same number of rows, resampled together (the
    rows of a ratio's numerator and denominator stay paired); ``statistic`` takes them in that
    order and returns a scalar tensor.
    """
    parts = [samples] if isinstance(samples, Tensor) else list(samples)
    n = len(parts[0])
    if any(len(p) != n for p in parts):
        raise ValueError(f"samples resampled together need the same number of rows, got {[len(p) for p in parts]}")
    parts = [p.double() for p in parts]
    idx = _indices(n, n_resamples, seed)
    stats = torch.stack([torch.as_tensor(statistic(*(p[i] for p in parts))).double() for i in idx])
    lo, hi = _quantiles(stats, level)
    return Interval(float(statistic(*parts)), float(lo), float(hi))


def bootstrap_ci(values: Float[Tensor, "n"], n_boot: int = N_RESAMPLES, level: float = LEVEL, seed: int = 0) -> Interval:
    """The mean of ``values`` (one per sample) and its percentile bootstrap interval (vectorised
    :func:`bootstrap` of the mean)."""
    v = values.double().flatten()
    means = v[_indices(len(v), n_boot, seed)].mean(1)
    lo, hi = _quantiles(means, level)
    return Interval(float(v.mean()), float(lo), float(hi))


def paired_difference(a: Float[Tensor, "n"], b: Float[Tensor, "n"], n_boot: int = N_RESAMPLES, level: float = LEVEL,
                      seed: int = 0) -> Interval:
    """The mean of ``a - b`` over paired samples (two runs measured on the same samples, e.g. the
    same evaluation sequences) with its percentile bootstrap interval, the pairs resampled together."""
    a, b = torch.as_tensor(a), torch.as_tensor(b)
    if a.shape != b.shape:
        raise ValueError(f"paired samples differ in shape: {tuple(a.shape)} and {tuple(b.shape)}")
    return bootstrap_ci(a.double() - b.double(), n_boot, level, seed)


def bootstrap_band(
    values: Float[Tensor, "snapshot n"], n_resamples: int = N_RESAMPLES, level: float = LEVEL, seed: int = 0
) -> tuple[Float[Tensor, "snapshot"], Float[Tensor, "snapshot"], Float[Tensor, "snapshot"]]:
    """``(mean, lo, hi)`` of a curve of means over snapshots: each resample draws one set of
    sample indices and uses it at every snapshot (the module docstring's "curves")."""
    v = values.double()
    idx = _indices(v.shape[1], n_resamples, seed)  # [r, n]
    means = torch.stack([v[:, i].mean(1) for i in idx])  # [r, snapshot]
    lo, hi = _quantiles(means, level)
    return v.mean(1), lo, hi


class SeedSpread(NamedTuple):
    """A number over the seeds of one model: its median, smallest and largest value, and count."""

    median: float
    lo: float
    hi: float
    n: int

    def format(self, spec: str = ".2f", scale: float = 1.0, unit: str = "") -> str:
        """``median (lo to hi, n seeds)``, each number divided by ``scale`` and followed by
        ``unit`` (``format(".2f", 1e6, "M")`` -> ``2.00M (1.00M to 4.00M, 3 seeds)``)."""
        m, lo, hi = (f"{v / scale:{spec}}{unit}" for v in (self.median, self.lo, self.hi))
        return f"{m} ({lo} to {hi}, {self.n} seeds)"


def seed_spread(values: Sequence[float]) -> SeedSpread:
    """Median and range of one number over seeds (no interval: three seeds are too few for one)."""
    v = torch.tensor([float(x) for x in values], dtype=torch.double)
    if len(v) == 0:
        raise ValueError("no seeds given")
    return SeedSpread(float(v.median()) if len(v) % 2 else float(v.sort().values[len(v) // 2 - 1:len(v) // 2 + 1].mean()),
                      float(v.min()), float(v.max()), len(v))
