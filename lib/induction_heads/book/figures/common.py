"""The book's figures (matplotlib, one house style): each function draws one of the paper's
plots from run-store data and returns the figure. Every ICL axis states the sign convention."""

from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.colors import TwoSlopeNorm
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from torch import Tensor

from ...engine.zoo import Zoo
from ...measure.phase import LossPCA, PhaseWindow, loss_derivative_by_log_index
from ..argument1 import SeedCurves, repeat_accuracy
from .palette import CONTEXT_COLOR, RECIPE_COLORS, REPEAT_COLOR
from .style import (COLUMN_IN, HEAD_CLASS_COLORS, ICL_COLOR, ICL_LABEL, MAX_LEGEND, bottom_labels, figure_legend,
                    frame_data, model_color, model_linestyle, model_styles, panel_grid, panel_title, shade_window,
                    short_token, spread_labels, tokens_axis, window_edges_handle, window_handle, zero_line)

__all__ = [
    "icl_curves",
    "loss_heatmaps",
    "prefix_matching_curves",
    "repeat_curves",
    "loss_curves",
    "pca_trajectories",
    "token_loss_strip",
    "ablation_grid",
    "training_curves",
    "repeat_loss_profiles",
    "loss_heatmap_pairs",
    "RECIPE_COLORS",
    "recipe_pairs",
    "onset_spread",
    "seed_curves",
]

def _panels(n: int, ncols: int | None, sharey: bool):
    """A grid of ``n`` panels for the column (:func:`~.style.panel_grid`): ``ncols`` wide, at most
    four by default."""
    return panel_grid(n, ncols, sharey=sharey)


def _has_window(windows, names) -> bool:
    return any((windows or {}).get(n) is not None for n in names)


def icl_curves(
    runs: Mapping[str, Mapping[str, Tensor]],
    windows: Mapping[str, PhaseWindow | None],
    ncols: int | None = None,
    sharey: bool = True,
):
    """One panel per model: ICL score against training tokens with its window shaded."""
    names = list(runs)
    fig, axes = _panels(len(names), ncols, sharey)
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
                        window_handle() if _has_window(windows, names) else None], ncol=2)
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


def prefix_matching_curves(
    runs: Mapping[str, Mapping[str, Tensor]],
    windows: Mapping[str, PhaseWindow | None],
    key: str = "prefix_matching",
    ylabel: str = "prefix-matching score",
    ncols: int | None = None,
):
    """Every head's score over training (one line per head, coloured by layer)."""
    names = list(runs)
    fig, axes = _panels(len(names), ncols, sharey=True)
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
                  + [window_handle() if _has_window(windows, names) else None], ncol=min(layers + 1, 4))
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
    fig, axes = _panels(len(names), ncols, sharey=True)
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
                        window_handle() if _has_window(windows, names) else None], ncol=2)
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
    figure_legend(fig, handles + [window_handle() if _has_window(windows, names) else None], ncol=3)
    return fig


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


def repeat_loss_profiles(profiles: Mapping[str, Tensor], length: int, reference: Tensor | None = None,
                         reference_length: int | None = None, reference_label: str = "hand-built circuit"):
    """Loss at every position of a random sequence shown several times (one line per model), the
    copies' boundaries marked; beside it the same for a reference model, if given."""
    n = 2 if reference is not None else 1
    fig, axes = plt.subplots(1, n, figsize=(COLUMN_IN, 3.4), sharey=True, squeeze=False, layout="constrained",
                             width_ratios=[2, 1] if n == 2 else None)
    panels = [(axes[0, 0], profiles, length, "our models' final checkpoints", None)]
    if reference is not None:  # black: no model of the left panel has that colour
        panels.append((axes[0, 1], {reference_label: reference}, reference_length or length, "the reference", "0.1"))
    styles, model_handles = model_styles(profiles, reserved=1 if reference is not None else 0)
    for ax, curves, size, title, color in panels:
        for i, (name, loss) in enumerate(curves.items()):
            st = styles.get(name, dict(color=color, ls="-", label=name))
            ax.plot(range(1, len(loss) + 1), loss, color=color or st["color"], ls=st["ls"], lw=1.1,
                    label=name if color else None)
        for b in range(size, len(next(iter(curves.values()))), size):
            ax.axvline(b + 0.5, color="0.6", lw=0.8, ls="--")
        ax.set_xlabel("position (dashed: a new copy starts)")
        ax.set_title(title)
    axes[0, 0].set_ylabel("loss (nats)")
    handles = model_handles + [h for ax in axes[0] for h in ax.get_legend_handles_labels()[0]]
    figure_legend(fig, handles, ncol=4)
    return fig


# The two training recipes, one colour each wherever they are drawn together (.palette).
RECIPE_LABELS = {"repeat": "repeat recipe (half the sequences open with a window shown twice)",
                 "natural": "natural code only (-natural)"}


def recipe_pairs(runs: Mapping[str, Mapping[str, Tensor]], windows: Mapping[str, PhaseWindow | None],
                 pairs: Sequence[tuple[str, str]], ncols: int | None = None):
    """One panel per model trained on both recipes (``pairs``: ``(natural, repeat)`` names): the
    ICL score of each over training, in the recipe's colour, with its window's start and end as
    dashed lines of the same colour."""
    fig, axes = _panels(len(pairs), ncols or min(len(pairs), 3), sharey=True)
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
    fig, axes = _panels(len(panels), ncols, sharey=True)
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
