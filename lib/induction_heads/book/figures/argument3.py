"""Chapter 04's figures (Argument 3, ablations): each head's effect over training
(:func:`ablation_grid`), Argument 3's ablation under each method beside its matched control
(:func:`induction_heads.book.argument3.ablation_controls`), and the referee's second-round figures:
the ICL score split by what an induction head could predict
(:mod:`induction_heads.measure.icl_classes`), over training and under ablation (chapter 02 draws
the split over training too). The readings are computed elsewhere; this module only draws them."""

from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from torch import Tensor

from ...measure.icl_classes import CLASS_NAMES
from ...measure.phase import PhaseWindow
from ..argument3 import DECIDING_METHOD, AblationControls
from ._shared import has_window
from .palette import TOKEN_CLASS_COLORS
from .style import (COLUMN_IN, HEAD_CLASS_COLORS, ICL_COLOR, bottom_labels, figure_legend, frame_data, panel_grid,
                    panel_title, shade_window, tokens_axis, window_handle, zero_line)

__all__ = ["CLASS_COLORS", "ablation_grid", "icl_class_terms", "class_loss_curves", "ablation_methods"]

# One colour per class of predicted token, in every figure: the induction head's colour for the
# tokens it could predict.
CLASS_COLORS: dict[str, str] = TOKEN_CLASS_COLORS  # defined in .palette


def ablation_grid(
    runs: Mapping[str, Mapping[str, Tensor]],
    windows: Mapping[str, PhaseWindow | None],
    per_head: Mapping[str, Tensor],
    classes: Mapping[str, Sequence[str]],
    ylabel: str,
):
    """The paper's ablation figure: the ICL score on top and, below, one line per head of
    ``per_head[name]`` (``[snapshot, layer, head]``) over training, coloured by head class."""
    names = list(runs)
    drawn = []
    fig, axes = plt.subplots(2, len(names), figsize=(COLUMN_IN if len(names) > 2 else 2.8 * len(names) + 1.2, 5.6),
                             sharex="col", sharey="row", squeeze=False, layout="constrained")
    for j, name in enumerate(names):
        m = runs[name]
        keep = m["tokens"] > 0
        top, bottom = axes[0, j], axes[1, j]
        for ax in (top, bottom):
            shade_window(ax, windows.get(name), label=False)
            tokens_axis(ax, label="training tokens" if ax is bottom else "")
        top.plot(m["tokens"][keep], m["icl_score"][keep], color=ICL_COLOR)
        panel_title(top, name, len(names))
        values = per_head[name][keep].flatten(1)
        drawn.append(values.numpy())
        for i, cls in enumerate(classes[name]):
            bottom.plot(m["tokens"][keep], values[:, i], color=HEAD_CLASS_COLORS[cls], lw=1.2,
                        alpha=0.9 if cls != "other" else 0.6)
        zero_line(bottom)
    axes[0, 0].set_ylabel("ICL score (nats)")
    axes[1, 0].set_ylabel(ylabel)
    # The bottom row frames its lines: linear when they are of one size, else a symlog axis that
    # keeps the bulk readable beside a few large lines (sharey: one scale for the row).
    frame_data(axes[1, 0], [d[:, i] for d in drawn for i in range(d.shape[1])])
    handles = [plt.Line2D([], [], color=ICL_COLOR, label="ICL score (top row; negative = in-context learning)")]
    handles += [plt.Line2D([], [], color=c, label=f"{k} head") for k, c in HEAD_CLASS_COLORS.items()]
    figure_legend(fig, handles + [window_handle() if has_window(windows, names) else None], ncol=3)
    return fig



def _class_handles() -> list:
    return [Patch(color=CLASS_COLORS[c], label=c) for c in CLASS_NAMES]


def icl_class_terms(terms: Mapping[str, Mapping[str, Sequence[float]]], ylabel: str = "term of the ICL score (nats)"):
    """One panel per model; in each, groups of bars along x (e.g. checkpoints before, in and
    after the window, or clean and ablated), each group one bar per class: that class's term of
    the ICL score (:class:`induction_heads.measure.icl_classes.IclByClass`'s ``contribution``; the
    terms of a group add up to its ICL score, drawn as a black tick). ``terms``: model -> group
    label -> the three terms in :data:`CLASS_NAMES` order."""
    names = list(terms)
    fig, axes = panel_grid(len(names), max_cols=3, row_height=2.5)
    for ax, name in zip(axes.flat, names):
        groups = list(terms[name])
        x = np.arange(len(groups))
        width = 0.8 / len(CLASS_NAMES)
        for i, cls in enumerate(CLASS_NAMES):
            ax.bar(x + (i - 1) * width, [terms[name][g][i] for g in groups], width, color=CLASS_COLORS[cls])
        ax.scatter(x, [sum(terms[name][g]) for g in groups], marker="_", s=400, color="black", zorder=3)
        zero_line(ax)
        ax.set_xticks(x, groups, fontsize=8)
        ax.set_title(name, fontsize=9)
    for row in axes:
        row[0].set_ylabel(ylabel)
    figure_legend(fig, _class_handles() + [Line2D([], [], color="black", marker="_", ls="", markersize=14,
                                                 label="their sum: the ICL score")])
    return fig


def class_loss_curves(curves: Mapping[str, "object"], title: str = ""):
    """One panel per class (:data:`CLASS_NAMES`): its mean loss at every context position (log
    scale), one line per checkpoint (``curves``: label -> [class, position] tensor, in training
    order, from light to dark), so that a class whose loss falls along the context in the window
    shows it."""
    labels = list(curves)
    fig, axes = panel_grid(len(CLASS_NAMES), max_cols=3, row_height=2.6)
    shades = np.linspace(0.35, 1.0, len(labels))
    for ax, (i, cls) in zip(axes.flat, enumerate(CLASS_NAMES)):
        for shade, label in zip(shades, labels):
            y = np.asarray(curves[label][i], dtype=float)
            x = np.arange(1, len(y) + 1)
            ax.plot(x, y, color=CLASS_COLORS[cls], alpha=float(shade), lw=1.2, label=label)
        ax.set_xscale("log")
        ax.set_title(cls, fontsize=9)
        ax.set_xlabel("context position")
    for row in axes:
        row[0].set_ylabel("loss (nats)")
    handles = [Line2D([], [], color="0.2", alpha=float(s), lw=1.5, label=lab) for s, lab in zip(shades, labels)]
    figure_legend(fig, handles)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def ablation_methods(controls: Mapping[str, AblationControls], threshold: float):
    """One panel per model: the share of the ICL score removed by ablating its induction heads
    together under each method (zero, mean, resample) with its 95% interval, and, in grey, every
    matched control set of other heads under :data:`~induction_heads.book.argument3.DECIDING_METHOD`;
    dashed lines at ``threshold`` (the claim's) and at 1 (all of the ICL)."""
    names = list(controls)
    fig, axes = panel_grid(len(names), max_cols=3, row_height=2.6)
    for ax, name in zip(axes.flat, names):
        c = controls[name]
        methods = list(c.together)
        for i, m in enumerate(methods):
            iv = c.together[m]
            ax.errorbar(i, iv.value, yerr=[[iv.value - iv.lo], [iv.hi - iv.value]], fmt="o", capsize=3,
                        color=HEAD_CLASS_COLORS["induction"], mfc="white" if m != DECIDING_METHOD else None)
        ctrl_x = len(methods)
        for _, iv in c.control:
            ax.errorbar(ctrl_x, iv.value, yerr=[[iv.value - iv.lo], [iv.hi - iv.value]], fmt="o", capsize=2,
                        color=HEAD_CLASS_COLORS["other"], alpha=0.8)
        for y in (threshold, 1.0):
            ax.axhline(y, color="0.4", lw=0.8, ls="--")
        zero_line(ax)
        ax.set_xticks(range(len(methods) + 1), [*methods, f"control\n({DECIDING_METHOD})"], fontsize=8)
        ax.set_xlim(-0.5, len(methods) + 0.5)
        ax.set_title(name, fontsize=9)
    bottom_labels(axes, len(names), "")
    for row in axes:
        row[0].set_ylabel("share of the ICL removed")
    figure_legend(fig, [
        Line2D([], [], color=HEAD_CLASS_COLORS["induction"], marker="o", ls="", label=f"induction heads ({DECIDING_METHOD}: filled, decides)"),
        Line2D([], [], color=HEAD_CLASS_COLORS["other"], marker="o", ls="", label="as many other heads, same layers"),
        Line2D([], [], color="0.4", ls="--", lw=0.8, label=f"{threshold:.0%} (the claim) and 100%"),
    ], ncol=2)
    return fig
