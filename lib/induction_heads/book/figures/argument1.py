"""Chapter 02's figures (Argument 1, the phase change): the ICL score, the prefix-matching and
previous-token scores and the repeat accuracy over training, loss by context index, the loss bump,
the per-token-loss PCA, a text's per-token loss change, and the seeds' curves and onsets. Chapter 03
(Argument 2) and chapter 07 (Argument 6) draw some of them again for their own models. Every ICL
axis states the sign convention."""

from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import TwoSlopeNorm
from matplotlib.patches import Patch
from torch import Tensor

from ...measure.phase import LossPCA, PhaseWindow, loss_derivative_by_log_index
from ..argument1 import SeedCurves, repeat_accuracy
from ._shared import has_window
from .palette import CONTEXT_COLOR, CONTRAST_LINE, REPEAT_COLOR
from .style import (COLUMN_IN, HEAD_CLASS_COLORS, ICL_COLOR, ICL_LABEL, MAX_LEGEND, bottom_labels, figure_legend,
                    model_color, model_linestyle, model_styles, panel_grid, panel_title, shade_window, short_token,
                    tokens_axis, window_edges_handle, window_handle, zero_line)

__all__ = ["phase_change_hero", "draw_phase_change", "icl_curves", "loss_heatmaps", "prefix_matching_curves", "repeat_curves", "loss_curves", "pca_trajectories", "token_loss_strip", "onset_spread", "seed_curves"]


def phase_change_hero(runs: Mapping[str, Mapping[str, Tensor]], windows: Mapping[str, PhaseWindow | None], model: str,
                      contrast: str | None = None):
    """Argument 1 in one figure: ``model``'s ICL score (top) and its largest prefix-matching score
    (bottom) over training, its phase-change window shaded in both; ``contrast`` (a one-layer
    model, which has neither) in grey beside it."""
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(0.8 * COLUMN_IN, 4.0), sharex=True, layout="constrained")
    draw_phase_change(top, bottom, runs, windows, model, contrast)
    top.set_ylabel("ICL score (nats)\nnegative: learns in context")
    bottom.set_ylabel("largest prefix-\nmatching score")
    tokens_axis(bottom)
    figure_legend(fig, [plt.Line2D([], [], color=ICL_COLOR, lw=1.8, label=f"{model}: ICL score"),
                        plt.Line2D([], [], color=HEAD_CLASS_COLORS["induction"], lw=1.8,
                                   label=f"{model}: its largest prefix-matching score"),
                        plt.Line2D([], [], color=CONTRAST_LINE, lw=1.2, label=f"{contrast} (one layer)") if contrast else None,
                        window_handle(f"{model}'s phase-change window")], ncol=2)
    return fig


def draw_phase_change(top, bottom, runs: Mapping[str, Mapping[str, Tensor]], windows: Mapping[str, PhaseWindow | None],
                      model: str, contrast: str | None = None, scale: float = 1.0) -> None:
    """:func:`phase_change_hero`'s data, on ``top`` (the ICL scores) and ``bottom`` (the largest
    prefix-matching scores): ``model``'s window shaded in both, ``contrast`` grey under ``model``,
    every line ``scale`` times the hero's width (the front page's miniature draws it small)."""
    for ax in (top, bottom):
        shade_window(ax, windows.get(model), label=False)
    drawn = [(contrast, CONTRAST_LINE, CONTRAST_LINE, 1.2)] if contrast else []
    for name, icl_color, head_color, lw in drawn + [(model, ICL_COLOR, HEAD_CLASS_COLORS["induction"], 1.8)]:
        m = runs[name]
        keep = m["tokens"] > 0
        top.plot(m["tokens"][keep], m["icl_score"][keep], color=icl_color, lw=lw * scale)
        bottom.plot(m["tokens"][keep], m["prefix_matching"].flatten(1).amax(1)[keep], color=head_color, lw=lw * scale)
    zero_line(top)
    bottom.set_ylim(0, 1.05)


def icl_curves(
    runs: Mapping[str, Mapping[str, Tensor]],
    windows: Mapping[str, PhaseWindow | None],
    ncols: int | None = None,
    sharey: bool = True,
):
    """One panel per model: ICL score against training tokens with its window shaded."""
    names = list(runs)
    fig, axes = panel_grid(len(names), ncols, sharey=sharey)
    for ax, name in zip(axes.flat, names):
        m = runs[name]
        keep = m["tokens"] > 0
        shade_window(ax, windows.get(name))
        ax.plot(m["tokens"][keep], m["icl_score"][keep], color=ICL_COLOR, lw=1.5)
        zero_line(ax)
        panel_title(ax, name, axes.shape[1])
        tokens_axis(ax)
    for ax in axes[:, 0]:
        ax.set_ylabel("ICL score (nats)")
    figure_legend(fig, [plt.Line2D([], [], color=ICL_COLOR, lw=1.5, label=ICL_LABEL),
                        window_handle() if has_window(windows, names) else None], ncol=2)
    return fig


def loss_heatmaps(metrics: Mapping[str, Tensor], window: PhaseWindow | None = None, title: str = ""):
    """Loss by context index over training, and its derivative with respect to ln(index)."""
    keep = metrics["tokens"] > 0
    tokens = metrics["tokens"][keep].double().numpy()
    loss = metrics["loss_by_position"][keep]
    deriv = loss_derivative_by_log_index(loss)
    index = np.arange(1, loss.shape[1] + 1)
    fig, axes = plt.subplots(1, 2, figsize=(COLUMN_IN, 3.0), layout="constrained")
    im = axes[0].pcolormesh(tokens, index, loss.T.numpy(), shading="nearest", cmap="viridis")
    fig.colorbar(im, ax=axes[0], label="loss (nats)")
    lim = float(deriv[:, 4:].abs().quantile(0.99))
    im = axes[1].pcolormesh(tokens, index, deriv.T.numpy(), shading="nearest", cmap="RdBu_r",
                            norm=TwoSlopeNorm(0, -lim, lim))
    fig.colorbar(im, ax=axes[1], label="dLoss / d ln(index)")
    for ax, t in zip(axes, ("loss", "dLoss / d ln(index)")):
        tokens_axis(ax)
        ax.set_yscale("log")
        ax.set_ylabel("context index")
        ax.set_title(t)
        ax.grid(False)
        if window is not None:
            for x in (window.start, window.end):
                ax.axvline(x, color="white", lw=1, ls="--")
            axes[1].axvline(window.start, color="0.2", lw=1, ls="--")  # white is lost on the diverging map
            axes[1].axvline(window.end, color="0.2", lw=1, ls="--")
    if title:
        fig.suptitle(title)
    if window is not None:
        figure_legend(fig, [window_edges_handle()])
    return fig


def prefix_matching_curves(
    runs: Mapping[str, Mapping[str, Tensor]],
    windows: Mapping[str, PhaseWindow | None],
    key: str = "prefix_matching",
    ylabel: str = "prefix-matching score",
    ncols: int | None = None,
):
    """Every head's score over training (one line per head, coloured by layer)."""
    names = list(runs)
    fig, axes = panel_grid(len(names), ncols, sharey=True)
    for ax, name in zip(axes.flat, names):
        m = runs[name]
        keep = m["tokens"] > 0
        scores = m[key][keep]  # [S, L, H]
        shade_window(ax, windows.get(name), label=False)
        for layer in range(scores.shape[1]):
            for head in range(scores.shape[2]):
                ax.plot(m["tokens"][keep], scores[:, layer, head], color=model_color(layer), lw=1)
        panel_title(ax, name, axes.shape[1])
        ax.set_ylim(-0.04, 1.04)  # a score of 0 or 1 is drawn inside the frame, not on it
        tokens_axis(ax)
    for ax in axes[:, 0]:
        ax.set_ylabel(ylabel)
    layers = max(runs[n][key].shape[1] for n in names)
    figure_legend(fig, [plt.Line2D([], [], color=model_color(layer), lw=1.5, label=f"layer {layer}")
                        for layer in range(layers)]
                  + [window_handle() if has_window(windows, names) else None], ncol=min(layers + 1, 4))
    return fig


def repeat_curves(
    runs: Mapping[str, Mapping[str, Tensor]],
    windows: Mapping[str, PhaseWindow | None],
    onsets: Mapping[str, float | None],
    ncols: int | None = None,
):
    """One panel per model: top-1 accuracy on repeated random tokens (copies 2-4) beside the
    largest prefix-matching score, over training, with the window shaded and the repeat onset
    marked."""
    names = list(runs)
    fig, axes = panel_grid(len(names), ncols, sharey=True)
    for ax, name in zip(axes.flat, names):
        m = runs[name]
        keep = m["tokens"] > 0
        shade_window(ax, windows.get(name), label=False)
        top = m["prefix_matching"].flatten(1).max(-1).values
        ax.plot(m["tokens"][keep], top[keep], color=HEAD_CLASS_COLORS["induction"], lw=1.2)
        ax.plot(m["tokens"][keep], repeat_accuracy(m)[keep], color=REPEAT_COLOR, lw=1.5)
        if onsets.get(name) is not None:
            ax.axvline(onsets[name], color=REPEAT_COLOR, ls=":", lw=1.2)
        panel_title(ax, name, axes.shape[1])
        ax.set_ylim(-0.04, 1.04)
        tokens_axis(ax)
    for ax in axes[:, 0]:
        ax.set_ylabel("score / accuracy")
    figure_legend(fig, [plt.Line2D([], [], color=HEAD_CLASS_COLORS["induction"], lw=1.2, label="largest prefix-matching score"),
                        plt.Line2D([], [], color=REPEAT_COLOR, lw=1.5, label="top-1 accuracy on repeats"),
                        plt.Line2D([], [], color=REPEAT_COLOR, ls=":", lw=1.2, label="repeat onset (dotted)")
                        if any(onsets.get(n) is not None for n in names) else None,
                        window_handle() if has_window(windows, names) else None], ncol=2)
    return fig


def loss_curves(
    runs: Mapping[str, Mapping[str, Tensor]],
    bumps: Mapping[str, tuple[float, float] | None] | None = None,
):
    """Held-out loss against training tokens for several models on one axis, bumps marked. Up to
    :data:`~.style.MAX_LEGEND` entries, every model in its own colour; more models, and the few
    with a loss bump are coloured (each bump shaded in its colour) against the rest in grey, or,
    when most have one, models are coloured by depth and the bumps shaded grey."""
    fig, ax = plt.subplots(figsize=(COLUMN_IN, 3.4), layout="constrained")
    names = list(runs)
    bumped = [n for n in names if (bumps or {}).get(n) is not None]
    reserved = 1 if bumped else 0
    if len(names) <= MAX_LEGEND - reserved:
        styles = {n: dict(color=model_color(i), ls=model_linestyle(i), label=n) for i, n in enumerate(names)}
        extra, bump_color = [], None
    elif len(bumped) <= MAX_LEGEND - 2:
        styles = {n: dict(color=model_color(bumped.index(n)) if n in bumped else CONTEXT_COLOR, ls="-",
                          label=n if n in bumped else None) for n in names}
        extra, bump_color = [plt.Line2D([], [], color=CONTEXT_COLOR, lw=1.3, label="every other model (no bump)")], None
    else:
        styles, extra = model_styles(names, reserved=reserved)
        bump_color = "0.5"
    for n in sorted(names, key=lambda n: styles[n]["color"] != CONTEXT_COLOR):  # highlighted lines on top
        m = runs[n]
        keep = m["tokens"] > 0
        st = styles[n]
        ax.plot(m["tokens"][keep], m["loss_by_position"][keep].mean(-1), color=st["color"], ls=st["ls"],
                lw=1.3 if st["color"] != CONTEXT_COLOR else 1.0, label=st["label"])
        bump = (bumps or {}).get(n)
        if bump is not None:
            ax.axvspan(*bump, color=bump_color or st["color"], alpha=0.12, lw=0)
    tokens_axis(ax)
    ax.set_ylabel("held-out loss (nats)")
    handles = [h for h in ax.get_legend_handles_labels()[0]]
    handles.sort(key=lambda h: names.index(h.get_label()) if h.get_label() in names else len(names))
    handles += [h for h in extra if h not in handles]
    if bumped:
        handles.append(Patch(color="0.5", alpha=0.25, lw=0,
                             label="shaded: a model's loss bump" if bump_color else "shaded in its colour: a model's loss bump"))
    figure_legend(fig, handles, ncol=1, loc="outside right upper")
    return fig


def pca_trajectories(pca: LossPCA, windows: Mapping[str, PhaseWindow | None] | None = None,
                     tokens: Mapping[str, Tensor] | None = None, title: str = ""):
    """Each model's path through the first two principal components of per-token losses;
    the snapshots inside its phase-change window are drawn thicker."""
    fig, ax = plt.subplots(figsize=(COLUMN_IN, 4.4), layout="constrained")
    styles, model_handles = model_styles(pca.trajectories, reserved=2)
    for name, traj in pca.trajectories.items():
        st = styles[name]
        ax.plot(traj[:, 0], traj[:, 1], color=st["color"], ls=st["ls"], lw=1, marker=".", ms=3)
        w = (windows or {}).get(name)
        if w is not None and tokens is not None:
            inside = (tokens[name] >= w.start) & (tokens[name] <= w.end)
            ax.plot(traj[inside, 0], traj[inside, 1], color=st["color"], lw=4, alpha=0.5)
        ax.plot(*traj[0, :2].tolist(), "o", mfc="white", color=st["color"], ms=5)
    ev = pca.explained_variance_ratio
    ax.set_xlabel(f"PC 1 ({100 * float(ev[0]):.0f}% of variance)")
    ax.set_ylabel(f"PC 2 ({100 * float(ev[1]):.0f}%)")
    ax.set_title(title or "per-token-loss PCA (joint over the family)")
    handles = model_handles + [
        plt.Line2D([], [], color="0.3", marker="o", mfc="white", lw=0, label="first snapshot")]
    if windows and tokens is not None and any(windows.get(n) is not None for n in pca.trajectories):
        handles.append(plt.Line2D([], [], color="0.3", lw=4, alpha=0.5, label="thick: inside the window"))
    figure_legend(fig, handles, ncol=1, loc="outside right upper")
    return fig


def token_loss_strip(str_tokens: Sequence[str], before: Tensor, after: Tensor, width: int = 12,
                     title: str = ""):
    """Per-token loss change (after minus before) on a text, token by token: blue = the model
    got better at this token after the phase change, red = worse."""
    diff = (after - before).numpy()
    lim = max(float(np.abs(diff).max()), 1e-6)
    n = len(diff)
    rows = int(np.ceil(n / width))
    fig, ax = plt.subplots(figsize=(COLUMN_IN, 0.3 * rows + 0.9), layout="constrained")
    cmap = plt.get_cmap("RdBu_r")
    for i, (tok, d) in enumerate(zip(str_tokens, diff)):
        r, c = divmod(i, width)
        ax.add_patch(plt.Rectangle((c, -r - 1), 1, 1, color=cmap(0.5 + 0.5 * d / lim)))
        ax.text(c + 0.05, -r - 0.5, short_token(tok, 8),
                fontsize=8, va="center", family="monospace")
    ax.set_xlim(0, width)
    ax.set_ylim(-rows, 0)
    ax.axis("off")
    ax.set_title(title or "per-token loss after minus before the phase change (blue = lower loss)")
    sm = plt.cm.ScalarMappable(cmap=cmap, norm=plt.Normalize(-lim, lim))
    fig.colorbar(sm, ax=ax, fraction=0.03, pad=0.01, shrink=min(1.0, 4 / max(rows, 1)) if rows > 4 else 1.0,
                 label="Δ loss (nats)")
    return fig


def onset_spread(onsets: Mapping[str, Sequence[tuple[str, float | None]]]):
    """Tokens to the start of the phase-change window, one row per model and one point per seed
    (``onsets``: model -> ``(run name, window start or None)``), the median over the seeds with a
    window as a bar; a seed without a window is counted beside the model's name."""
    models = list(onsets)
    if not any(s is not None for points in onsets.values() for _, s in points):
        raise ValueError("no seed of these models has a phase-change window: no onset to draw")
    fig, ax = plt.subplots(figsize=(COLUMN_IN, 0.45 * len(models) + 1.2), layout="constrained")
    for y, model in enumerate(models):
        starts = [s for _, s in onsets[model] if s is not None]
        ax.scatter(starts, [y] * len(starts), color=model_color(y), s=28, zorder=3)
        if starts:
            ax.plot([float(np.median(starts))] * 2, [y - 0.3, y + 0.3], color="0.2", lw=1.6)
    labels = [f"{m} ({sum(s is not None for _, s in onsets[m])} of {len(onsets[m])} seeds)" for m in models]
    ax.set_yticks(range(len(models)), labels)
    ax.set_ylim(-0.6, len(models) - 0.4)
    ax.invert_yaxis()
    tokens_axis(ax, "training tokens to the start of the phase-change window")
    figure_legend(fig, [plt.Line2D([], [], marker="o", ls="", color="0.4", label="one seed"),
                        plt.Line2D([], [], color="0.2", lw=1.6, label="median over the seeds with a window")], ncol=2)
    return fig


def seed_curves(panels: Mapping[str, Mapping[str, SeedCurves]], ylabel: str = "ICL score (nats)",
                ylim: tuple[float, float] | None = None, ncols: int | None = None):
    """One panel per entry of ``panels`` (its title the key), each drawing one or more models
    (model -> :func:`~induction_heads.book.argument1.seed_curves`), each model in its own colour
    on every panel: every seed's curve faint, their median over seeds bold and, around a seed with
    per-sequence records, its 95% band over evaluation sequences lightly shaded. Training tokens
    on a log axis (the step-0 snapshot is not drawn). A median needs two seeds: a panel without
    models, or a model with fewer than two seeds, is a ValueError (a chapter leaves such a model
    out and says so)."""
    for title, models in panels.items():
        if not models:
            raise ValueError(f"panel {title!r} has no model to draw")
        for model, c in models.items():
            if len(c.names) < 2:
                raise ValueError(f"{model}: {len(c.names)} seed(s), a median over seeds needs at least two")
    order = list(dict.fromkeys(m for models in panels.values() for m in models))  # one colour per model
    fig, axes = panel_grid(len(panels), ncols, sharey=True)
    banded = False
    for ax, (title, models) in zip(axes.flat, panels.items()):
        for model, c in models.items():
            color = model_color(order.index(model))
            keep = c.tokens > 0
            x = c.tokens[keep]
            for curve, band in zip(c.curves, c.bands):
                if band is not None:
                    ax.fill_between(x, band[0][keep], band[1][keep], color=color, alpha=0.18, lw=0)
                    banded = True
                ax.plot(x, curve[keep], color=color, lw=0.8, alpha=0.45)
            ax.plot(x, c.median[keep], color=color, lw=2.0)
        zero_line(ax)
        if ylim is not None:
            ax.set_ylim(*ylim)
        ax.set_title(title)
        tokens_axis(ax)
    bottom_labels(axes, len(panels), "training tokens")
    for ax in axes[:, 0]:
        ax.set_ylabel(ylabel)
    several = any(len(models) > 1 for models in panels.values())
    band = "95% band over evaluation sequences (one seed)"
    handles = [plt.Line2D([], [], color="0.3", lw=0.8, alpha=0.45, label="one seed (faint)"),
               plt.Line2D([], [], color="0.3", lw=2.0, label="median over seeds (bold)"),
               Patch(color="0.3", alpha=0.18, lw=0, label=band) if banded else None]
    if several:
        handles += [plt.Line2D([], [], color=model_color(i), lw=2.0, label=m) for i, m in enumerate(order)]
    figure_legend(fig, handles, ncol=3 if not several else 2)
    return fig
