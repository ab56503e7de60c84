"""Chapter 07's figures take their colours from book.figures.style: a rung keeps its colour from figure to
figure, and an induction head is drawn in the one induction colour."""

import matplotlib.pyplot as plt
import torch
from matplotlib.colors import to_hex

from induction_heads.book.figures import argument6 as lf
from induction_heads.book.figures.style import HEAD_CLASS_COLORS, model_color
from induction_heads.measure.phase import PhaseWindow

S = 8
TOKENS = torch.cat([torch.zeros(1), torch.logspace(3, 6, S - 1)])


def run(pm_top: float) -> dict[str, torch.Tensor]:
    pm = torch.zeros(S, 2, 2)
    pm[:, 1, 1] = pm_top
    cp = torch.full((S, 2, 2), -0.9)
    cp[:, 1, 1] = -0.5
    return {"tokens": TOKENS, "icl_score": torch.linspace(0, -0.6, S), "prefix_matching": pm, "copying": cp,
            "previous_token": torch.zeros(S, 2, 2), "loss_by_position": torch.ones(S, 15)}


def test_a_rung_keeps_its_colour_across_figures():
    runs = {"attn-only-1l": run(0.0), "attn-only-2l": run(0.7), "mlp-2l": run(0.7)}
    families = {"attn-only-1l": "attn-only", "attn-only-2l": "attn-only", "mlp-2l": "mlp"}
    colors = lf.rung_colors(list(runs))
    assert colors["mlp-2l"] == model_color(2)
    icl = lf.icl_by_rung(runs, {"mlp-2l": PhaseWindow(1e4, 1e5, 3e4)}, families)
    lines = {line.get_label(): to_hex(line.get_color()) for ax in icl.axes for line in ax.get_lines()}
    assert lines["mlp-2l"] == to_hex(model_color(2))
    adv = lf.advantage_by_position(torch.ones(15), torch.zeros(15), "attn-only-2l", "mlp-2l", 1e6, colors)
    lines = {line.get_label(): to_hex(line.get_color()) for line in adv.axes[0].get_lines() if not line.get_label().startswith("_")}
    assert lines == {"attn-only-2l": to_hex(model_color(1)), "mlp-2l": to_hex(model_color(2))}
    plt.close("all")


def test_induction_heads_have_the_induction_colour():
    fig = lf.prefix_vs_copying({"attn-only-2l": run(0.7)})
    colors = [to_hex(c) for c in fig.axes[0].collections[0].get_facecolors()]
    assert colors[3] == to_hex(HEAD_CLASS_COLORS["induction"])  # head 1.1, the only one that prefix-matches and copies
    assert colors[0] == to_hex(HEAD_CLASS_COLORS["other"])
    plt.close("all")
