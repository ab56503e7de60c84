"""Bootstrap intervals: known answers (coverage of a known mean, zero width on a constant,
paired resampling of a ratio, a band that resamples whole curves)."""

import pytest
import torch

from induction_heads.measure import intervals
from induction_heads.measure.intervals import Interval, bootstrap, bootstrap_band, bootstrap_ci, seed_spread


def test_constant_input_gives_a_zero_width_interval():
    assert bootstrap_ci(torch.full((20,), 0.3)) == pytest.approx((0.3, 0.3, 0.3))
    assert bootstrap(torch.full((9,), 2.0), lambda v: v.mean()) == pytest.approx((2.0, 2.0, 2.0))
    mean, lo, hi = bootstrap_band(torch.full((5, 12), -0.4))
    assert torch.allclose(lo, hi) and torch.allclose(mean, lo)


def test_interval_of_a_normal_mean_is_the_normal_interval_and_deterministic():
    v = torch.randn(400, generator=torch.Generator().manual_seed(0))
    mean, lo, hi = bootstrap_ci(v, seed=1)
    assert lo < mean < hi and hi - lo == pytest.approx(2 * 1.96 / 20, rel=0.2)
    assert bootstrap_ci(v, seed=1) == (mean, lo, hi)
    general = bootstrap(v, lambda x: x.mean(), n_resamples=500, seed=1)
    assert general.value == pytest.approx(mean) and general.hi - general.lo == pytest.approx(hi - lo, rel=0.2)


def test_coverage_is_near_the_nominal_rate():
    """In a simulation with a known mean (exponential samples, mean 1), the 95% interval covers
    the true mean about 95% of the time (the percentile bootstrap runs a little under nominal on
    skewed data at n = 40; the band allows for 200 trials' binomial noise)."""
    g = torch.Generator().manual_seed(7)
    trials, covered = 200, 0
    for t in range(trials):
        x = -torch.log(torch.rand(40, generator=g, dtype=torch.double))
        iv = bootstrap_ci(x, n_boot=1000, seed=t)
        covered += iv.lo <= 1.0 <= iv.hi
    assert 0.87 <= covered / trials <= 0.99


def test_a_ratio_resamples_its_rows_together():
    """The fraction removed ``delta / clean`` with numerator and denominator exactly
    proportional is the same on every resample: a paired bootstrap gives zero width."""
    clean = torch.rand(30, generator=torch.Generator().manual_seed(1)) + 0.5
    delta = 0.8 * clean
    iv = bootstrap([delta, clean], lambda d, c: d.mean() / c.mean())
    assert iv == pytest.approx((0.8, 0.8, 0.8))
    with pytest.raises(ValueError, match="same number of rows"):
        bootstrap([delta, clean[:5]], lambda d, c: d.mean() / c.mean())


def test_band_resamples_whole_curves():
    """Two snapshots that differ by a constant per sequence: the band keeps the difference
    exactly, which independent intervals at each snapshot would not."""
    base = torch.randn(50, generator=torch.Generator().manual_seed(3))
    curve = torch.stack([base, base + 1.0])
    mean, lo, hi = bootstrap_band(curve)
    assert torch.allclose(lo[1] - lo[0], torch.tensor(1.0, dtype=torch.double))
    assert torch.allclose(hi[1] - hi[0], torch.tensor(1.0, dtype=torch.double))
    assert (lo < mean).all() and (mean < hi).all()


def test_interval_reading_and_seed_spread():
    iv = Interval(-0.85, -0.87, -0.83)
    assert str(iv) == "-0.85 [-0.87, -0.83]" and iv.format(".1f") == "-0.8 [-0.9, -0.8]"
    assert iv.excludes(0.0) and not iv.excludes(-0.86)
    assert iv.separated_below(Interval(-0.5, -0.6, -0.4)) and not iv.separated_below(Interval(-0.86, -0.88, -0.8))
    assert Interval(0.8, 0.71, 0.9).above(0.7) and not Interval(0.8, 0.7, 0.9).above(0.7)
    s = seed_spread([1.22, 5.82, 4.24])
    assert (s.median, s.lo, s.hi, s.n) == (4.24, 1.22, 5.82, 3)
    assert seed_spread([1.0, 3.0]).median == 2.0
    assert s.format(".1f") == "4.2 (1.2 to 5.8, 3 seeds)"
    assert seed_spread([1e6, 2e6, 4e6]).format(".2f", 1e6, "M") == "2.00M (1.00M to 4.00M, 3 seeds)"
    with pytest.raises(ValueError, match="at least one sample"):
        bootstrap_ci(torch.tensor([]))
    assert intervals.N_RESAMPLES == 2000 and intervals.LEVEL == 0.95
