"""Figures drawn on hand-made inputs, what they draw counted: the Argument 2 chapter's
interventions (each model beside its control) and the seed curves of chapters 02 and 03."""

import matplotlib.pyplot as plt
import pytest
import torch

from induction_heads.book.argument1 import SeedCurves
from induction_heads.book.figures import loss_heatmap_pairs, seed_curves
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


def seeds(n: int, banded: int = 0) -> SeedCurves:
    """``n`` seeds at -1, -2, ...; the first ``banded`` of them with a band of half a nat either side."""
    curves = -torch.arange(1, n + 1, dtype=torch.float64)[:, None].expand(n, S).clone()
    bands = tuple((c - 0.5, c + 0.5) if i < banded else None for i, c in enumerate(curves))
    names = tuple(f"m-seed{i}" for i in range(n))
    return SeedCurves(TOKENS.double(), curves, curves.quantile(0.5, dim=0), names, bands)


def test_seed_curves_draw_every_seed_faintly_the_median_bold_and_the_bands():
    fig = seed_curves({"attn-only-2l": {"attn-only-2l": seeds(3, banded=2)},
                       "two models": {"attn-only-2l": seeds(3), "smeared-2l": seeds(2)}})
    one, both = [ax for ax in fig.axes if ax.get_title()]
    assert (one.get_title(), both.get_title()) == ("attn-only-2l", "two models")
    # three faint seeds and a bold median, and the zero line
    lines = one.get_lines()
    assert len(lines) == 5 and len(one.collections) == 2  # a band for each of the two seeds that have one
    assert sorted(line.get_linewidth() for line in lines[:4]) == [0.8, 0.8, 0.8, 2.0]
    bold = next(line for line in lines if line.get_linewidth() == 2.0)
    assert list(bold.get_ydata()) == [-2.0] * (S - 1)  # the step-0 snapshot is not drawn on the log axis
    assert one.get_xscale() == "log"
    assert len(both.get_lines()) == 3 + 1 + 2 + 1 + 1 and not both.collections
    colours = {line.get_color() for line in both.get_lines() if line.get_linewidth() == 2.0}
    assert len(colours) == 2  # one colour per model
    first = {line.get_color() for line in one.get_lines() if line.get_linewidth() == 2.0}
    assert first <= colours  # attn-only-2l keeps its colour from panel to panel
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert labels == ["one seed (faint)", "median over seeds (bold)", "95% band over evaluation sequences (one seed)",
                      "attn-only-2l", "smeared-2l"]
    plt.close("all")


def test_seed_curves_without_bands_or_with_one_model_per_panel_say_only_what_is_drawn():
    fig = seed_curves({"a": {"a": seeds(2)}, "b": {"b": seeds(3)}}, ylabel="largest prefix-matching score", ylim=(0, 1))
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert labels == ["one seed (faint)", "median over seeds (bold)"]
    assert fig.axes[0].get_ylim() == (0, 1) and fig.axes[0].get_ylabel() == "largest prefix-matching score"
    plt.close("all")


def test_seed_curves_refuse_an_empty_panel_and_a_single_seed():
    with pytest.raises(ValueError, match="panel 'x' has no model"):
        seed_curves({"x": {}})
    with pytest.raises(ValueError, match="smeared-2l: 1 seed"):
        seed_curves({"x": {"attn-only-2l": seeds(3), "smeared-2l": seeds(1)}})
    plt.close("all")
