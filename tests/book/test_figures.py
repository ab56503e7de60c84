"""Figures of the Argument 2 chapter's interventions: each model beside its control."""

import matplotlib.pyplot as plt
import torch

from induction_heads.book.figures import loss_heatmap_pairs
from induction_heads.measure.phase import PhaseWindow

S = 8
TOKENS = torch.cat([torch.zeros(1), torch.logspace(3, 6, S - 1)])


def run(loss: float) -> dict[str, torch.Tensor]:
    lbp = torch.full((S, 15), loss)
    lbp[0] = 1.0  # the step-0 snapshot is not drawn (tokens 0 on a log axis) and must not set the scale
    return {"tokens": TOKENS, "loss_by_position": lbp}


def test_loss_heatmap_pairs_draw_each_model_beside_its_control_on_one_scale():
    a, b = run(2.0), run(3.0)
    fig = loss_heatmap_pairs({"x-knockout": a, "x": b}, {"x": PhaseWindow(1e4, 1e5, 3e4)}, [("x-knockout", "x")])
    panels = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in panels] == ["x-knockout", "x"]
    limits = {panel.collections[0].get_clim() for panel in panels}
    assert limits == {(2.0, 3.0)}  # one colour scale across the pair
    assert len(panels[1].get_lines()) == 2 and not panels[0].get_lines()  # the window only where it exists
    plt.close("all")
