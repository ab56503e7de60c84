"""Chapter 05's figures (Argument 4), in the house style: the loss on a passage shown twice, the
direct-path logit attribution per head, the lag curve, the fuzzy-matching scores with their
intervals, the translation score per head and the pattern-matching shares. Each returns its
figure."""

from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from torch import Tensor

from .style import HEAD_CLASS_COLORS, model_color, zero_line

__all__ = ["copy_losses", "head_attribution", "lag_curves", "fuzzy_bars", "head_scores_bar"]

ABLATED_COLOR = "0.45"


def copy_losses(curves: Mapping[str, Tensor], length: int, title: str = ""):
    """Mean loss by position on a passage shown twice, one line per model; the second copy
    starts at the dashed line."""
    fig, ax = plt.subplots(figsize=(7, 3))
    for i, (name, loss) in enumerate(curves.items()):
        ax.plot(np.arange(1, len(loss) + 1), loss.numpy(), color=model_color(i), lw=1.2, label=name)
    ax.axvline(length + 0.5, color="0.3", ls="--", lw=0.8)
    ax.text(length * 0.5, ax.get_ylim()[1] * 0.95, "copy 1", ha="center", va="top", fontsize=9)
    ax.text(length * 1.5, ax.get_ylim()[1] * 0.95, "copy 2", ha="center", va="top", fontsize=9)
    ax.set_xlabel("position of the predicted token")
    ax.set_ylabel("loss (nats)")
    ax.set_title(title)
    ax.legend(fontsize=8, ncol=2)
    fig.tight_layout()
    return fig


def head_attribution(shares: Mapping[str, Tensor], classes: Mapping[str, Sequence[str]], labels: Mapping[str, Sequence[str]],
                     ylabel: str):
    """One panel per model: each head's share (``[layer, head]``), a bar coloured by its class."""
    names = list(shares)
    fig, axes = plt.subplots(1, len(names), figsize=(max(2.4 * len(names), 4), 2.8), sharey=True, squeeze=False)
    for ax, name in zip(axes[0], names):
        v = shares[name].flatten().numpy()
        ax.bar(range(len(v)), v, color=[HEAD_CLASS_COLORS[c] for c in classes[name]])
        ax.set_xticks(range(len(v)), labels[name], rotation=90, fontsize=7)
        ax.set_title(name, fontsize=9)
        zero_line(ax)
    axes[0, 0].set_ylabel(ylabel)
    handles = [plt.Rectangle((0, 0), 1, 1, color=c, label=k) for k, c in HEAD_CLASS_COLORS.items()]
    axes[0, -1].legend(handles=handles, fontsize=7)
    fig.tight_layout()
    return fig


def lag_curves(lags: Tensor, curves: Mapping[str, Mapping[str, Tensor]], window: int = 6):
    """One panel per model: probability on each list item by lag, clean (the model's colour) and
    with its induction heads ablated (grey, dashed), lags ``-window .. window``."""
    names = list(curves)
    fig, axes = plt.subplots(1, len(names), figsize=(max(2.6 * len(names), 4), 2.8), sharey=True, squeeze=False)
    keep = (lags.abs() <= window) & (lags != 0)
    for i, (ax, name) in enumerate(zip(axes[0], names)):
        for j, (label, curve) in enumerate(curves[name].items()):
            ax.plot(lags[keep].numpy(), curve[keep].numpy(), marker="o", ms=3, label=label,
                    color=model_color(i) if j == 0 else ABLATED_COLOR, ls="-" if j == 0 else "--")
        ax.axvline(1, color="0.8", lw=0.8)
        ax.set_xlabel("lag from the cue")
        ax.set_title(name, fontsize=9)
    axes[0, 0].set_ylabel("probability at the cue")
    axes[0, -1].legend(fontsize=7)
    fig.tight_layout()
    return fig


def fuzzy_bars(rows: Mapping[str, Mapping[str, tuple[float, float, float]]], title: str = ""):
    """Grouped bars: for each variation (``rows[kind][series] = (mean, low, high)``) the fuzzy
    score and its shuffled control, with their intervals."""
    kinds = list(rows)
    series = list(next(iter(rows.values())))
    width = 0.8 / len(series)
    fig, ax = plt.subplots(figsize=(7, 3))
    for j, s in enumerate(series):
        mean = np.array([rows[k][s][0] for k in kinds])
        err = np.array([[rows[k][s][0] - rows[k][s][1], rows[k][s][2] - rows[k][s][0]] for k in kinds]).T
        color = HEAD_CLASS_COLORS["induction"] if j == 0 else HEAD_CLASS_COLORS["other"]
        ax.bar(np.arange(len(kinds)) + (j - (len(series) - 1) / 2) * width, mean, width, yerr=err, capsize=3,
               color=color, label=s)
    ax.set_xticks(range(len(kinds)), kinds)
    ax.set_ylabel("attention on the aligned target")
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def head_scores_bar(score: Tensor, classes: Sequence[str], labels: Sequence[str], chance: float, ylabel: str,
                    title: str = "", reference: float | None = None, reference_label: str = ""):
    """Each head's score (``[layer, head]``) as a bar coloured by its class, with the chance level
    (dotted) and, optionally, a reference level such as the paper's (dashed)."""
    fig, ax = plt.subplots(figsize=(max(0.4 * score.numel(), 4), 2.8))
    v = score.flatten().numpy()
    ax.bar(range(len(v)), v, color=[HEAD_CLASS_COLORS[c] for c in classes])
    ax.axhline(chance, color="0.3", ls=":", lw=1, label="uniform attention")
    if reference is not None:
        ax.axhline(reference, color="0.3", ls="--", lw=1, label=reference_label)
    ax.set_xticks(range(len(v)), labels, rotation=90, fontsize=7)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig
