"""Known-answer tests of the measurements across model sizes and of the onset-law fit
(measure/scaling.py): synthetic curves whose crossing, share or exponent is known."""

import math

import pytest
import torch

from induction_heads.measure import scaling
from induction_heads.measure.heads import THRESHOLDS

torch.set_num_threads(1)
TOKENS = torch.logspace(5, 8, 90, dtype=torch.float64)
X = TOKENS.log()


def test_read_at_tokens_is_exact_at_snapshots_and_linear_in_log_tokens_between():
    values = torch.stack([X, 2 * X], -1)  # [S, 2]: linear in ln(tokens), so interpolation is exact
    assert scaling.read_at_tokens(TOKENS, values, float(TOKENS[10])).tolist() == pytest.approx([float(X[10]), 2 * float(X[10])])
    mid = math.exp(0.5 * (X[10] + X[11]))
    assert scaling.read_at_tokens(TOKENS, values, mid).tolist() == pytest.approx([math.log(mid), 2 * math.log(mid)])
    with pytest.raises(ValueError, match="outside the snapshots"):
        scaling.read_at_tokens(TOKENS, values, 1e9)


def test_advantage_share_known_answers():
    n = 127
    index = torch.arange(1, n + 1, dtype=torch.float64)
    flat = torch.full((n,), 0.3)  # a fixed lead from the first token: all of it by index 10
    assert scaling.advantage_share_by_index(flat) == pytest.approx(1.0)
    growing = index.log()  # a lead that grows like ln(index): ln(10) / ln(n) of it by index 10
    share = scaling.advantage_share_by_index(growing, halfwidth=0)
    assert share == pytest.approx(math.log(10) / math.log(n), rel=1e-9)
    assert scaling.advantage_share_by_index(growing) == pytest.approx(share, rel=0.03)  # windows average ~the same
    small, large = torch.full((n,), 4.0), torch.full((n,), 3.5)
    assert scaling.advantage_by_position(small, large).tolist() == pytest.approx([0.5] * n)
    with pytest.raises(ValueError, match="no lead"):
        scaling.advantage_share_by_index(-flat)


def test_loss_rates_cross_where_the_synthetic_order_switches():
    """Model a improves at 0.3 nats per e-fold until 10^6.5 tokens, then at 0.05; model b at a
    steady 0.15. Their order switches at 10^6.5 (within the smoothing's reach)."""
    knee = 6.5 * math.log(10)
    loss_a = 6 - 0.3 * X.clamp(max=knee) - 0.05 * (X - knee).clamp(min=0)
    loss_b = 6 - 0.15 * X
    rates = scaling.loss_rates(TOKENS, loss_a, TOKENS, loss_b)
    crossings = scaling.rate_crossings(rates)
    assert len(crossings) == 1
    assert math.log(crossings[0]) == pytest.approx(knee, abs=0.1)
    assert scaling.mean_rate_difference(rates, 1e5, 1e6) == pytest.approx(0.15, abs=0.01)
    assert scaling.mean_rate_difference(rates, 1e7, 1e8) == pytest.approx(-0.10, abs=0.01)
    assert math.isnan(scaling.mean_rate_difference(rates, 1e9, 1e10))
    same = scaling.loss_rates(TOKENS, loss_b, TOKENS, loss_b)
    assert scaling.rate_crossings(same) == []


def test_loss_rates_use_only_the_shared_stretch():
    late = TOKENS[TOKENS > 1e6]
    rates = scaling.loss_rates(TOKENS, -X, late, -late.log())
    assert float(rates.tokens_seen[0]) == pytest.approx(float(late[0]))
    assert rates.rate_a.tolist() == pytest.approx([1.0] * len(rates.tokens_seen), abs=1e-6)


def test_induction_heads_by_layer_counts_heads_that_prefix_match_and_copy():
    pm = torch.tensor([[0.9, 0.0], [0.5, 0.6], [0.1, 0.2]])
    cp = torch.tensor([[-0.5, -0.5], [-0.5, -0.95], [-0.5, -0.5]])  # 1.1 prefix-matches but does not copy
    assert scaling.induction_heads_by_layer(pm, cp) == [1, 1, 0]


def test_share_before_last_layer():
    assert scaling.share_before_last_layer([0, 0, 3]) == 0.0  # the attention-only picture
    assert scaling.share_before_last_layer([0, 1, 2, 1]) == pytest.approx(0.75)  # mostly earlier
    assert math.isnan(scaling.share_before_last_layer([0, 0]))  # no induction head: no share


def test_prefix_copying_contrast():
    pm = torch.tensor([[0.8, 0.05], [0.4, 0.01]])
    cp = torch.tensor([[-0.4, -0.9], [-0.6, -0.8]])
    assert scaling.prefix_copying_contrast(pm, cp) == pytest.approx((-0.5, -0.85))
    assert math.isnan(scaling.prefix_copying_contrast(pm * 0, cp)[0])
    assert THRESHOLDS.prefix_matching == pytest.approx(0.3)


def test_path_turn_degrees():
    straight = torch.tensor([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0], [3.0, 0.0]])
    assert scaling.path_turn_degrees(straight, 1, 2) == pytest.approx(0.0, abs=1e-6)
    corner = torch.tensor([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [1.0, 2.0]])
    assert scaling.path_turn_degrees(corner, 1, 2) == pytest.approx(90.0)
    back = torch.tensor([[0.0, 0.0], [2.0, 0.0], [1.0, 0.0], [0.0, 0.0]])
    assert scaling.path_turn_degrees(back, 1, 2) == pytest.approx(180.0)


def test_prediction_interval_known_answer():
    lo, hi = scaling.prediction_interval([1.0, 2.0, 3.0])  # mean 2, sd 1, t(0.975, 2) = 4.303
    half = 4.303 * math.sqrt(1 + 1 / 3)
    assert (lo, hi) == pytest.approx((2 - half, 2 + half))
    with pytest.raises(ValueError):
        scaling.prediction_interval([1.0])


def test_power_law_recovers_a_known_exponent():
    bc = [8 * 32, 8 * 64, 8 * 128, 32 * 32, 32 * 64, 32 * 128]
    exact = scaling.fit_power_law(bc, [scaling.onset_law_tokens(x) for x in bc])
    assert exact.exponent == pytest.approx(0.5, abs=1e-9)
    assert exact.log10_prefactor == pytest.approx(5.7, abs=1e-9)
    assert exact.exponent_se == pytest.approx(0.0, abs=1e-9)
    g = torch.Generator().manual_seed(0)
    noisy_x = bc * 3
    noise = 10 ** (0.1 * torch.randn(len(noisy_x), generator=g, dtype=torch.float64))
    fit = scaling.fit_power_law(noisy_x, [x**0.8 * 1e3 * float(e) for x, e in zip(noisy_x, noise)])
    assert fit.n_points == 18
    assert abs(fit.exponent - 0.8) < 3 * fit.exponent_se
    assert fit.exponent_interval[0] < 0.8 < fit.exponent_interval[1]
    assert fit.exponent_interval[0] > 0.5  # the data tell 0.8 from the published 0.5


def test_power_law_needs_two_distinct_x():
    with pytest.raises(ValueError, match="two distinct x"):
        scaling.fit_power_law([1024, 1024, 1024], [1.2e6, 5.2e6, 5.6e6])
    two = scaling.fit_power_law([256, 1024], [1e6, 2e6])
    assert two.exponent == pytest.approx(0.5)
    assert math.isnan(two.exponent_se) and math.isnan(two.exponent_interval[0])


def test_onset_law_tokens_at_our_point():
    assert scaling.onset_law_tokens(8 * 128) == pytest.approx(10**5.7 * 32)


def test_advantage_over_context_indices():
    adv = torch.arange(1.0, 21.0)  # the advantage at context index i is i
    assert scaling.advantage_over(adv, 1, 5) == pytest.approx(3.0)
    assert scaling.advantage_over(adv, 8, 12) == pytest.approx(10.0)
    assert scaling.advantage_over(adv, -5, -1) == pytest.approx(18.0)
