"""Chapter 05's figures (Argument 4), in the house style: the loss on a passage shown twice, the
direct-path logit attribution per head, the lag curve, the fuzzy-matching scores with their
intervals, the translation score per head and the pattern-matching shares. Each returns its
figure."""

from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from torch import Tensor

from .palette import ABLATED_COLOR
from .style import (COLUMN_IN, HEAD_CLASS_COLORS, bottom_labels, figure_legend, model_color, model_linestyle,
                    model_styles, panel_grid, zero_line)

__all__ = ["copy_losses", "head_attribution", "lag_curves", "fuzzy_bars", "head_scores_bar"]



def copy_losses(curves: Mapping[str, Tensor], length: int, title: str = ""):
    """Mean loss by position on a passage shown twice, one line per model; the second copy
    starts at the dashed line."""
    fig, ax = plt.subplots(figsize=(COLUMN_IN, 3.4), layout="constrained")
    styles, handles = model_styles(curves)  # more models than a legend holds: coloured by depth
    for name, loss in curves.items():
        ax.plot(np.arange(1, len(loss) + 1), loss.numpy(), color=styles[name]["color"], ls=styles[name]["ls"], lw=1.2)
    ax.axvline(length + 0.5, color="0.3", ls="--", lw=0.8)
    ax.text(length * 0.5, ax.get_ylim()[1] * 0.95, "copy 1", ha="center", va="top", fontsize=9)
    ax.text(length * 1.5, ax.get_ylim()[1] * 0.95, "copy 2", ha="center", va="top", fontsize=9)
    ax.set_xlabel("position of the predicted token")
    ax.set_ylabel("loss (nats)")
    ax.set_title(title)
    figure_legend(fig, handles, ncol=1, loc="outside right upper")
    return fig


def _layer_ticks(ax, labels: Sequence[str], max_labelled: int = 10) -> None:
    """An x axis of heads (``"layer.head"`` labels in order): every head labelled where they fit
    at the house's size, else one tick per layer, the layers separated by thin lines."""
    layers = [int(str(lab).split(".")[0]) for lab in labels]
    if len(labels) <= max_labelled:
        ax.set_xticks(range(len(labels)), labels, rotation=90)
        ax.set_xlabel("head (layer.head)")
        return
    starts = [i for i, layer in enumerate(layers) if i == 0 or layer != layers[i - 1]]
    ends = starts[1:] + [len(labels)]
    ax.set_xticks([(a + b - 1) / 2 for a, b in zip(starts, ends)], [str(layers[a]) for a in starts])
    for a in starts[1:]:
        ax.axvline(a - 0.5, color="0.8", lw=0.6)
    ax.set_xlabel("layer (its heads in order)")


def head_attribution(shares: Mapping[str, Tensor], classes: Mapping[str, Sequence[str]], labels: Mapping[str, Sequence[str]],
                     ylabel: str, ncols: int = 4):
    """One panel per model, in a grid ``ncols`` wide: each head's share (``[layer, head]``), a bar
    coloured by its class; one legend for the figure."""
    names = list(shares)
    fig, axes = panel_grid(len(names), ncols, row_height=2.0, sharey=True)
    for ax, name in zip(axes.flat, names):
        v = shares[name].flatten().numpy()
        ax.bar(range(len(v)), v, color=[HEAD_CLASS_COLORS[c] for c in classes[name]])
        _layer_ticks(ax, labels[name], max_labelled=0)
        ax.set_title(name)
        zero_line(ax)
    bottom_labels(axes, len(names), "layer (its heads in order)")
    for ax in axes[:, 0]:
        ax.set_ylabel(ylabel if axes.shape[0] == 1 else "share of the gain")
    figure_legend(fig, [plt.Rectangle((0, 0), 1, 1, color=c, label=f"{k} head") for k, c in HEAD_CLASS_COLORS.items()])
    if axes.shape[0] > 1:
        fig.suptitle(ylabel)
    return fig


def lag_curves(lags: Tensor, curves: Mapping[str, Mapping[str, Tensor]], window: int = 6, ncols: int = 4):
    """One panel per model, in a grid ``ncols`` wide: probability on each list item by lag, the
    first series (clean) in blue, solid, the second (induction heads ablated) grey and dashed,
    lags ``-window .. window``; lag +1 marked by a vertical line. One legend for the figure."""
    names = list(curves)
    fig, axes = panel_grid(len(names), ncols, row_height=2.0, sharey=True)
    keep = (lags.abs() <= window) & (lags != 0)
    series = list(dict.fromkeys(label for name in names for label in curves[name]))
    for ax, name in zip(axes.flat, names):
        for label, curve in curves[name].items():
            j = series.index(label)
            ax.plot(lags[keep].numpy(), curve[keep].numpy(), marker="o", ms=3, label=label,
                    color=model_color(0) if j == 0 else ABLATED_COLOR, ls="-" if j == 0 else "--")
        ax.axvline(1, color="0.75", lw=1.0, ls=":")
        ax.set_title(name)
    bottom_labels(axes, len(names), "lag from the cue")
    for ax in axes[:, 0]:
        ax.set_ylabel("P(item)")
    handles = [plt.Line2D([], [], color=model_color(0) if j == 0 else ABLATED_COLOR, ls="-" if j == 0 else "--",
                          marker="o", ms=3, label=label) for j, label in enumerate(series)]
    handles.append(plt.Line2D([], [], color="0.75", ls=":", label="lag +1 (the item after the cue's earlier copy)"))
    figure_legend(fig, handles, ncol=3)
    fig.suptitle("probability the model gives each item of the list, by its lag from the cue")
    return fig


def fuzzy_bars(rows: Mapping[str, Mapping[str, tuple[float, float, float]]], title: str = ""):
    """Grouped bars: for each variation (``rows[kind][series] = (mean, low, high)``) the fuzzy
    score and its shuffled control, with their intervals."""
    kinds = list(rows)
    series = list(next(iter(rows.values())))
    width = 0.8 / len(series)
    fig, ax = plt.subplots(figsize=(COLUMN_IN, 3.2), layout="constrained")
    for j, s in enumerate(series):
        mean = np.array([rows[k][s][0] for k in kinds])
        err = np.array([[rows[k][s][0] - rows[k][s][1], rows[k][s][2] - rows[k][s][0]] for k in kinds]).T
        color = HEAD_CLASS_COLORS["induction"] if j == 0 else HEAD_CLASS_COLORS["other"]
        ax.bar(np.arange(len(kinds)) + (j - (len(series) - 1) / 2) * width, mean, width, yerr=err, capsize=3,
               color=color, label=s)
    ax.set_xticks(range(len(kinds)), kinds)
    ax.set_ylabel("attention on the aligned target")
    ax.set_title(title)
    ax.legend(handles=ax.get_legend_handles_labels()[0]
              + [plt.Line2D([], [], color="0.2", marker="_", ms=10, lw=0, label="error bar: 95% interval")])
    return fig


def head_scores_bar(score: Tensor, classes: Sequence[str], labels: Sequence[str], chance: float, ylabel: str,
                    title: str = "", reference: float | None = None, reference_label: str = ""):
    """Each head's score (``[layer, head]``) as a bar coloured by its class, with the chance level
    (dotted) and, optionally, a reference level such as the paper's (dashed)."""
    fig, ax = plt.subplots(figsize=(min(max(0.3 * score.numel() + 2.5, 5.0), COLUMN_IN), 3.0), layout="constrained")
    v = score.flatten().numpy()
    ax.bar(range(len(v)), v, color=[HEAD_CLASS_COLORS[c] for c in classes])
    ax.axhline(chance, color="0.3", ls=":", lw=1, label="uniform attention")
    if reference is not None:
        ax.axhline(reference, color="0.3", ls="--", lw=1, label=reference_label)
    _layer_ticks(ax, labels, max_labelled=16)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    present = [c for c in HEAD_CLASS_COLORS if c in classes]
    figure_legend(fig, ax.get_legend_handles_labels()[0]
                  + [plt.Rectangle((0, 0), 1, 1, color=HEAD_CLASS_COLORS[c], label=f"{c} head") for c in present],
                  ncol=1, loc="outside right upper")
    return fig
