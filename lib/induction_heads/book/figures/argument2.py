"""Chapter 03's figures (Argument 2, smeared keys and knockouts): loss by context index of each
control beside the interventions it controls, and the chapter's hero (each vanilla model's ICL
score beside its smeared twin's). The chapter's other ICL, prefix-matching and seed curves are
Argument 1's (:mod:`induction_heads.book.figures.argument1`)."""

from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from torch import Tensor

from ...measure.phase import PhaseWindow
from ._shared import plot_in_window
from .palette import CONTRAST_LINE, ICL_COLOR
from .style import COLUMN_IN, bottom_labels, figure_legend, panel_title, tokens_axis, window_edges_handle, zero_line

__all__ = ["smeared_hero", "present_pairs", "draw_pair", "loss_heatmap_pairs"]


def smeared_hero(runs: Mapping[str, Mapping[str, Tensor]], windows: Mapping[str, PhaseWindow | None],
                 pairs: Sequence[tuple[str, str]]):
    """Argument 2 in one figure: one panel per ``(vanilla, smeared)`` pair with both ICL scores over
    training, the vanilla model grey and the smeared one black, each thick inside its phase-change
    window (a pair whose models are not both in ``runs`` is left out)."""
    pairs = present_pairs(runs, pairs)
    if not pairs:
        raise ValueError("smeared_hero: no (vanilla, smeared) pair has both runs")
    fig, axes = plt.subplots(1, len(pairs), figsize=(COLUMN_IN, 2.9), sharey=True, squeeze=False, layout="constrained")
    for ax, (vanilla, smeared) in zip(axes[0], pairs):
        draw_pair(ax, runs, windows, vanilla, smeared)
        panel_title(ax, f"{vanilla} against {smeared}", len(pairs))
        tokens_axis(ax)
    axes[0, 0].set_ylabel("ICL score (nats)\nnegative: learns in context")
    figure_legend(fig, [plt.Line2D([], [], color=ICL_COLOR, lw=1.3, label="smeared keys"),
                        plt.Line2D([], [], color=CONTRAST_LINE, lw=1.3, label="vanilla"),
                        plt.Line2D([], [], color="0.3", lw=5, alpha=0.35, label="thick: inside its phase-change window")],
                  ncol=3)
    return fig


def present_pairs(runs: Mapping[str, object], pairs: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """The ``(vanilla, smeared)`` pairs whose two models both have a run in ``runs``."""
    return [p for p in pairs if all(n in runs for n in p)]


def draw_pair(ax, runs: Mapping[str, Mapping[str, Tensor]], windows: Mapping[str, PhaseWindow | None], vanilla: str,
              smeared: str, scale: float = 1.0) -> None:
    """One panel of :func:`smeared_hero` on ``ax``: both ICL scores over training, ``vanilla`` grey
    and ``smeared`` black, each thick inside its own window, every line ``scale`` times the hero's
    width (the front page's miniature draws it small)."""
    for name, color in ((vanilla, CONTRAST_LINE), (smeared, ICL_COLOR)):
        t, icl = runs[name]["tokens"].double(), runs[name]["icl_score"]
        keep = t > 0
        ax.plot(t[keep], icl[keep], color=color, lw=1.3 * scale)
        plot_in_window(ax, t, icl, windows.get(name), color=color, lw=5 * scale, alpha=0.35, solid_capstyle="butt")
    zero_line(ax)


def loss_heatmap_pairs(
    runs: Mapping[str, Mapping[str, Tensor]],
    windows: Mapping[str, PhaseWindow | None],
    pairs: Sequence[tuple[str, str]],
    ncols: int = 4,
):
    """Loss by context index over training for each ``(model, control)`` pair, every model drawn
    once: each control (titled "... (control)") followed by the interventions it controls, in a
    compact grid ``ncols`` wide, all on one colour scale (so a missing phase change shows as a
    panel that never darkens at late indices); windows as dashed white lines. A control shared by
    several interventions is drawn once, not beside each."""
    controls = list(dict.fromkeys(c for _, c in pairs))
    order: list[tuple[str, bool]] = []
    for c in controls:
        order.append((c, True))
        order += [(m, False) for m, cc in pairs if cc == c and (m, False) not in order]
    n = len(order)
    ncols = max(1, min(ncols, n))
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(COLUMN_IN, 1.55 * nrows + 0.9), squeeze=False, sharex=True,
                             sharey=True, layout="constrained")
    for ax in axes.flat[n:]:
        ax.axis("off")
    shown = [name for name, _ in order]
    lo = min(float(runs[n_]["loss_by_position"][runs[n_]["tokens"] > 0].min()) for n_ in shown)
    hi = max(float(runs[n_]["loss_by_position"][runs[n_]["tokens"] > 0].quantile(0.99)) for n_ in shown)
    for ax, (name, is_control) in zip(axes.flat, order):
        m = runs[name]
        keep = m["tokens"] > 0
        index = np.arange(1, m["loss_by_position"].shape[1] + 1)
        im = ax.pcolormesh(m["tokens"][keep].double().numpy(), index, m["loss_by_position"][keep].T.numpy(),
                           shading="nearest", cmap="viridis", vmin=lo, vmax=hi)
        w = windows.get(name)
        if w is not None:
            for x in (w.start, w.end):
                ax.axvline(x, color="white", lw=1, ls="--")
        tokens_axis(ax, label="")
        ax.set_yscale("log")
        panel_title(ax, f"{name} (control)" if is_control else name, ncols)
        if is_control:
            ax.title.set_fontweight("bold")
        ax.grid(False)
    for ax in axes[:, 0]:
        ax.set_ylabel("context index")
    bottom_labels(axes, n, "training tokens")
    fig.colorbar(im, ax=axes, label="loss (nats)", shrink=0.8 if nrows > 1 else 0.9, aspect=25, pad=0.02)
    if any(windows.get(n_) is not None for n_ in shown):
        figure_legend(fig, [window_edges_handle(label="phase-change window (dashed white: its start and end)")])
    return fig
