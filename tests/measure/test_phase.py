"""Known-answer tests of the measurements over training (phase.py).

Training curves are synthetic, sampled like the small size's snapshots (40 log-spaced steps
over 1..30,000 plus 60 evenly spaced in 3,000..21,000, 1,024 tokens per step), with Gaussian
noise of 0.015 nats on the ICL score (about what 256 evaluation sequences give).
"""

import math

import pytest
import torch

from induction_heads.measure.phase import (
    share_in_window,
    icl_share_in_window,
    local_linear,
    loss_bump,
    loss_by_context_index,
    loss_derivative_by_log_index,
    per_token_loss_pca,
    per_token_loss_vector,
    PhaseWindow,
    ended_phase_change,
    phase_change_window,
    snapshots_around,
)

torch.set_num_threads(1)
STEPS = torch.cat([torch.logspace(0, math.log10(30_000), 40), torch.linspace(3_000, 21_000, 60)]).round().unique()
TOKENS = STEPS * 1024
X = TOKENS.log()
ONSET = 8_000 * 1024  # centre of the synthetic phase change
SEEDS = range(8)


def noise(seed, scale=0.015):
    return scale * torch.randn(len(X), generator=torch.Generator().manual_seed(seed))


def two_layer_icl(seed):
    """-0.3 nats gained in a logistic step over ln(tokens) (scale 0.12, i.e. most of it within
    a doubling of training), on top of -0.05 from early training."""
    return -0.05 - 0.3 * torch.sigmoid((X - math.log(ONSET)) / 0.12) + noise(seed)


def test_local_linear_is_exact_on_lines():
    x = torch.linspace(0, 3, 20)
    grid = torch.linspace(0, 3, 7)
    value, slope = local_linear(x, 2 - 0.5 * x, grid, bandwidth=0.3, min_neighbours=5)
    assert torch.allclose(value, 2 - 0.5 * grid.double()) and torch.allclose(slope, torch.full_like(slope, -0.5))


def test_loss_by_index_and_log_derivative():
    per_token = torch.rand(3, 10, 127)  # snapshot, example, position
    assert torch.allclose(loss_by_context_index(per_token), per_token.mean(1))
    # loss = a - b ln(context index), context index = position + 1: the derivative is -b
    loss = 5 - torch.tensor([[0.2], [0.7]]) * torch.log(torch.arange(1, 128.0))
    d = loss_derivative_by_log_index(loss)
    assert torch.allclose(d, torch.tensor([[-0.2], [-0.7]]).expand(2, 127), atol=1e-4)


def test_per_token_loss_vector():
    losses = torch.arange(24.0).view(2, 3, 4)  # snapshot, example, position
    positions = torch.tensor([0, 3, 1])
    assert per_token_loss_vector(losses, positions).tolist() == [[0, 7, 9], [12, 19, 21]]


def test_joint_pca_recovers_known_directions():
    """In a 40-D loss space model a moves along u by 4s and model b along w by s, with
    s = -1..1: jointly centred, the u and w coordinates are uncorrelated, so PC1 = u (variance
    16x larger), PC2 = w, the two explain everything, and the trajectories are the
    coordinates."""
    g = torch.Generator().manual_seed(0)
    u, w = torch.linalg.qr(torch.randn(40, 2, generator=g))[0].T
    base = torch.randn(40, generator=g)
    s = torch.linspace(-1, 1, 6)[:, None]
    a, b = base + 4 * s * u, base + s * w
    pca = per_token_loss_pca({"a": a, "b": b})
    assert pca.explained_variance_ratio.tolist() == pytest.approx([16 / 17, 1 / 17], abs=1e-5)
    sign_u, sign_w = torch.sign(pca.components[0] @ u), torch.sign(pca.components[1] @ w)
    assert torch.allclose(pca.components, torch.stack([sign_u * u, sign_w * w]), atol=1e-5)
    assert torch.allclose(pca.mean, base, atol=1e-6)
    assert torch.allclose(pca.trajectories["a"], torch.cat([sign_u * 4 * s, 0 * s], 1), atol=1e-5)
    assert torch.allclose(pca.trajectories["b"], torch.cat([0 * s, sign_w * s], 1), atol=1e-5)
    # sign convention: each component's largest loading is positive
    assert (pca.components.gather(1, pca.components.abs().argmax(1, keepdim=True)) > 0).all()


@pytest.mark.parametrize("seed", SEEDS)
def test_phase_change_window_finds_a_sharp_step(seed):
    icl = two_layer_icl(seed)
    window = phase_change_window(TOKENS, icl)
    assert window is not None
    assert window.start < ONSET < window.end and window.end / window.start < 4
    # the threshold at 30% of the peak rate keeps ~84% of a logistic step; here that is about
    # 0.25 of the final 0.35 nats
    assert 0.6 < icl_share_in_window(TOKENS, icl, window) < 0.85


def test_share_in_window_of_a_rising_score():
    """A prefix-matching score that rises from 0.03 to 0.55 in a logistic step over ln(tokens):
    a window from a quarter to four times the step's centre holds the part of the rise between
    sigmoid(-ln 4 / 0.12) and sigmoid(ln 4 / 0.12), i.e. all but ~0.00001 of it, and the score at
    the start (0.03) is not counted: (0.55 - 0.03) / 0.55 = 0.945. A window ending at the centre
    holds half the rise: 0.26 / 0.55 = 0.473."""
    score = 0.03 + 0.52 * torch.sigmoid((X - math.log(ONSET)) / 0.12)
    assert share_in_window(TOKENS, score, (ONSET / 4, ONSET * 4)) == pytest.approx(0.52 / 0.55, abs=0.01)
    assert share_in_window(TOKENS, score, (ONSET / 4, ONSET)) == pytest.approx(0.26 / 0.55, abs=0.01)
    # the ICL fraction is the same measurement on a falling curve
    icl = two_layer_icl(0)
    assert icl_share_in_window(TOKENS, icl, (ONSET / 2, ONSET * 2)) == share_in_window(
        TOKENS, icl, (ONSET / 2, ONSET * 2)
    )
    with pytest.raises(ValueError, match="nothing to attribute"):
        share_in_window(TOKENS, torch.zeros_like(X), (ONSET / 2, ONSET * 2))


def test_a_window_still_open_at_the_end_ends_exactly_at_the_last_snapshot():
    """A phase change still under way when training stops: the window's end is the last
    snapshot's token count exactly, so a crossing measured at that snapshot lies inside it."""
    icl = -0.5 * torch.sigmoid((X - X.max()) / 0.3) + noise(0)
    window = phase_change_window(TOKENS, icl)
    assert window is not None
    assert window.end == float(TOKENS[-1])
    assert window.start < float(TOKENS[-1])


def test_snapshots_around_a_window():
    """The last snapshot at or before the start and the first at or after the end; a window
    reaching past either end of training is clamped to the first or last snapshot."""
    tokens = torch.tensor([0.0, 10.0, 20.0, 30.0, 40.0])
    assert snapshots_around(tokens, PhaseWindow(20.0, 30.0, 25.0)) == (2, 3)
    assert snapshots_around(tokens, PhaseWindow(15.0, 35.0, 25.0)) == (1, 4)
    assert snapshots_around(tokens, PhaseWindow(-5.0, 45.0, 25.0)) == (0, 4)


@pytest.mark.parametrize("seed", SEEDS)
def test_no_phase_change_in_one_layer_like_curves(seed):
    drift = -0.1 * (X - X.min()) / (X.max() - X.min()) + noise(seed)  # slow drift over the run
    early = -0.1 * torch.sigmoid((X - math.log(300 * 1024)) / 0.4) + noise(seed)  # gentle early dip
    flat = -0.1 + noise(seed)
    for icl in (drift, early, flat):
        assert phase_change_window(TOKENS, icl) is None


def loss_curve(seed, bump: bool):
    fast = 7 - 2.0 * torch.sigmoid((X - math.log(500 * 1024)) / 0.5) - 0.2 * (X - X.min()) / (X.max() - X.min())
    if not bump:
        fast = 3 + 4 * torch.exp(-TOKENS / (2_000 * 1024)) + 0.5 * torch.exp(-TOKENS / (20_000 * 1024))
    step = 0.3 * torch.sigmoid((X - math.log(ONSET)) / 0.12) if bump else 0
    return fast - step + noise(seed, 0.003)


@pytest.mark.parametrize("seed", SEEDS)
def test_loss_bump(seed):
    after_warmup = 300 * 1024
    bump = loss_bump(TOKENS, loss_curve(seed, bump=True), after_tokens=after_warmup)
    assert bump is not None and bump[0] < ONSET and bump[1] > ONSET / 2
    assert loss_bump(TOKENS, loss_curve(seed, bump=False), after_tokens=after_warmup) is None


def test_ended_phase_change_online():
    """Read snapshot by snapshot, a sharp step is reported once training has gone past it, with a
    window that contains the step; a one-layer-like drift never is."""
    icl = -0.5 * torch.sigmoid((X - math.log(ONSET)) / 0.12) + noise(0)
    stops = [k for k in range(5, len(TOKENS)) if ended_phase_change(TOKENS[: k + 1], icl[: k + 1]) is not None]
    assert stops and TOKENS[stops[0]] > ONSET
    w = ended_phase_change(TOKENS[: stops[0] + 1], icl[: stops[0] + 1])
    assert w.start < ONSET < w.end < float(TOKENS[stops[0]])
    drift = -0.1 * (X - X.min()) / (X.max() - X.min()) + noise(1)
    assert all(ended_phase_change(TOKENS[: k + 1], drift[: k + 1]) is None for k in range(5, len(TOKENS)))
