"""Figures and small helpers of the mechanism chapter (paper §Argument 5): the circuit statistics
of every head over training, the QK/OV plane, and the Q/K/V composition scores.

The statistics themselves are computed in :mod:`induction_heads.measure.circuits` (and recorded at every
snapshot by the trainer); this module only reads, ranks and draws them. Heads are coloured by
their class (:func:`induction_heads.measure.heads.classify_heads`) with the colours of
:data:`induction_heads.book.style.HEAD_CLASS_COLORS`.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from jaxtyping import Float
from matplotlib.colors import TwoSlopeNorm
from torch import Tensor

from ..measure.heads import head_labels
from ..measure.phase import PhaseWindow
from .style import HEAD_CLASS_COLORS, WINDOW_COLOR, shade_window, tokens_axis, zero_line

__all__ = [
    "OV_CORNER",
    "K_TRACE_LABEL",
    "normalise_by_max_abs",
    "corner_entry",
    "top_compositions",
    "circuit_curves",
    "qk_ov_plane",
    "composition_heatmaps",
]

# The OV positivity an induction head must pass (the chapter's claim); the K-composition trace
# must be positive.
OV_CORNER = 0.5
K_TRACE_LABEL = "K-composition trace / largest |trace| of the layer"


def normalise_by_max_abs(x: Tensor, dim: int | Sequence[int] | None = None) -> Tensor:
    """``x / max|x|`` over ``dim`` (all axes by default), ignoring NaN; signs are kept and the
    result lies in [-1, 1]. A slice that is all zero (or all NaN) is returned unchanged.

    The chapter divides the K-composition trace of every head of a layer by one number, the
    largest ``|trace|`` of that layer over training (``dim=(0, 1)`` on ``[snapshot, head]``):
    the trace's units are the raw bilinear form's and grow with the weights, so only its sign
    and its size relative to the other heads of the same model mean something. A separate
    scale per head would stretch a head whose trace stays near zero to the same +-1 as the
    induction head.
    """
    size = torch.nan_to_num(x.abs(), nan=0.0)
    scale = size.amax() if dim is None else size.amax(dim=dim, keepdim=True)
    return x / torch.where(scale > 0, scale, torch.ones_like(scale))


def corner_entry(
    tokens: Float[Tensor, "snapshot"],
    k_trace: Float[Tensor, "snapshot"],
    ov_positivity: Float[Tensor, "snapshot"],
    ov_min: float = OV_CORNER,
) -> float | None:
    """Training tokens at the first snapshot from which a head stays in the positive corner of
    the QK/OV plane (K-composition trace > 0 and OV positivity > ``ov_min``) to the end of
    training; None if it is not there at the last snapshot."""
    inside = (k_trace > 0) & (ov_positivity > ov_min)
    if not bool(inside[-1]):
        return None
    outside = torch.nonzero(~inside)
    first = 0 if len(outside) == 0 else int(outside[-1]) + 1
    return float(tokens[first])


def top_compositions(
    scores: Mapping[str, Float[Tensor, "src_layer src_head dst_layer dst_head"]],
    dst: str | None = None,
    k: int | None = None,
) -> list[tuple[str, str, str, float]]:
    """``(mode, source head, destination head, score)`` for every defined pair, largest score
    first: all pairs, or only those into head ``dst`` (``"layer.head"``); the first ``k``."""
    rows = []
    for mode, s in scores.items():
        L, H = s.shape[:2]
        names = head_labels(L, H)
        flat = s.reshape(L * H, L * H)
        for i, j in torch.nonzero(~flat.isnan()).tolist():
            if dst is None or names[j] == dst:
                rows.append((mode, names[i], names[j], float(flat[i, j])))
    rows.sort(key=lambda r: -r[3])
    return rows if k is None else rows[:k]


def circuit_curves(
    tokens: Float[Tensor, "snapshot"],
    ov_positivity: Float[Tensor, "snapshot layer head"],
    k_trace: Float[Tensor, "snapshot layer head"],
    classes: Sequence[str],
    window: PhaseWindow | None = None,
    title: str = "",
):
    """Left: every head's OV eigenvalue positivity over training; right: the K-composition
    trace of every head of the later layers, scaled per layer by :func:`normalise_by_max_abs`.
    Heads are coloured by their (final) class; the phase-change window is shaded."""
    keep = tokens > 0
    t = tokens[keep].double().numpy()
    S, L, H = ov_positivity.shape
    labels = head_labels(L, H)
    fig, (ax_ov, ax_k) = plt.subplots(1, 2, figsize=(10, 3.4))
    for ax in (ax_ov, ax_k):
        shade_window(ax, window, label=ax is ax_ov)
        zero_line(ax)
    for i, (label, cls) in enumerate(zip(labels, classes)):
        layer, head = divmod(i, H)
        kw = dict(color=HEAD_CLASS_COLORS[cls], lw=1.8 if cls == "induction" else 1.0, ls="-" if layer == L - 1 else "--")
        ax_ov.plot(t, ov_positivity[keep, layer, head], **kw)
        ax_ov.annotate(label, (t[-1], float(ov_positivity[-1, layer, head])), fontsize=7, color=kw["color"])
    ax_ov.axhline(OV_CORNER, color="0.3", lw=0.8, ls=":")
    for layer in range(1, L):
        scaled = normalise_by_max_abs(k_trace[:, layer], dim=(0, 1))
        for head in range(H):
            cls = classes[layer * H + head]
            ax_k.plot(t, scaled[keep, head], color=HEAD_CLASS_COLORS[cls], lw=1.8 if cls == "induction" else 1.0,
                      ls="-" if layer == L - 1 else "--")
            ax_k.annotate(f"{layer}.{head}", (t[-1], float(scaled[-1, head])), fontsize=7, color=HEAD_CLASS_COLORS[cls])
    for cls, color in HEAD_CLASS_COLORS.items():
        if cls in classes:
            ax_ov.plot([], [], color=color, label=f"{cls} head")
    if L > 1:
        ax_ov.plot([], [], color="0.3", ls="--", lw=1.0, label="earlier layers dashed")
    ax_ov.set_ylim(-1.05, 1.05)
    ax_ov.set_ylabel("OV eigenvalue positivity")
    ax_ov.set_title("copying: OV circuit" + (f" ({title})" if title else ""))
    ax_ov.legend(fontsize=7, loc="upper left")
    ax_k.set_ylim(-1.05, 1.05)
    ax_k.set_ylabel(K_TRACE_LABEL, fontsize=8)
    ax_k.set_title("matching: K-composition trace")
    for ax in (ax_ov, ax_k):
        tokens_axis(ax)
    fig.tight_layout()
    return fig


def qk_ov_plane(
    tokens: Float[Tensor, "snapshot"],
    k_trace: Float[Tensor, "snapshot head"],
    ov_positivity: Float[Tensor, "snapshot head"],
    labels: Sequence[str],
    classes: Sequence[str],
    window: PhaseWindow | None = None,
    title: str = "",
):
    """The Framework paper's QK/OV plane over training: one trajectory per head (of one layer),
    x = its K-composition trace scaled by the layer's largest ``|trace|``, y = its OV eigenvalue
    positivity. Open circle = first snapshot, filled = last; the part of each path inside the
    phase-change window is underlaid in the window's colour. The positive corner (x > 0, y > ``OV_CORNER``) is shaded.
    """
    x = normalise_by_max_abs(k_trace, dim=(0, 1))
    t = tokens.double()
    fig, ax = plt.subplots(figsize=(5.2, 4.4))
    ax.axvspan(0, 1.1, ymin=(OV_CORNER + 1.1) / 2.2, ymax=1, color="C2", alpha=0.08, lw=0)
    zero_line(ax)
    zero_line(ax, vertical=True)
    for h, (label, cls) in enumerate(zip(labels, classes)):
        color = HEAD_CLASS_COLORS[cls]
        xs, ys = x[:, h].numpy(), ov_positivity[:, h].numpy()
        ax.plot(xs, ys, color=color, lw=1, marker=".", ms=3, alpha=0.8)
        if window is not None:
            inside = ((t >= window.start) & (t <= window.end)).numpy()
            ax.plot(np.where(inside, xs, np.nan), np.where(inside, ys, np.nan), color=WINDOW_COLOR, lw=6,
                    alpha=0.6, zorder=1)
        ax.plot(xs[0], ys[0], "o", mfc="white", color=color, ms=6)
        ax.plot(xs[-1], ys[-1], "o", color=color, ms=7)
        ax.annotate(label, (xs[-1], ys[-1]), textcoords="offset points", xytext=(5, 4), fontsize=8, color=color)
    for cls, color in HEAD_CLASS_COLORS.items():
        if cls in classes:
            ax.plot([], [], color=color, label=f"{cls} head (final class)")
    if window is not None:
        ax.plot([], [], color=WINDOW_COLOR, lw=6, alpha=0.6, label="inside the phase-change window")
    ax.set_xlim(-1.1, 1.1)
    ax.set_ylim(-1.1, 1.1)
    ax.set_xlabel(K_TRACE_LABEL)
    ax.set_ylabel("OV eigenvalue positivity")
    ax.set_title(title or "QK/OV plane over training")
    ax.legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    return fig


def composition_heatmaps(
    scores: Mapping[str, Float[Tensor, "src_layer src_head dst_layer dst_head"]],
    baseline: float | None = None,
    title: str = "",
):
    """One heatmap per mode (Q, K, V): rows = source heads (every layer but the last), columns =
    destination heads (every layer but the first); scores are baseline-subtracted, so 0 (white)
    is what random matrices of the same shapes give. Undefined pairs (source not earlier) are
    blank."""
    modes = list(scores)
    L, H = next(iter(scores.values())).shape[:2]
    labels = head_labels(L, H)
    src, dst = labels[: (L - 1) * H], labels[H:]
    blocks = {m: s.reshape(L * H, L * H)[: (L - 1) * H, H:].numpy() for m, s in scores.items()}
    lim = max(float(np.nanmax(np.abs(b))) for b in blocks.values()) or 1.0
    norm = TwoSlopeNorm(0.0, -lim, lim)
    side = 0.45 * max(len(dst), 4) + 1.0
    fig, axes = plt.subplots(1, len(modes), figsize=(side * len(modes) + 1.2, 0.45 * max(len(src), 4) + 1.6),
                             squeeze=False, layout="constrained")
    for ax, mode in zip(axes[0], modes):
        b = blocks[mode]
        im = ax.imshow(np.ma.masked_invalid(b), cmap="RdBu_r", norm=norm, aspect="auto")
        ax.set_xticks(range(len(dst)), dst, fontsize=7)
        ax.set_yticks(range(len(src)), src, fontsize=7)
        ax.set_xlabel("destination head")
        ax.grid(False)
        if b.size <= 100:
            for (i, j), v in np.ndenumerate(b):
                if np.isfinite(v):
                    ax.text(j, i, f"{v:+.2f}", ha="center", va="center", fontsize=6,
                            color="white" if abs(v) > 0.6 * lim else "black")
        ax.set_title(f"{mode}-composition")
    axes[0, 0].set_ylabel("source head")
    fig.colorbar(im, ax=list(axes[0]), shrink=0.85, label="score minus random baseline")
    suffix = f" (random baseline {baseline:.3f} subtracted)" if baseline is not None else ""
    fig.suptitle((title or "composition scores") + suffix, fontsize=9)
    return fig
