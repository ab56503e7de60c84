"""Chapter 07's figures (Argument 6 across the ladder of sizes), in the book's one style: a
rung has the same colour (:func:`~induction_heads.book.figures.style.model_color` of its place in the
ladder) in every figure of the chapter, heads their class colour, the window the orange band."""

from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from torch import Tensor

from ...measure.heads import THRESHOLDS, classify_heads
from ...measure.phase import PhaseWindow
from ...measure.scaling import LossRates, PowerLawFit, onset_law_tokens
from ._shared import plot_in_window
from .style import (COLUMN_IN, HEAD_CLASS_COLORS, ICL_LABEL, WINDOW_COLOR, bottom_labels, figure_legend, model_color,
                    model_linestyle, panel_grid, tokens_axis, zero_line)

__all__ = [
    "rung_colors",
    "draw_rungs",
    "icl_by_rung",
    "icl_after_by_rung",
    "advantage_by_position",
    "loss_rate_crossing",
    "induction_layers",
    "prefix_vs_copying",
    "onset_law",
    "pythia_over_training",
]


def rung_colors(names: Sequence[str]) -> dict[str, str]:
    """Each rung's colour: :func:`~induction_heads.book.figures.style.model_color` of its place in the
    ladder, the order :func:`~induction_heads.book.figures.pca_trajectories` colours by too."""
    return {n: model_color(i) for i, n in enumerate(names)}


def _rung_style(names: Sequence[str]) -> dict[str, str]:
    """Each rung's line style (:func:`~induction_heads.book.figures.style.model_linestyle`)."""
    return {n: model_linestyle(i) for i, n in enumerate(names)}


def draw_rungs(ax, runs: Mapping[str, Mapping[str, Tensor]], windows: Mapping[str, PhaseWindow | None],
               families: Mapping[str, str], family: str, scale: float = 1.0) -> None:
    """One panel of :func:`icl_by_rung` on ``ax``: the ICL score over training of every rung of
    ``runs`` in ``family`` (each labelled with its name, in its colour and line style of the
    ladder ``runs``), thick inside its window; every line ``scale`` times the hero's width (the
    front page's miniature draws it small)."""
    colors, styles = rung_colors(list(runs)), _rung_style(list(runs))
    for name, m in runs.items():
        if families[name] != family:
            continue
        t, icl = m["tokens"].double(), m["icl_score"]
        keep = t > 0
        ax.plot(t[keep], icl[keep], color=colors[name], ls=styles[name], lw=1.1 * scale, label=name)
        plot_in_window(ax, t, icl, windows.get(name), color=colors[name], lw=4 * scale, alpha=0.45)
    zero_line(ax)


def icl_by_rung(runs: Mapping[str, Mapping[str, Tensor]], windows: Mapping[str, PhaseWindow | None],
                families: Mapping[str, str]):
    """One panel per family: every rung's ICL score over training; the part inside its window thick."""
    fams = list(dict.fromkeys(families.values()))
    fig, axes = plt.subplots(1, len(fams), figsize=(COLUMN_IN, 3.8), sharey=True, squeeze=False, layout="constrained")
    for ax, fam in zip(axes[0], fams):
        draw_rungs(ax, runs, windows, families, fam)
        tokens_axis(ax)
        ax.set_title(f"{fam} rungs")
        handles = ax.get_legend_handles_labels()[0]
        ax.legend(handles=handles + [plt.Line2D([], [], color="0.4", lw=4, alpha=0.45, label="thick: inside its window")],
                  loc="lower left")
    axes[0, 0].set_ylabel("ICL score (nats)")
    fig.suptitle(ICL_LABEL)
    return fig


def icl_after_by_rung(readings: Mapping[str, object], band: tuple[float, float] | None, band_label: str):
    """Each rung's smoothed ICL score before its window, at its end and at the last snapshot
    (``readings``: :class:`~induction_heads.book.argument6.IclAfter`), over the tolerance band."""
    names = list(readings)
    fig, ax = plt.subplots(figsize=(min(max(4.5, 0.5 * len(names) + 2), COLUMN_IN), 3.6), layout="constrained")
    if band is not None:
        ax.axhspan(*band, color="0.85", lw=0, label=band_label)
    x = np.arange(len(names))
    for key, marker, label in (("before", "v", "before the window"), ("at_window_end", "s", "at the window's end"),
                               ("final", "o", "last snapshot")):
        ax.scatter(x, [getattr(readings[n], key) for n in names], marker=marker, c=[model_color(i) for i in x],
                   zorder=3)
        ax.scatter([], [], marker=marker, color="0.3", label=label)
    zero_line(ax)
    ax.set_xticks(x, names, rotation=30, ha="right")
    ax.set_ylabel("ICL score (nats)")
    figure_legend(fig, ax.get_legend_handles_labels()[0], ncol=2, loc="outside upper center")
    return fig


def advantage_by_position(loss_small: Tensor, loss_large: Tensor, small: str, large: str, tokens: float,
                          colors: Mapping[str, str], index: int = 10):
    """Loss by context index of the smallest and largest rung at matched training tokens (left)
    and the larger one's advantage (right), context index ``index`` marked."""
    idx = np.arange(1, len(loss_small) + 1)
    fig, axes = plt.subplots(1, 2, figsize=(COLUMN_IN, 3.4), layout="constrained")
    color_large = colors[large] if colors[large] != colors[small] else "0.2"
    axes[0].plot(idx, loss_small, color=colors[small], lw=1.4, label=small)
    axes[0].plot(idx, loss_large, color=color_large, lw=1.4, ls="--", label=large)
    axes[1].plot(idx, loss_small - loss_large, color="0.2", lw=1.4, label=f"{small} minus {large}")
    zero_line(axes[1])
    for ax in axes:
        ax.set_xscale("log")
        ax.set_xlabel("context index")
        ax.axvline(index, color=WINDOW_COLOR, lw=1.5, ls=":")
    axes[0].set_ylabel("loss (nats)")
    axes[0].set_title("loss by context index")
    axes[1].set_ylabel(f"advantage of {large} (nats)")
    axes[1].set_title("the difference")
    figure_legend(fig, [*axes[0].get_lines()[:2], axes[1].get_lines()[0],
                        plt.Line2D([], [], color=WINDOW_COLOR, lw=1.5, ls=":", label=f"context index {index}")], ncol=2)
    fig.suptitle(f"at {tokens:,.0f} training tokens")
    return fig


def loss_rate_crossing(rates: LossRates, a: str, b: str, windows: Mapping[str, PhaseWindow | None],
                       crossings: Sequence[float], colors: Mapping[str, str]):
    """``-dLoss / d ln(tokens)`` of two rungs, their windows shaded, the crossings marked."""
    fig, ax = plt.subplots(figsize=(COLUMN_IN, 3.6), layout="constrained")
    for name in (a, b):
        w = windows.get(name)
        if w is not None:
            ax.axvspan(w.start, w.end, color=colors[name], alpha=0.12, lw=0)
    ax.plot(rates.tokens_seen, rates.rate_a, color=colors[a], label=f"{a} (shaded: its window)")
    ax.plot(rates.tokens_seen, rates.rate_b, color=colors[b] if colors[b] != colors[a] else "0.2", ls="--",
            label=f"{b} (shaded: its window)")
    for c in crossings:
        ax.axvline(c, color="0.4", lw=0.8, ls=":")
    zero_line(ax)
    tokens_axis(ax)
    ax.set_ylabel("-dLoss / d ln(tokens)\n(nats per e-fold)")
    ax.set_title("rate of improvement")
    handles = ax.get_legend_handles_labels()[0]
    if len(crossings):
        handles.append(plt.Line2D([], [], color="0.4", lw=0.8, ls=":", label="dotted: the order switches"))
    figure_legend(fig, handles, ncol=3, loc="outside upper center")
    return fig


def induction_layers(counts: Mapping[str, Sequence[int]], families: Mapping[str, str]):
    """For each rung, how many induction heads each layer holds (area of the dot), layer against
    depth; the last layer is the diagonal."""
    fams = list(dict.fromkeys(families.values()))
    fig, axes = plt.subplots(1, len(fams), figsize=(min(3.6 * len(fams) + 0.4, COLUMN_IN), 3.4), sharey=True, squeeze=False,
                             layout="constrained")
    top = max(len(c) for c in counts.values())
    for ax, fam in zip(axes[0], fams):
        ax.plot([0.5, top + 0.5], [-0.5, top - 0.5], color="0.7", lw=0.8, ls="--", label="last layer")
        for name, per_layer in counts.items():
            if families[name] != fam:
                continue
            depth = len(per_layer)
            for layer, k in enumerate(per_layer):
                ax.scatter(depth, layer, s=25 + 60 * k if k else 12, color=HEAD_CLASS_COLORS["induction" if k else "other"],
                           zorder=3)
                if k:
                    ax.annotate(str(k), (depth, layer), xytext=(6, -3), textcoords="offset points", fontsize=8)
        ax.set_title(f"{fam}")
        ax.set_xlabel("model depth (layers)")
        ax.set_xticks(range(1, top + 1))
    axes[0, 0].set_ylabel("layer")
    axes[0, 0].set_yticks(range(top))
    figure_legend(fig, [plt.Line2D([], [], color="0.7", lw=0.8, ls="--", label="dashed: the last layer"),
                        plt.Line2D([], [], color=HEAD_CLASS_COLORS["induction"], marker="o", lw=0, ms=8,
                                   label="red dot: induction heads (area and number: how many)"),
                        plt.Line2D([], [], color=HEAD_CLASS_COLORS["other"], marker="o", lw=0, ms=4,
                                   label="grey dot: none in that layer")], ncol=1)
    fig.suptitle("induction heads by layer")
    return fig


def prefix_vs_copying(runs: Mapping[str, Mapping[str, Tensor]], ncols: int = 4):
    """One panel per rung: every head's copying against prefix-matching score at the last
    snapshot, coloured by head class, the two thresholds dashed."""
    names = list(runs)
    fig, axes = panel_grid(len(names), ncols, row_height=2.0, sharex=True, sharey=True)
    for ax, name in zip(axes.flat, names):
        m = runs[name]
        pm, cp, prev = m["prefix_matching"][-1], m["copying"][-1], m["previous_token"][-1]
        classes = classify_heads(pm, cp, prev)
        ax.scatter(pm.flatten(), cp.flatten(), c=[HEAD_CLASS_COLORS[c] for c in classes], s=18, zorder=3)
        ax.axvline(THRESHOLDS.prefix_matching, color="0.6", lw=0.8, ls="--")
        ax.axhline(THRESHOLDS.copying, color="0.6", lw=0.8, ls="--")
        ax.set_title(name)
        ax.tick_params(labelbottom=True)
    bottom_labels(axes, len(names), "prefix matching")
    for ax in axes[:, 0]:
        ax.set_ylabel("copying")
    handles = [plt.Line2D([], [], color=c, marker="o", lw=0, label=f"{k} head") for k, c in HEAD_CLASS_COLORS.items()]
    handles.append(plt.Line2D([], [], color="0.6", lw=0.8, ls="--", label="dashed: the class thresholds"))
    figure_legend(fig, handles)
    return fig


def onset_law(points: Sequence[tuple[float, float, str]], fit: PowerLawFit | None, log10_t: float):
    """Onset (training tokens) against batch x context: our runs' points, the published law
    ``10**log10_t * sqrt(B C)`` and, if there is one, our fit."""
    fig, ax = plt.subplots(figsize=(COLUMN_IN, 3.8), layout="constrained")
    x = np.logspace(np.log10(16 * 8), np.log10(64 * 512), 50)
    ax.plot(x, [onset_law_tokens(v, log10_t) for v in x], color="0.4", ls="--",
            label=f"published: $10^{{{log10_t}}}\\sqrt{{B C}}$")
    if fit is not None:
        ax.plot(x, 10**fit.log10_prefactor * x**fit.exponent, color=HEAD_CLASS_COLORS["induction"],
                label=f"our fit: exponent {fit.exponent:.2f}")
    for i, (bc, onset, name) in enumerate(points):
        ax.scatter(bc, onset, color=model_color(i), zorder=3, label=name)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("batch x context (tokens per step)")
    ax.set_ylabel("onset of the phase change\n(training tokens)")
    figure_legend(fig, ax.get_legend_handles_labels()[0], ncol=1, loc="outside right upper")
    return fig


def pythia_over_training(scores: Mapping[str, Mapping[str, Tensor]]):
    """ICL score and largest prefix-matching score of each Pythia model against training tokens."""
    fig, axes = plt.subplots(1, 2, figsize=(COLUMN_IN, 3.4), layout="constrained")
    for i, (name, s) in enumerate(scores.items()):
        t = s["tokens"].double()
        keep = t > 0
        axes[0].plot(t[keep], s["icl_score"][keep], color=model_color(i), marker=".", label=name)
        axes[1].plot(t[keep], s["prefix_matching"].flatten(1).max(1).values[keep], color=model_color(i), marker=".",
                     label=name)
    for ax in axes:
        tokens_axis(ax)
    zero_line(axes[0])
    axes[0].set_ylabel("ICL score (nats)")
    axes[0].set_title("ICL score (negative = in-context learning)")
    axes[1].set_ylabel("largest prefix-matching score")
    figure_legend(fig, axes[0].get_legend_handles_labels()[0])
    return fig
