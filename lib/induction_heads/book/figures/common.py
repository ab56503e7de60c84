"""The book's figures (matplotlib, one house style): each function draws one of the paper's
plots from run-store data and returns the figure. Every ICL axis states the sign convention."""

from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.colors import TwoSlopeNorm
from matplotlib.figure import Figure
from torch import Tensor

from ...engine.zoo import Zoo
from ...measure.phase import LossPCA, PhaseWindow, loss_derivative_by_log_index
from ..argument1 import repeat_accuracy
from .style import HEAD_CLASS_COLORS, ICL_COLOR, ICL_LABEL, model_color, shade_window, tokens_axis, zero_line

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
]

def _panels(n: int, ncols: int | None, sharey: bool):
    """A grid of ``n`` panels, ``ncols`` wide (default: one row)."""
    ncols = ncols or n
    nrows = int(np.ceil(n / ncols))
    return plt.subplots(nrows, ncols, figsize=(3.2 * ncols, 2.8 * nrows), sharey=sharey, squeeze=False)


def icl_curves(
    runs: Mapping[str, Mapping[str, Tensor]],
    windows: Mapping[str, PhaseWindow | None],
    ncols: int | None = None,
    sharey: bool = True,
):
    """One panel per model: ICL score against training tokens with its window shaded."""
    names = list(runs)
    fig, axes = _panels(len(names), ncols, sharey)
    nrows = axes.shape[0]
    for ax, name in zip(axes.flat, names):
        m = runs[name]
        keep = m["tokens"] > 0
        shade_window(ax, windows.get(name))
        ax.plot(m["tokens"][keep], m["icl_score"][keep], color=ICL_COLOR, lw=1.5)
        zero_line(ax)
        ax.set_title(name)
        tokens_axis(ax)
    for ax in axes.flat[len(names):]:
        ax.axis("off")
    for ax in axes[:, 0]:
        ax.set_ylabel(ICL_LABEL if nrows == 1 else "ICL score (nats)")
    fig.tight_layout()
    return fig


def loss_heatmaps(metrics: Mapping[str, Tensor], window: PhaseWindow | None = None, title: str = ""):
    """Loss by context index over training, and its derivative with respect to ln(index)."""
    keep = metrics["tokens"] > 0
    tokens = metrics["tokens"][keep].double().numpy()
    loss = metrics["loss_by_position"][keep]
    deriv = loss_derivative_by_log_index(loss)
    index = np.arange(1, loss.shape[1] + 1)
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.4))
    im = axes[0].pcolormesh(tokens, index, loss.T.numpy(), shading="nearest", cmap="viridis")
    fig.colorbar(im, ax=axes[0], label="loss (nats)")
    lim = float(deriv[:, 4:].abs().quantile(0.99))
    im = axes[1].pcolormesh(tokens, index, deriv.T.numpy(), shading="nearest", cmap="RdBu_r",
                            norm=TwoSlopeNorm(0, -lim, lim))
    fig.colorbar(im, ax=axes[1], label="dLoss / d ln(index)")
    for ax, t in zip(axes, ("loss by context index", "its derivative with respect to ln(index)")):
        tokens_axis(ax)
        ax.set_yscale("log")
        ax.set_ylabel("context index")
        ax.set_title(f"{title}: {t}" if title else t)
        if window is not None:
            for x in (window.start, window.end):
                ax.axvline(x, color="white", lw=1, ls="--")
    fig.tight_layout()
    return fig


def loss_heatmap_pairs(
    runs: Mapping[str, Mapping[str, Tensor]],
    windows: Mapping[str, PhaseWindow | None],
    pairs: Sequence[tuple[str, str]],
):
    """Loss by context index over training, one row per ``(model, control)`` pair, the model on
    the left and its control on the right, on one colour scale (so a missing phase change shows
    as a left panel that never darkens at late indices); windows as dashed white lines."""
    fig, axes = plt.subplots(len(pairs), 2, figsize=(10, 2.6 * len(pairs)), squeeze=False, sharey=True)
    shown = [n for pair in pairs for n in pair]
    lo = min(float(runs[n]["loss_by_position"][runs[n]["tokens"] > 0].min()) for n in shown)
    hi = max(float(runs[n]["loss_by_position"][runs[n]["tokens"] > 0].quantile(0.99)) for n in shown)
    for row, pair in zip(axes, pairs):
        for ax, name in zip(row, pair):
            m = runs[name]
            keep = m["tokens"] > 0
            index = np.arange(1, m["loss_by_position"].shape[1] + 1)
            im = ax.pcolormesh(m["tokens"][keep].double().numpy(), index, m["loss_by_position"][keep].T.numpy(),
                               shading="nearest", cmap="viridis", vmin=lo, vmax=hi)
            w = windows.get(name)
            if w is not None:
                for x in (w.start, w.end):
                    ax.axvline(x, color="white", lw=1, ls="--")
            tokens_axis(ax)
            ax.set_yscale("log")
            ax.set_title(name)
        row[0].set_ylabel("context index")
    fig.colorbar(im, ax=axes, label="loss (nats)", shrink=0.8)
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
                ax.plot(m["tokens"][keep], scores[:, layer, head], color=model_color(layer), lw=1,
                        label=f"layer {layer}" if head == 0 else None)
        ax.set_title(name)
        ax.set_ylim(0, 1)
        tokens_axis(ax)
    for ax in axes.flat[len(names):]:
        ax.axis("off")
    axes[0, 0].set_ylabel(ylabel)
    axes[0, -1].legend(fontsize=8, loc="upper left")
    fig.tight_layout()
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
        ax.plot(m["tokens"][keep], top[keep], color=HEAD_CLASS_COLORS["induction"], lw=1.2,
                label="largest prefix matching")
        ax.plot(m["tokens"][keep], repeat_accuracy(m)[keep], color=ICL_COLOR, lw=1.5, label="top-1 on repeats")
        if onsets.get(name) is not None:
            ax.axvline(onsets[name], color=ICL_COLOR, ls=":", lw=1, label="repeat onset")
        ax.set_title(name)
        ax.set_ylim(0, 1)
        tokens_axis(ax)
    for ax in axes.flat[len(names):]:
        ax.axis("off")
    for ax in axes[:, 0]:
        ax.set_ylabel("score / accuracy")
    axes[0, -1].legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    return fig


def loss_curves(
    runs: Mapping[str, Mapping[str, Tensor]],
    bumps: Mapping[str, tuple[float, float] | None] | None = None,
):
    """Held-out loss against training tokens for several models on one axis, bumps marked."""
    fig, ax = plt.subplots(figsize=(6, 3.6))
    for i, (name, m) in enumerate(runs.items()):
        keep = m["tokens"] > 0
        ax.plot(m["tokens"][keep], m["loss_by_position"][keep].mean(-1), color=model_color(i), lw=1.3, label=name)
        bump = (bumps or {}).get(name)
        if bump is not None:
            ax.axvspan(*bump, color=model_color(i), alpha=0.12, lw=0)
    tokens_axis(ax)
    ax.set_ylabel("held-out loss (nats)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def pca_trajectories(pca: LossPCA, windows: Mapping[str, PhaseWindow | None] | None = None,
                     tokens: Mapping[str, Tensor] | None = None, title: str = ""):
    """Each model's path through the first two principal components of per-token losses;
    the snapshots inside its phase-change window are drawn thicker."""
    fig, ax = plt.subplots(figsize=(5, 4.2))
    for i, (name, traj) in enumerate(pca.trajectories.items()):
        ax.plot(traj[:, 0], traj[:, 1], color=model_color(i), lw=1, marker=".", ms=3, label=name)
        w = (windows or {}).get(name)
        if w is not None and tokens is not None:
            inside = (tokens[name] >= w.start) & (tokens[name] <= w.end)
            ax.plot(traj[inside, 0], traj[inside, 1], color=model_color(i), lw=4, alpha=0.5)
        ax.annotate("start", traj[0, :2].tolist(), fontsize=7, color=model_color(i))
    ev = pca.explained_variance_ratio
    ax.set_xlabel(f"PC 1 ({100 * float(ev[0]):.0f}% of variance)")
    ax.set_ylabel(f"PC 2 ({100 * float(ev[1]):.0f}%)")
    ax.set_title(title or "per-token-loss PCA (joint over the family)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def token_loss_strip(str_tokens: Sequence[str], before: Tensor, after: Tensor, width: int = 16,
                     title: str = ""):
    """Per-token loss change (after minus before) on a text, token by token: blue = the model
    got better at this token after the phase change, red = worse."""
    diff = (after - before).numpy()
    lim = max(float(np.abs(diff).max()), 1e-6)
    n = len(diff)
    rows = int(np.ceil(n / width))
    fig, ax = plt.subplots(figsize=(12, 0.42 * rows + 0.8))
    cmap = plt.get_cmap("RdBu_r")
    for i, (tok, d) in enumerate(zip(str_tokens, diff)):
        r, c = divmod(i, width)
        ax.add_patch(plt.Rectangle((c, -r - 1), 1, 1, color=cmap(0.5 + 0.5 * d / lim)))
        ax.text(c + 0.05, -r - 0.5, tok.replace("\n", "\\n").replace(" ", "\u00b7")[:10],
                fontsize=7, va="center", family="monospace")
    ax.set_xlim(0, width)
    ax.set_ylim(-rows, 0)
    ax.axis("off")
    ax.set_title(title or "per-token loss after minus before the phase change (blue = lower loss)")
    sm = plt.cm.ScalarMappable(cmap=cmap, norm=plt.Normalize(-lim, lim))
    fig.colorbar(sm, ax=ax, fraction=0.02, pad=0.01, label="Δ loss (nats)")
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
    fig, axes = plt.subplots(2, len(names), figsize=(3.4 * len(names), 5.4), sharex="col", sharey="row",
                             squeeze=False)
    for j, name in enumerate(names):
        m = runs[name]
        keep = m["tokens"] > 0
        top, bottom = axes[0, j], axes[1, j]
        for ax in (top, bottom):
            shade_window(ax, windows.get(name), label=False)
            tokens_axis(ax)
        top.plot(m["tokens"][keep], m["icl_score"][keep], color=ICL_COLOR)
        top.set_title(name)
        values = per_head[name][keep].flatten(1)
        for i, cls in enumerate(classes[name]):
            bottom.plot(m["tokens"][keep], values[:, i], color=HEAD_CLASS_COLORS[cls], lw=1.2,
                        alpha=0.9 if cls != "other" else 0.6)
        zero_line(bottom)
    axes[0, 0].set_ylabel("ICL score (nats)\nnegative = in-context learning")
    axes[1, 0].set_ylabel(ylabel)
    handles = [plt.Line2D([], [], color=c, label=k) for k, c in HEAD_CLASS_COLORS.items()]
    axes[1, -1].legend(handles=handles, fontsize=8)
    fig.tight_layout()
    return fig


def training_curves(zoo: Zoo):
    """Training loss and ICL score against tokens seen, one line per run of the zoo."""
    fig = Figure(figsize=(9, 3.4), layout="constrained")
    ax_loss, ax_icl = fig.subplots(1, 2)
    for name, run in zoo.items():
        m = run.trajectory
        tokens = m["tokens"].double()
        ok = torch.isfinite(m["train_loss"]) & (tokens > 0)
        ax_loss.plot(tokens[ok], m["train_loss"][ok], label=name, lw=1.2)
        ax_icl.plot(tokens[tokens > 0], m["icl_score"][tokens > 0], label=name, lw=1.2)
    for ax in (ax_loss, ax_icl):
        tokens_axis(ax)
    ax_loss.set_ylabel("training loss (nats)")
    ax_icl.set_ylabel(ICL_LABEL)
    zero_line(ax_icl)
    ax_icl.legend(fontsize=7, ncol=2)
    fig.suptitle(f"The {zoo.size} zoo in training")
    return fig


def repeat_loss_profiles(profiles: Mapping[str, Tensor], length: int, reference: Tensor | None = None,
                         reference_length: int | None = None, reference_label: str = "hand-built circuit"):
    """Loss at every position of a random sequence shown several times (one line per model), the
    copies' boundaries marked; beside it the same for a reference model, if given."""
    n = 2 if reference is not None else 1
    fig, axes = plt.subplots(1, n, figsize=(6.4 * n, 3.4), sharey=True, squeeze=False)
    panels = [(axes[0, 0], profiles, length, "our models' final checkpoints")]
    if reference is not None:
        panels.append((axes[0, 1], {reference_label: reference}, reference_length or length, "the reference"))
    for ax, curves, size, title in panels:
        for i, (name, loss) in enumerate(curves.items()):
            ax.plot(range(1, len(loss) + 1), loss, color=model_color(i), lw=1.1, label=name)
        for b in range(size, len(next(iter(curves.values()))), size):
            ax.axvline(b + 0.5, color="0.6", lw=0.8, ls="--")
        ax.set_xlabel("position (dashed: a new copy starts)")
        ax.set_title(title)
        ax.legend(fontsize=7)
    axes[0, 0].set_ylabel("loss (nats)")
    fig.tight_layout()
    return fig
