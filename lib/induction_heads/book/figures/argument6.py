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
from .style import HEAD_CLASS_COLORS, ICL_LABEL, WINDOW_COLOR, model_color, tokens_axis, zero_line

__all__ = [
    "rung_colors",
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


def icl_by_rung(runs: Mapping[str, Mapping[str, Tensor]], windows: Mapping[str, PhaseWindow | None],
                families: Mapping[str, str]):
    """One panel per family: every rung's ICL score over training; the part inside its window thick."""
    colors = rung_colors(list(runs))
    fams = list(dict.fromkeys(families.values()))
    fig, axes = plt.subplots(1, len(fams), figsize=(5 * len(fams), 3.4), sharey=True, squeeze=False)
    for ax, fam in zip(axes[0], fams):
        for name, m in runs.items():
            if families[name] != fam:
                continue
            t, icl = m["tokens"].double(), m["icl_score"]
            keep = t > 0
            ax.plot(t[keep], icl[keep], color=colors[name], lw=1.1, label=name)
            w = windows.get(name)
            if w is not None:
                inside = keep & (t >= w.start) & (t <= w.end)
                ax.plot(t[inside], icl[inside], color=colors[name], lw=4, alpha=0.45)
        zero_line(ax)
        tokens_axis(ax)
        ax.set_title(f"{fam} rungs (thick: inside the window)")
        ax.legend(fontsize=7)
    axes[0, 0].set_ylabel(ICL_LABEL)
    fig.tight_layout()
    return fig


def icl_after_by_rung(readings: Mapping[str, object], band: tuple[float, float] | None, band_label: str):
    """Each rung's smoothed ICL score before its window, at its end and at the last snapshot
    (``readings``: :class:`~induction_heads.book.ladder.IclAfter`), over the tolerance band."""
    names = list(readings)
    fig, ax = plt.subplots(figsize=(max(4.5, 0.9 * len(names) + 2), 3.4))
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
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def advantage_by_position(loss_small: Tensor, loss_large: Tensor, small: str, large: str, tokens: float,
                          colors: Mapping[str, str], index: int = 10):
    """Loss by context index of the smallest and largest rung at matched training tokens (left)
    and the larger one's advantage (right), context index ``index`` marked."""
    idx = np.arange(1, len(loss_small) + 1)
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.4))
    for name, loss in ((small, loss_small), (large, loss_large)):
        axes[0].plot(idx, loss, color=colors[name], label=name)
    axes[1].plot(idx, loss_small - loss_large, color="0.2")
    zero_line(axes[1])
    for ax in axes:
        ax.set_xscale("log")
        ax.set_xlabel("context index")
        ax.axvline(index, color=WINDOW_COLOR, lw=1.5, ls="--")
    axes[0].set_ylabel("loss (nats)")
    axes[0].set_title(f"at {tokens:,.0f} training tokens")
    axes[0].legend(fontsize=8)
    axes[1].set_ylabel(f"advantage of {large} (nats)")
    axes[1].set_title(f"{small} loss minus {large} loss (dashed: index {index})")
    fig.tight_layout()
    return fig


def loss_rate_crossing(rates: LossRates, a: str, b: str, windows: Mapping[str, PhaseWindow | None],
                       crossings: Sequence[float], colors: Mapping[str, str]):
    """``-dLoss / d ln(tokens)`` of two rungs, their windows shaded, the crossings marked."""
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    for name in (a, b):
        w = windows.get(name)
        if w is not None:
            ax.axvspan(w.start, w.end, color=colors[name], alpha=0.12, lw=0)
    ax.plot(rates.tokens_seen, rates.rate_a, color=colors[a], label=f"{a} (shaded: its window)")
    ax.plot(rates.tokens_seen, rates.rate_b, color=colors[b], label=f"{b} (shaded: its window)")
    for c in crossings:
        ax.axvline(c, color="0.4", lw=0.8, ls=":")
    zero_line(ax)
    tokens_axis(ax)
    ax.set_ylabel("-dLoss / d ln(tokens) (nats per e-fold)")
    ax.set_title("rate of improvement (dotted: the order switches)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def induction_layers(counts: Mapping[str, Sequence[int]], families: Mapping[str, str]):
    """For each rung, how many induction heads each layer holds (area of the dot), layer against
    depth; the last layer is the diagonal."""
    fams = list(dict.fromkeys(families.values()))
    fig, axes = plt.subplots(1, len(fams), figsize=(3.6 * len(fams), 3.2), sharey=True, squeeze=False)
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
                    ax.annotate(str(k), (depth, layer), xytext=(6, -3), textcoords="offset points", fontsize=7)
        ax.set_title(f"{fam}: induction heads by layer")
        ax.set_xlabel("model depth (layers)")
        ax.set_xticks(range(1, top + 1))
        ax.legend(fontsize=7, loc="upper left")
    axes[0, 0].set_ylabel("layer")
    axes[0, 0].set_yticks(range(top))
    fig.tight_layout()
    return fig


def prefix_vs_copying(runs: Mapping[str, Mapping[str, Tensor]], ncols: int = 4):
    """One panel per rung: every head's copying against prefix-matching score at the last
    snapshot, coloured by head class, the two thresholds dashed."""
    names = list(runs)
    ncols = min(ncols, len(names))
    nrows = int(np.ceil(len(names) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.0 * ncols, 2.8 * nrows), sharex=True, sharey=True, squeeze=False)
    for ax, name in zip(axes.flat, names):
        m = runs[name]
        pm, cp, prev = m["prefix_matching"][-1], m["copying"][-1], m["previous_token"][-1]
        classes = classify_heads(pm, cp, prev)
        ax.scatter(pm.flatten(), cp.flatten(), c=[HEAD_CLASS_COLORS[c] for c in classes], s=18, zorder=3)
        ax.axvline(THRESHOLDS.prefix_matching, color="0.6", lw=0.8, ls="--")
        ax.axhline(THRESHOLDS.copying, color="0.6", lw=0.8, ls="--")
        ax.set_title(name, fontsize=9)
    for ax in axes.flat[len(names):]:
        ax.axis("off")
    for ax in axes[-1]:
        ax.set_xlabel("prefix matching")
    for ax in axes[:, 0]:
        ax.set_ylabel("copying")
    handles = [plt.Line2D([], [], color=c, marker="o", lw=0, label=k) for k, c in HEAD_CLASS_COLORS.items()]
    axes[0, -1].legend(handles=handles, fontsize=7)
    fig.tight_layout()
    return fig


def onset_law(points: Sequence[tuple[float, float, str]], fit: PowerLawFit | None, log10_t: float):
    """Onset (training tokens) against batch x context: our runs' points, the published law
    ``10**log10_t * sqrt(B C)`` and, if there is one, our fit."""
    fig, ax = plt.subplots(figsize=(5.6, 3.8))
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
    ax.set_ylabel("onset of the phase change (training tokens)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def pythia_over_training(scores: Mapping[str, Mapping[str, Tensor]]):
    """ICL score and largest prefix-matching score of each Pythia model against training tokens."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.4))
    for i, (name, s) in enumerate(scores.items()):
        t = s["tokens"].double()
        keep = t > 0
        axes[0].plot(t[keep], s["icl_score"][keep], color=model_color(i), marker=".", label=name)
        axes[1].plot(t[keep], s["prefix_matching"].flatten(1).max(1).values[keep], color=model_color(i), marker=".",
                     label=name)
    for ax in axes:
        tokens_axis(ax)
        ax.legend(fontsize=7)
    zero_line(axes[0])
    axes[0].set_ylabel(ICL_LABEL)
    axes[1].set_ylabel("largest prefix-matching score")
    fig.tight_layout()
    return fig
