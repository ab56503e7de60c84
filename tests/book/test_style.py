"""One colour per head class on every page: the ablation figure and the mechanism chapter's
figures take their colours from book.figures.style."""

import matplotlib.pyplot as plt
import torch
from matplotlib.colors import to_hex

from induction_heads.book.figures import argument5 as cf
from induction_heads.book import figures
from induction_heads.book.figures.style import HEAD_CLASS_COLORS
from induction_heads.measure.phase import PhaseWindow

INDUCTION = to_hex(HEAD_CLASS_COLORS["induction"])


def _legend_colors(fig) -> dict[str, str]:
    """Label -> colour of every entry of the figure's legends (figure-level and per panel)."""
    legends = list(fig.legends) + [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None]
    return {t.get_text(): to_hex(h.get_color()) for lg in legends for t, h in zip(lg.get_texts(), lg.legend_handles)
            if hasattr(h, "get_color")}


def test_induction_heads_have_one_colour_in_every_figure():
    S, L, H = 6, 2, 2
    tokens = torch.cat([torch.zeros(1), torch.logspace(3, 6, S - 1)])
    classes = ["previous-token", "other", "induction", "other"]
    runs = {"m": {"tokens": tokens, "icl_score": torch.linspace(0, -1, S)}}
    grid = figures.ablation_grid(runs, {"m": PhaseWindow(1e4, 1e5, 3e4)}, {"m": torch.randn(S, L, H)},
                                 {"m": classes}, "ΔICL")
    curves = cf.circuit_curves(tokens, torch.rand(S, L, H), torch.randn(S, L, H), classes)
    assert _legend_colors(grid)["induction head"] == INDUCTION
    assert _legend_colors(curves)["induction head"] == INDUCTION
    plt.close("all")


def test_one_palette_gives_each_class_its_own_colour():
    from induction_heads.book.figures import palette, style

    # the classes a figure draws together are pairwise distinct, the ICL line apart from every head class
    together = {"ICL score": palette.ICL_COLOR, "window": palette.WINDOW_COLOR,
                **{f"{k} head": c for k, c in palette.HEAD_CLASS_COLORS.items()}}
    names = list(together)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            assert palette.color_distance(together[a], together[b]) >= 0.25, (a, b)
    tokens = list(palette.TOKEN_CLASS_COLORS.values())
    assert len({to_hex(c) for c in tokens}) == len(tokens)
    assert palette.color_distance(palette.REPEAT_COLOR, palette.HEAD_CLASS_COLORS["induction"]) >= 0.25
    assert len({to_hex(c) for c in palette.DEPTH_COLORS.values()}) == len(palette.DEPTH_COLORS)
    # style re-exports the palette (one definition), and the figure modules use it
    assert style.ICL_COLOR is palette.ICL_COLOR and style.HEAD_CLASS_COLORS is palette.HEAD_CLASS_COLORS
    from induction_heads.book.figures import argument3, methods

    assert argument3.CLASS_COLORS is palette.TOKEN_CLASS_COLORS and methods.RECIPE_COLORS is palette.RECIPE_COLORS
