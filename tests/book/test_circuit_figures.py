"""The mechanism chapter's helpers (known answers) and figures (smoke tests on synthetic data)."""

import math

import matplotlib.pyplot as plt
import pytest
import torch
from matplotlib.figure import Figure

from induction_heads.book import argument5
from induction_heads.book.figures import argument5 as cf
from induction_heads.measure.phase import PhaseWindow

torch.set_num_threads(1)
nan = math.nan


def test_normalise_by_max_abs_known_answers():
    x = torch.tensor([[1.0, -4.0], [2.0, nan]])
    whole = argument5.normalise_by_max_abs(x)
    assert torch.allclose(whole, torch.tensor([[0.25, -1.0], [0.5, nan]]), equal_nan=True)
    per_column = argument5.normalise_by_max_abs(x, dim=0)
    assert torch.allclose(per_column, torch.tensor([[0.5, -1.0], [1.0, nan]]), equal_nan=True)
    # an all-zero (or all-NaN) slice stays as it is
    z = torch.tensor([[0.0, 3.0], [0.0, -6.0]])
    assert torch.equal(argument5.normalise_by_max_abs(z, dim=0), torch.tensor([[0.0, 0.5], [0.0, -1.0]]))
    assert argument5.normalise_by_max_abs(torch.full((3,), nan)).isnan().all()


def test_corner_entry_known_answers():
    tokens = torch.tensor([0.0, 10, 20, 30, 40])
    ov = torch.full((5,), 0.9)
    # leaves the corner at 20, back for good from 30
    assert argument5.corner_entry(tokens, torch.tensor([-1.0, 1, -1, 1, 1]), ov) == 30.0
    assert argument5.corner_entry(tokens, torch.ones(5), ov) == 0.0  # there from the start
    assert argument5.corner_entry(tokens, torch.tensor([1.0, 1, 1, 1, -1]), ov) is None  # not there at the end
    # copying too weak at the last snapshot but one
    assert argument5.corner_entry(tokens, torch.ones(5), torch.tensor([0.9, 0.9, 0.9, 0.4, 0.9])) == 40.0
    assert argument5.corner_entry(tokens, torch.ones(5), ov, ov_min=0.95) is None


def _scores():
    """[src_layer, src_head, dst_layer, dst_head] for 2 layers x 2 heads; only 0.x -> 1.x defined."""
    s = torch.full((2, 2, 2, 2), nan)
    return {
        "Q": s.clone().index_put_((torch.tensor([0, 0]), torch.tensor([0, 1]), torch.tensor([1, 1]), torch.tensor([0, 0])),
                                  torch.tensor([0.01, 0.05])),
        "K": s.clone().index_put_((torch.tensor([0, 0]), torch.tensor([0, 1]), torch.tensor([1, 1]), torch.tensor([0, 1])),
                                  torch.tensor([0.30, -0.02])),
    }


def test_top_compositions_order_and_filter():
    scores = _scores()
    assert argument5.top_compositions(scores) == [
        ("K", "0.0", "1.0", pytest.approx(0.30)),
        ("Q", "0.1", "1.0", pytest.approx(0.05)),
        ("Q", "0.0", "1.0", pytest.approx(0.01)),
        ("K", "0.1", "1.1", pytest.approx(-0.02)),
    ]
    assert [r[:3] for r in argument5.top_compositions(scores, dst="1.1")] == [("K", "0.1", "1.1")]
    assert len(argument5.top_compositions(scores, k=2)) == 2
    assert argument5.top_compositions(scores, dst="0.0") == []


def _trajectories(S=12, L=2, H=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    tokens = torch.cat([torch.zeros(1), torch.logspace(3, 6, S - 1)])
    ov = torch.tanh(torch.randn(S, L, H, generator=g))
    k = torch.randn(S, L, H, generator=g) * 50
    k[:, 0] = nan  # the first layer has no K-composition trace
    return tokens, ov, k


@pytest.mark.parametrize("window", [None, PhaseWindow(1e4, 1e5, 3e4)])
def test_figures_run_on_synthetic_inputs(window):
    tokens, ov, k = _trajectories()
    classes = ["previous-token", "other", "other", "induction", "other", "induction"]
    figs = [
        cf.circuit_curves(tokens, ov, k, classes, window, title="synthetic"),
        cf.qk_ov_plane(tokens, k[:, 1], ov[:, 1], ["1.0", "1.1", "1.2"], classes[3:], window),
        cf.composition_heatmaps(_scores(), baseline=0.1, title="synthetic"),
        cf.composition_heatmaps(_scores()),
    ]
    for fig in figs:
        assert isinstance(fig, Figure)
        plt.close(fig)


def test_composition_heatmaps_three_layers():
    g = torch.Generator().manual_seed(1)
    s = torch.randn(3, 2, 3, 2, generator=g) * 0.1
    layer = torch.arange(3)
    undefined = ~(layer[:, None] < layer[None, :])[:, None, :, None].expand(3, 2, 3, 2)
    s[undefined] = nan
    fig = cf.composition_heatmaps({m: s for m in "QKV"})
    assert len(fig.axes) == 4  # three heatmaps and their colour bar
    plt.close(fig)


def test_handbuilt_reference_scores():
    """The chapter's reference numbers: an exact previous-token head 0.0 and an exact induction
    head 1.0 (tests/measure/test_metrics.py and tests/measure/test_circuits.py derive each value)."""
    from induction_heads.measure import handbuilt

    ref = handbuilt.reference_scores()
    assert ref["prefix_matching"][1, 0] == pytest.approx(1.0, abs=1e-6)
    assert ref["previous_token"][0, 0] == pytest.approx(1.0, abs=1e-6)
    assert ref["ov_positivity"][1, 0] == pytest.approx(1.0, abs=1e-6)
    assert ref["copying"][1, 0] > 0.5 and (ref["copying"][[0, 0, 1], [0, 1, 1]] == -1).all()
    # weighted by 0.0's previous-token score (1) only: head 0.1 writes nothing head 1.0 reads
    expected = handbuilt.C * math.sqrt(handbuilt.D_HEAD) * handbuilt.V
    assert ref["k_composition_trace"][1, 0].item() == pytest.approx(expected, rel=1e-4)
    assert handbuilt.attention_patterns(handbuilt.handbuilt_bridge(), handbuilt.repeated_tokens(2)).shape == (2, 2, 2, 101, 101)
