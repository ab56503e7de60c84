"""Chapter 01's figures (Methods): the zoo in training, and the two training recipes side by side."""

from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure
from torch import Tensor

from ...engine.zoo import Zoo
from ...measure.phase import PhaseWindow
from .palette import RECIPE_COLORS
from .style import (COLUMN_IN, MAX_LEGEND, bottom_labels, figure_legend, model_styles, panel_grid, tokens_axis,
                    window_edges_handle, zero_line)

__all__ = ["training_curves", "RECIPE_COLORS", "RECIPE_LABELS", "recipe_pairs"]


def training_curves(zoo: Zoo):
    """Training loss and ICL score against tokens seen, one line per run of the zoo. Up to
    :data:`~.style.MAX_LEGEND` runs each has its colour and legend entry; a larger zoo is coloured
    by depth (one legend entry per number of layers), which is the figure's message: the ICL score
    falls below zero for the models with two or more layers."""
    n = len(zoo)
    styles, handles = model_styles(list(zoo))
    fig = Figure(figsize=(COLUMN_IN, 3.2 + 0.17 * int(np.ceil(len(handles) / 4))), layout="constrained")
    ax_loss, ax_icl = fig.subplots(1, 2)
    grouped = n > MAX_LEGEND
    for name, run in zoo.items():
        m = run.trajectory
        tokens = m["tokens"].double()
        ok = torch.isfinite(m["train_loss"]) & (tokens > 0)
        st = styles[name]
        style = dict(color=st["color"], ls=st["ls"], lw=0.9 if grouped else 1.2, alpha=0.8 if grouped else 1.0)
        ax_loss.plot(tokens[ok], m["train_loss"][ok], **style)
        ax_icl.plot(tokens[tokens > 0], m["icl_score"][tokens > 0], **style)
    for ax in (ax_loss, ax_icl):
        tokens_axis(ax)
    ax_loss.set_ylabel("training loss (nats)")
    ax_icl.set_ylabel("ICL score (nats)")
    ax_icl.set_title("ICL score (negative = in-context learning)")
    ax_loss.set_title("training loss")
    zero_line(ax_icl)
    figure_legend(fig, handles, ncol=min(len(handles), 4))
    fig.suptitle(f"The {zoo.size} zoo in training" + (f": {n} runs, coloured by depth" if grouped else ""))
    return fig


# The two training recipes, one colour each wherever they are drawn together (.palette).
RECIPE_LABELS = {"repeat": "repeat recipe (half the sequences open with a window shown twice)",
                 "natural": "natural code only (-natural)"}


def recipe_pairs(runs: Mapping[str, Mapping[str, Tensor]], windows: Mapping[str, PhaseWindow | None],
                 pairs: Sequence[tuple[str, str]], ncols: int | None = None):
    """One panel per model trained on both recipes (``pairs``: ``(natural, repeat)`` names): the
    ICL score of each over training, in the recipe's colour, with its window's start and end as
    dashed lines of the same colour."""
    fig, axes = panel_grid(len(pairs), ncols or min(len(pairs), 3), sharey=True)
    for ax, (natural, repeat) in zip(axes.flat, pairs):
        for recipe, name in (("repeat", repeat), ("natural", natural)):
            m, color = runs[name], RECIPE_COLORS[recipe]
            keep = m["tokens"] > 0
            ax.plot(m["tokens"][keep], m["icl_score"][keep], color=color, lw=1.5)
            w = windows.get(name)
            if w is not None:
                for x in (w.start, w.end):
                    ax.axvline(x, color=color, lw=1.0, ls="--")
        zero_line(ax)
        ax.set_title(repeat)
        tokens_axis(ax)
    bottom_labels(axes, len(pairs), "training tokens")
    for ax in axes[:, 0]:
        ax.set_ylabel("ICL score (nats)")
    figure_legend(fig, [plt.Line2D([], [], color=RECIPE_COLORS[r], lw=1.5, label=RECIPE_LABELS[r]) for r in RECIPE_COLORS]
                  + [window_edges_handle(label="dashed: each run's phase-change window")], ncol=1)
    return fig
