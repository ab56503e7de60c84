"""The front page's thumbnails, one small picture per argument: a miniature of the argument's hero
figure (:func:`hero_thumbnails`, Arguments 1, 2, 5 and 6: the hero's data, drawn by the hero's own
drawing function, small, without legend or tick labels), or, for an argument whose hero is a
claim's readings (Arguments 3 and 4), those readings small (:func:`claim_thumbnail`: each model a
mark against the threshold its verdict is judged at, green where it holds, red where not); and the
same readings full size with each model named (:func:`claim_readings`), the hero of Arguments 3
and 4."""

from __future__ import annotations

import base64
import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from matplotlib.lines import Line2D  # noqa: E402

from ...engine.zoo import Zoo  # noqa: E402
from ...measure.intervals import Interval  # noqa: E402
from .. import argument1 as _argument1, argument6 as _argument6  # noqa: E402
from ..claims import ClaimDef, number  # noqa: E402
from . import argument1, argument2, argument5, argument6  # noqa: E402
from .style import COLUMN_IN, figure_legend  # noqa: E402

__all__ = ["HOLDS", "FAILS", "THUMB_SIZE", "HERO_MODELS", "claim_thumbnail", "hero_thumbnails", "phase_change_thumbnail",
           "smeared_thumbnail", "circuit_thumbnail", "rungs_thumbnail", "claim_readings", "png_data_uri"]

HOLDS, FAILS = "#2e7d32", "#c62828"


def _held(definition: ClaimDef, item) -> bool:
    t = definition.judged_at
    if t is not None and definition.reading in item.numbers:
        return bool(item.ok and not item.deviation and t.holds(item.numbers[definition.reading]))
    return bool(item.ok and not item.deviation)


THUMB_SIZE = (1.8, 0.9)  # inches: about 180 x 90 px on the front page
THUMB_SCALE = 0.6  # a miniature's lines, as a share of its hero's widths
# The models each argument chapter's hero draws (chapters/02, 03 and 06, cells arg1-hero, arg2-hero
# and arg5-hero; Argument 6's hero draws the ladder, argument6.ladder).
HERO_MODELS = {1: ("attn-only-2l", "attn-only-1l"), 2: (("attn-only-1l", "smeared-1l"), ("attn-only-2l", "smeared-2l")),
               5: "attn-only-2l"}


def claim_thumbnail(definition: ClaimDef, claim, size: tuple[float, float] = THUMB_SIZE):
    """A small figure of ``claim`` (checked by ``definition``): with a numeric threshold, every
    model's reading as a dot along x and the threshold as a dashed line; without one, a square per
    model. Green where the claim holds at its judged threshold, red where it does not."""
    fig, ax = plt.subplots(figsize=size, dpi=100)
    items = claim.items
    colors = [HOLDS if _held(definition, i) else FAILS for i in items]
    t = definition.judged_at
    values = [number(i.numbers.get(definition.reading)) for i in items] if definition.reading else []
    if t is not None and values and any(v == v for v in values):
        rng = np.random.default_rng(0)
        y = rng.uniform(-1, 1, len(values))
        ax.scatter(values, y, s=14, c=colors, edgecolors="none")
        ax.axvline(t.value, color="0.2", ls="--", lw=1)
        finite = [v for v in values if v == v] + [t.value]
        lo, hi = min(finite), max(finite)
        pad = 0.08 * (hi - lo or 1.0)
        ax.set_xlim(lo - pad, hi + pad)
        ax.set_ylim(-1.6, 1.6)
        ax.set_yticks([])
        ax.tick_params(axis="x", labelsize=6, length=2, pad=1)
    else:
        ax.scatter(np.arange(len(items)), np.zeros(len(items)), s=40, marker="s", c=colors)
        ax.set_xlim(-1, max(len(items), 1))
        ax.set_xticks([])
        ax.set_yticks([])
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    fig.tight_layout(pad=0.2)
    return fig


def _miniature(axes, title: str) -> None:
    """A miniature's axes: log training tokens framed on the data's first to last snapshot, no tick
    labels, no grid, no frame but the bottom; ``title``: the figure's label, the alt text the front
    page gives it."""
    axes = list(axes)
    for ax in axes:
        ax.set_xscale("log")
        xs = [np.asarray(ln.get_xdata(), dtype=float) for ln in ax.get_lines() if len(ln.get_xdata()) > 2]
        if xs:
            ax.set_xlim(min(float(x.min()) for x in xs), max(float(x.max()) for x in xs))
        ax.set_xticks([])
        ax.set_yticks([])
        ax.minorticks_off()
        ax.grid(False)
        for side in ("top", "right", "left"):
            ax.spines[side].set_visible(False)
    axes[0].figure.set_label(title)


def phase_change_thumbnail(runs, windows, model: str, contrast: str | None = None):
    """Argument 1's hero (:func:`~induction_heads.book.figures.argument1.phase_change_hero`) small:
    ``model``'s ICL score (top) and largest prefix-matching score (bottom) over training,
    ``contrast`` grey beneath, the window shaded."""
    fig, (top, bottom) = plt.subplots(2, 1, figsize=THUMB_SIZE, dpi=100, sharex=True, layout="constrained")
    fig.get_layout_engine().set(w_pad=0.01, h_pad=0.01, hspace=0.02)
    argument1.draw_phase_change(top, bottom, runs, windows, model, contrast, scale=THUMB_SCALE)
    _miniature((top, bottom), f"{model}'s ICL score (top) and largest prefix-matching score (bottom) over training"
               + (f", {contrast} in grey" if contrast else "")
               + (", its phase-change window shaded" if windows.get(model) is not None else ""))
    return fig


def smeared_thumbnail(runs, windows, pairs):
    """Argument 2's hero (:func:`~induction_heads.book.figures.argument2.smeared_hero`) small: one
    panel per ``(vanilla, smeared)`` pair with both runs, the vanilla ICL score grey and the smeared
    one black, each thick inside its window."""
    pairs = argument2.present_pairs(runs, pairs)
    fig, axes = plt.subplots(1, len(pairs), figsize=THUMB_SIZE, dpi=100, sharey=True, squeeze=False,
                             layout="constrained")
    fig.get_layout_engine().set(w_pad=0.01, h_pad=0.01, wspace=0.04)
    for ax, (vanilla, smeared) in zip(axes[0], pairs):
        argument2.draw_pair(ax, runs, windows, vanilla, smeared, scale=THUMB_SCALE)
    _miniature(axes[0], "ICL score over training, each vanilla model (grey) against its smeared-key twin (black): "
               + "; ".join(f"{v} against {s}" for v, s in pairs) + ", thick inside each phase-change window")
    return fig


def circuit_thumbnail(tokens, scores, previous_head: str, induction, window, model: str):
    """Argument 5's hero (:func:`~induction_heads.book.figures.argument5.circuit_hero`) small: the
    previous-token head's score (blue), each induction head's prefix matching and OV positivity
    (red, dashed) over training, the window shaded."""
    fig, ax = plt.subplots(figsize=THUMB_SIZE, dpi=100, layout="constrained")
    fig.get_layout_engine().set(w_pad=0.01, h_pad=0.01)
    argument5.draw_circuit(ax, tokens, scores, previous_head, induction, window, scale=THUMB_SCALE)
    heads = (f"induction heads {', '.join(induction)}: prefix matching (red) and OV positivity (red, dashed)"
             if induction else "no induction head formed")
    _miniature([ax], f"{model} over training: previous-token head {previous_head}'s score (blue), {heads}"
               + (", the phase-change window shaded" if window is not None else ""))
    return fig


def rungs_thumbnail(runs, windows, families):
    """Argument 6's hero (:func:`~induction_heads.book.figures.argument6.icl_by_rung`) small: one
    panel per family, every rung's ICL score over training in its ladder colour, thick inside its
    window."""
    fams = list(dict.fromkeys(families.values()))
    fig, axes = plt.subplots(1, len(fams), figsize=THUMB_SIZE, dpi=100, sharey=True, squeeze=False,
                             layout="constrained")
    fig.get_layout_engine().set(w_pad=0.01, h_pad=0.01, wspace=0.04)
    for ax, fam in zip(axes[0], fams):
        argument6.draw_rungs(ax, runs, windows, families, fam, scale=THUMB_SCALE)
    _miniature(axes[0], f"ICL score over training of every rung of the ladder ({len(runs)} models), one panel per "
               f"family ({', '.join(fams)}), thick inside each phase-change window")
    return fig


def hero_thumbnails(size: str) -> dict[int, "plt.Figure"]:
    """The front page's miniatures of the heroes of Arguments 1, 2, 5 and 6 at ``size`` (argument
    number -> figure, each figure's label its alt text), drawn from the committed runs'
    trajectories (no checkpoint is read) with the models their chapters' heroes draw
    (:data:`HERO_MODELS`, Argument 6's ladder); an argument whose runs are missing is left out
    (the front page then draws its lead claim's readings)."""
    zoo = Zoo.load(size)
    families = {r.name: r.family for r in _argument6.ladder(size, zoo)}
    rungs = list(families)
    (model1, contrast), pairs, model5 = HERO_MODELS[1], HERO_MODELS[2], HERO_MODELS[5]
    wanted = [model1, contrast, *(n for p in pairs for n in p), model5, *rungs]
    traj = zoo.only(dict.fromkeys(wanted)).trajectories()
    win = _argument1.windows(traj)
    out = {}
    if model1 in traj:
        out[1] = phase_change_thumbnail(traj, win, model1, contrast if contrast in traj else None)
    if argument2.present_pairs(traj, pairs):
        out[2] = smeared_thumbnail(traj, win, pairs)
    if model5 in traj:
        m = traj[model5]
        previous, induction = argument5.circuit_heads(m)
        out[5] = circuit_thumbnail(m["tokens"], m, previous, induction, win[model5], model5)
    if rungs:
        out[6] = rungs_thumbnail({n: traj[n] for n in rungs}, win, families)
    return out


def claim_readings(definition: ClaimDef, claim, xlabel: str, marks: tuple[float, ...] = ()):
    """:func:`claim_thumbnail` full size: every model's reading of ``claim`` (checked by
    ``definition``, which has a numeric threshold) as a dot on its own named row, its 95% interval
    as a bar where the reading is an :class:`~induction_heads.measure.intervals.Interval`; the
    threshold the verdict is judged at dashed, ``marks`` (further reference values, e.g. 1: all of
    it) dotted. Rows sorted by reading, the largest on top; green where the claim holds, red where
    not; the x axis frames the readings and the lines."""
    t = definition.judged_at
    items = sorted((i for i in claim.items if definition.reading in i.numbers),
                   key=lambda i: number(i.numbers[definition.reading]))  # the largest reading on top
    fig, ax = plt.subplots(figsize=(0.8 * COLUMN_IN, 1.1 + 0.22 * len(items)), layout="constrained")
    y = np.arange(len(items))
    seen = [t.value, *marks]
    for yi, item in zip(y, items):
        v, color = item.numbers[definition.reading], HOLDS if _held(definition, item) else FAILS
        if isinstance(v, Interval):
            ax.plot([v.lo, v.hi], [yi, yi], color=color, lw=1.5)
            seen += [v.lo, v.hi]
        ax.plot([number(v)], [yi], "o", color=color, ms=5)
        seen.append(number(v))
    ax.axvline(t.value, color="0.2", ls="--", lw=1)
    for x in marks:
        ax.axvline(x, color="0.5", ls=":", lw=1)
    ax.set_yticks(y, [i.name for i in items])
    ax.set_ylim(-0.7, len(items) - 0.3)
    finite = [v for v in seen if v == v]
    lo, hi = min(finite), max(finite)
    pad = 0.06 * (hi - lo or 1.0)
    ax.set_xlim(lo - pad, hi + pad)
    ax.set_xlabel(xlabel)
    ax.grid(axis="y", visible=False)
    fails = any(not _held(definition, i) for i in items)
    figure_legend(fig, [Line2D([], [], color=HOLDS, marker="o", ls="", label="holds"),
                        Line2D([], [], color=FAILS, marker="o", ls="", label="does not hold") if fails else None,
                        Line2D([], [], color="0.2", ls="--", label=f"{t.text()} ({t.source().split(' (')[0]})")],
                  ncol=3)
    return fig


def png_data_uri(fig) -> str:
    """The figure as a ``data:image/png;base64,...`` URI (closed afterwards)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()
