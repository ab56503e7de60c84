"""Chapter 06's figures (Argument 5, the mechanism): the circuit statistics of every head over
training, the QK/OV plane, the Q/K/V composition scores, the loss along a random sequence shown
several times (beside the hand-built circuit's), a longer run's copying, and what stops the copy.

The statistics themselves are computed in :mod:`induction_heads.measure.circuits` (and recorded at
every snapshot by the trainer) and ranked in :mod:`induction_heads.book.argument5`; this module
only draws them. Heads are coloured by
their class (:func:`induction_heads.measure.heads.classify_heads`) with the colours of
:data:`induction_heads.book.figures.style.HEAD_CLASS_COLORS`.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from jaxtyping import Float
from matplotlib.colors import TwoSlopeNorm
from torch import Tensor

from ...measure.copying import MISS_CLASSES
from ...measure.heads import head_labels, induction_heads
from ...measure.phase import PhaseWindow
from ...measure.intervals import bootstrap_band
from ...measure.heads import parse_head
from ..argument5 import COPYING_REACHED, OV_CORNER, PUBLIC_COPYING_ANCHOR, normalise_by_max_abs, repeat_top1_samples
from .style import (COLUMN_IN, HEAD_CLASS_COLORS, WINDOW_COLOR, figure_legend, model_styles, robust_limits, shade_window,
                    spread_labels, tokens_axis, window_handle, zero_line)

__all__ = [
    "K_TRACE_LABEL",
    "circuit_heads",
    "draw_circuit",
    "circuit_hero",
    "circuit_curves",
    "qk_ov_plane",
    "composition_heatmaps",
    "long_run",
    "copying_gain",
    "copying_misses",
    "repeat_loss_profiles",
]

K_TRACE_LABEL = "K-composition trace / largest |trace| of the layer"


def circuit_heads(trajectory: Mapping[str, Tensor]) -> tuple[str, list[str]]:
    """The heads :func:`circuit_hero` follows, from a run's last snapshot: the previous-token head
    the induction heads should read (the first layer's best previous-token head, ``"0.h"``) and the
    induction heads (:func:`~induction_heads.measure.heads.induction_heads`)."""
    previous = f"0.{int(trajectory['previous_token'][-1][0].argmax())}"
    return previous, induction_heads(trajectory["prefix_matching"][-1], trajectory["copying"][-1])


def draw_circuit(ax, tokens: Float[Tensor, "snapshot"], scores: Mapping[str, Float[Tensor, "snapshot layer head"]],
                 previous_head: str, induction: Sequence[str], window: PhaseWindow | None = None,
                 scale: float = 1.0) -> None:
    """:func:`circuit_hero`'s data on ``ax``: the window shaded, the previous-token head's score
    (blue), each induction head's prefix-matching score (red) and OV positivity (red, dashed), the
    y axis from just below the lowest of them to 1.05; every line ``scale`` times the hero's width
    (the front page's miniature draws it small)."""
    keep = tokens > 0
    t = tokens[keep].double().numpy()
    shade_window(ax, window, label=False)
    zero_line(ax)
    lines = [scores["previous_token"][(keep, *parse_head(previous_head))]]
    ax.plot(t, lines[0], color=HEAD_CLASS_COLORS["previous-token"], lw=1.6 * scale)
    for h in induction:
        for key, ls, lw in (("prefix_matching", "-", 1.6), ("ov_positivity", "--", 1.2)):
            lines.append(scores[key][(keep, *parse_head(h))])
            ax.plot(t, lines[-1], color=HEAD_CLASS_COLORS["induction"], ls=ls, lw=lw * scale)
    low = min(0.0, min(float(v.min()) for v in lines))
    ax.set_ylim(low - 0.05 * (1 - low), 1.05)


def circuit_hero(tokens: Float[Tensor, "snapshot"], scores: Mapping[str, Float[Tensor, "snapshot layer head"]],
                 previous_head: str, induction: Sequence[str], window: PhaseWindow | None = None):
    """Argument 5 in one figure: the two halves of the circuit over training. The previous-token
    head's previous-token score (blue), each induction head's prefix-matching score (red) and its
    OV eigenvalue positivity (red, dashed: its OV circuit copies when positive); the phase-change
    window shaded. ``scores``: a trajectory's ``previous_token``, ``prefix_matching`` and
    ``ov_positivity``."""
    fig, ax = plt.subplots(figsize=(0.8 * COLUMN_IN, 3.2), layout="constrained")
    draw_circuit(ax, tokens, scores, previous_head, induction, window)
    ax.set_ylabel("score")
    tokens_axis(ax)
    heads_text = ", ".join(induction) or "none"
    figure_legend(fig, [plt.Line2D([], [], color=HEAD_CLASS_COLORS["previous-token"], lw=1.6,
                                   label=f"previous-token head {previous_head}: previous-token score"),
                        plt.Line2D([], [], color=HEAD_CLASS_COLORS["induction"], lw=1.6,
                                   label=f"induction heads {heads_text}: prefix-matching score"),
                        plt.Line2D([], [], color=HEAD_CLASS_COLORS["induction"], lw=1.2, ls="--",
                                   label="their OV circuits: eigenvalue positivity (copying)"),
                        window_handle() if window is not None else None], ncol=1)
    return fig


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
    fig, (ax_ov, ax_k) = plt.subplots(1, 2, figsize=(COLUMN_IN, 3.6), layout="constrained")
    for ax in (ax_ov, ax_k):
        shade_window(ax, window, label=False)
        zero_line(ax)
    for i, (label, cls) in enumerate(zip(labels, classes)):
        layer, head = divmod(i, H)
        kw = dict(color=HEAD_CLASS_COLORS[cls], lw=1.8 if cls == "induction" else 1.0, ls="-" if layer == L - 1 else "--")
        ax_ov.plot(t, ov_positivity[keep, layer, head], **kw)
        ax_ov.annotate(label, (t[-1], float(ov_positivity[-1, layer, head])), fontsize=8, color=kw["color"])
    ax_ov.axhline(OV_CORNER, color="0.3", lw=0.8, ls=":")
    for layer in range(1, L):
        scaled = normalise_by_max_abs(k_trace[:, layer], dim=(0, 1))
        for head in range(H):
            cls = classes[layer * H + head]
            ax_k.plot(t, scaled[keep, head], color=HEAD_CLASS_COLORS[cls], lw=1.8 if cls == "induction" else 1.0,
                      ls="-" if layer == L - 1 else "--")
            ax_k.annotate(f"{layer}.{head}", (t[-1], float(scaled[-1, head])), fontsize=8, color=HEAD_CLASS_COLORS[cls])
    handles = [plt.Line2D([], [], color=color, lw=1.8 if cls == "induction" else 1.0, label=f"{cls} head")
               for cls, color in HEAD_CLASS_COLORS.items() if cls in classes]
    if L > 1:
        handles.append(plt.Line2D([], [], color="0.3", ls="--", lw=1.0, label="dashed: an earlier layer's head"))
    handles.append(plt.Line2D([], [], color="0.3", ls=":", lw=0.8, label=f"dotted: OV positivity {OV_CORNER:g}"))
    handles.append(window_handle() if window is not None else None)
    ax_ov.set_ylim(-1.05, 1.05)
    ax_ov.set_ylabel("OV eigenvalue positivity")
    ax_ov.set_title("copying: OV circuit")
    ax_k.set_ylim(-1.05, 1.05)
    ax_k.set_ylabel("K-composition trace\n(/ largest |trace| of the layer)")
    ax_k.set_title("matching: K-composition trace")
    for ax in (ax_ov, ax_k):
        tokens_axis(ax)
    figure_legend(fig, handles, ncol=3)
    if title:
        fig.suptitle(title)
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
    The axes frame the paths (with the origin and a margin), not the whole [-1, 1] square; each
    head is labelled at its last snapshot, the labels moved apart so none overlaps another.
    """
    x = normalise_by_max_abs(k_trace, dim=(0, 1))
    t = tokens.double()
    fig, ax = plt.subplots(figsize=(COLUMN_IN, 4.0), layout="constrained")
    xs_all, ys_all = x.numpy(), ov_positivity.numpy()
    xlim = robust_limits(xs_all, 0, 100, 0.08, include=(0.0,))
    ylim = robust_limits(ys_all, 0, 100, 0.08, include=(0.0,))
    xlim = (max(xlim[0], -1.1), min(xlim[1], 1.1) + 0.12 * (xlim[1] - xlim[0]))  # room for the end labels
    ylim = (max(ylim[0], -1.1), min(ylim[1], 1.1))
    ax.fill_between([0, 1.1], OV_CORNER, 1.1, color="C2", alpha=0.08, lw=0)
    zero_line(ax)
    zero_line(ax, vertical=True)
    ends = []
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
        ends.append(((float(xs[-1]), float(ys[-1])), label, color))
    for cls, color in HEAD_CLASS_COLORS.items():
        if cls in classes:
            ax.plot([], [], color=color, label=f"{cls} head (final class)")
    if window is not None:
        ax.plot([], [], color=WINDOW_COLOR, lw=6, alpha=0.6, label="inside the phase-change window")
    ax.plot([], [], "o", mfc="white", color="0.3", ms=6, lw=0, label="first snapshot")
    ax.plot([], [], "o", color="0.3", ms=7, lw=0, label="last snapshot")
    ax.fill_between([], [], color="C2", alpha=0.15, lw=0, label=f"corner: trace > 0 and OV > {OV_CORNER:g}")
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.set_xlabel(K_TRACE_LABEL)
    ax.set_ylabel("OV eigenvalue positivity")
    ax.set_title(title or "QK/OV plane over training")
    figure_legend(fig, ax.get_legend_handles_labels()[0], ncol=1, loc="outside right upper")
    fig.canvas.draw()  # the layout fixes the axes' size before the labels are placed
    spread_labels(ax, [p for p, _, _ in ends], [lb for _, lb, _ in ends], [c for _, _, c in ends], offset=(7, 0))
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
    side = (COLUMN_IN - 1.4) / len(modes)  # inches per heatmap
    cell = side / max(len(dst), 1)
    fig, axes = plt.subplots(1, len(modes), figsize=(COLUMN_IN, min(cell * len(src), side * 1.3) + 1.6),
                             squeeze=False, layout="constrained")
    for ax, mode in zip(axes[0], modes):
        b = blocks[mode]
        im = ax.imshow(np.ma.masked_invalid(b), cmap="RdBu_r", norm=norm, aspect="auto")
        step = max(1, int(np.ceil(len(dst) * 10 / (side * 72))))  # a label per ~10 pt
        ax.set_xticks(range(0, len(dst), step), dst[::step], rotation=90)
        ax.set_yticks(range(0, len(src), step), src[::step])
        ax.set_xlabel("destination head")
        ax.grid(False)
        if cell * 72 >= 30:  # room for "+0.00" at 8 pt
            for (i, j), v in np.ndenumerate(b):
                if np.isfinite(v):
                    ax.text(j, i, f"{v:+.2f}", ha="center", va="center", fontsize=8,
                            color="white" if abs(v) > 0.6 * lim else "black")
        ax.set_title(f"{mode}-composition")
    axes[0, 0].set_ylabel("source head")
    fig.colorbar(im, ax=list(axes[0]), shrink=0.85, label="score minus random baseline")
    suffix = f" (random baseline {baseline:.3f} subtracted)" if baseline is not None else ""
    fig.suptitle((title or "composition scores") + suffix)
    return fig


def long_run(trajectory, mark_tokens: float, head: str, window: PhaseWindow | None = None,
             anchor: tuple[float, float] = PUBLIC_COPYING_ANCHOR):
    """The long run over training, four panels on a log axis of training tokens: the repeat
    test's top-1 and loss on copies 2-4 (mean over the random-token sequences, 95% bootstrap
    band), ``head``'s prefix-matching score and OV positivity, and the direct logits on the
    copied token (the head's, the direct path's, and the total). The short run's length
    (``mark_tokens``) is a dashed line; the public models' copying region (``anchor``) is hatched."""
    t = trajectory.tokens_seen.double().numpy()
    layer, h = parse_head(head)
    fig, axes = plt.subplots(2, 2, figsize=(COLUMN_IN, 5.4), layout="constrained", sharex=True)
    (ax_top1, ax_loss), (ax_head, ax_logit) = axes
    top1 = repeat_top1_samples(trajectory)
    loss = trajectory["repeat_loss_by_sequence"][..., 1:].double().mean(-1)
    for ax, samples, label in ((ax_top1, top1, "top-1 on copies 2-4"), (ax_loss, loss, "loss on copies 2-4 (nats)")):
        mean, lo, hi = bootstrap_band(samples)
        ax.fill_between(t, lo.numpy(), hi.numpy(), color="C0", alpha=0.25, lw=0)
        ax.plot(t, mean.numpy(), color="C0", lw=1.6)
        ax.set_ylabel(label)
    ax_top1.axhline(COPYING_REACHED, color="0.3", lw=0.8, ls=":")
    ax_top1.set_ylim(0, 1)
    ax_top1.set_title("repeat test")
    ax_head.plot(t, trajectory["prefix_matching"][:, layer, h].numpy(), color="C1", lw=1.6, label=f"{head}: prefix matching")
    ax_head.plot(t, trajectory["ov_positivity"][:, layer, h].numpy(), color="C2", lw=1.6, label=f"{head}: OV positivity")
    ax_head.set_ylim(-1.05, 1.05)
    ax_head.set_title(f"induction head {head}")
    ax_head.legend(loc="lower right")
    ax_logit.plot(t, trajectory["copied_logit_heads"][:, layer, h].numpy(), color="C1", lw=1.6, label=f"head {head}")
    ax_logit.plot(t, trajectory["copied_logit_direct"].numpy(), color="C4", lw=1.6, label="direct path")
    ax_logit.plot(t, trajectory["copied_logit"].numpy(), color="0.2", lw=1.2, ls="--", label="total")
    ax_logit.set_ylabel("logit of the copied token")
    ax_logit.set_title("direct logits on the copied token")
    ax_logit.legend(loc="upper left")
    for ax in axes.flat:
        shade_window(ax, window, label=False)
        ax.axvspan(*anchor, facecolor="none", edgecolor="0.6", hatch="//", lw=0)
        ax.axvline(mark_tokens, color="0.3", lw=1.0, ls="--")
        tokens_axis(ax)
    for ax in axes[0]:
        ax.set_xlabel("")
    zero_line(ax_logit)
    handles = [plt.Line2D([], [], color="C0", lw=1.6, label="mean over the sequences (band: 95% bootstrap)"),
               plt.Line2D([], [], color="0.3", ls="--", lw=1.0, label=f"dashed: the zoo's length ({mark_tokens / 1e6:.1f}M)"),
               plt.Line2D([], [], color="0.3", ls=":", lw=0.8, label=f"dotted: top-1 {COPYING_REACHED:g}"),
               plt.Rectangle((0, 0), 1, 1, facecolor="none", edgecolor="0.6", hatch="//",
                             label=f"hatched: public 2-layer models' repeat loss falls ({anchor[0] / 1e6:.0f}M-{anchor[1] / 1e6:.0f}M)"),
               window_handle() if window is not None else None]
    figure_legend(fig, handles, ncol=2)
    return fig


def copying_gain(diagnostics: Mapping[str, object], ceiling, reached: float = COPYING_REACHED):
    """Top-1 on copies 2-4 of repeated random tokens with every induction head's output scaled by
    ``k`` (:func:`induction_heads.measure.copying.top1_under_head_gain`), one line per model with
    its 95% band over sequences; the hand-built circuit (``ceiling``) dashed black; ``k = 1`` (the
    model as trained) and ``reached`` marked."""
    fig, ax = plt.subplots(figsize=(COLUMN_IN, 3.6), layout="constrained")
    for i, (name, d) in enumerate(diagnostics.items()):
        curve = d.gain_curve()
        ks = [k for k, _ in curve]
        ax.plot(ks, [iv.value for _, iv in curve], marker="o", ms=3, color=f"C{i}", label=name)
        ax.fill_between(ks, [iv.lo for _, iv in curve], [iv.hi for _, iv in curve], color=f"C{i}", alpha=0.15, lw=0)
    ceiling_curve = ceiling.gain_curve()
    ax.plot([k for k, _ in ceiling_curve], [iv.value for _, iv in ceiling_curve], color="black", ls="--", lw=1.2,
            label="hand-built circuit (the ceiling)")
    ax.axhline(reached, color="0.4", lw=0.8, ls=":")
    ax.axvline(1.0, color="0.4", lw=0.8)
    ax.text(1.05, 0.02, "as trained (k = 1)", fontsize=8, color="0.3")
    ax.text(ax.get_xlim()[1], reached + 0.015, f"{reached:g}", fontsize=8, color="0.3", ha="right")
    ax.set_xlabel("k: the induction heads' output multiplied by")
    ax.set_ylabel("top-1 on copies 2-4")
    ax.set_ylim(0, 1.05)
    ax.legend(loc="lower right", fontsize=8, frameon=False)
    return fig


def copying_misses(diagnostics: Mapping[str, object], ceiling):
    """Three views of what stops the copy, one row of panels: the share of the vocabulary whose own
    logit is the largest each induction head's full OV circuit writes (dots: each head; bar: the
    heads summed; the hand-built circuit's 1 dashed); what wins the misses, by class, as shares of
    the misses; top-1 on the copies by the target's training count (quartiles of the random-token
    pool), with 95% intervals."""
    names = list(diagnostics)
    fig, (ax_ov, ax_miss, ax_freq) = plt.subplots(1, 3, figsize=(COLUMN_IN, 3.4), layout="constrained",
                                                   gridspec_kw={"width_ratios": [1.1, 1.1, 1.2]})
    y = np.arange(len(names))
    for i, name in enumerate(names):
        d = diagnostics[name]
        ax_ov.barh(i, d.ov["summed"].own_share if "summed" in d.ov else 0, color=f"C{i}", alpha=0.5)
        ax_ov.scatter([v.own_share for h, v in d.ov.items() if h != "summed"], [i] * (len(d.ov) - ("summed" in d.ov)),
                      color=f"C{i}", s=14, zorder=3)
    ax_ov.axvline(ceiling.ov["summed"].own_share, color="black", ls="--", lw=1)
    ax_ov.set_yticks(y, names, fontsize=8)
    ax_ov.invert_yaxis()
    ax_ov.set_xlim(0, 1.02)
    ax_ov.set_xlabel("own token ranked first\n(share of the vocabulary)")
    miss_colors = {"successor": "#2874a6", "in sequence": "#c0392b", "frequent": "#f5b041", "other": "0.7"}
    for i, name in enumerate(names):
        left = 0.0
        for cls in MISS_CLASSES:
            share = diagnostics[name].miss_shares[cls].value
            share = 0.0 if share != share else share
            ax_miss.barh(i, share, left=left, color=miss_colors[cls], label=cls if i == 0 else None)
            left += share
    ax_miss.set_yticks(y, [""] * len(names))
    ax_miss.invert_yaxis()
    ax_miss.set_xlim(0, 1)
    ax_miss.set_xlabel("what wins a miss\n(share of the misses)")
    ax_miss.legend(fontsize=7, frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.28), ncol=2)
    for i, name in enumerate(names):
        bins = diagnostics[name].top1_by_frequency
        x = np.arange(len(bins)) + (i - (len(names) - 1) / 2) * 0.08
        ax_freq.errorbar(x, [b.value for b in bins], yerr=[[b.value - b.lo for b in bins], [b.hi - b.value for b in bins]],
                         fmt="o-", ms=3, lw=1, capsize=2, color=f"C{i}")
    ax_freq.axhline(1.0, color="black", ls="--", lw=1)
    ax_freq.set_xticks(range(len(bins)), [f"Q{q + 1}" for q in range(len(bins))])
    ax_freq.set_xlabel("the target's count in training\n(quartile; Q4 the commonest)")
    ax_freq.set_ylabel("top-1 on copies 2-4")
    ax_freq.set_ylim(0, 1.05)
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
