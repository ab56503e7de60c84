"""Pictures of a claim's readings, each model a mark against the threshold its verdict is judged
at (green: holds; red: does not): the front page's thumbnails, one small picture per argument of
the readings its lead claim is judged on, and the same picture full size with each model named
(:func:`claim_readings`), the hero figure of an argument whose claim is one number per model."""

from __future__ import annotations

import base64
import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from matplotlib.lines import Line2D  # noqa: E402

from ...measure.intervals import Interval  # noqa: E402
from ..claims import ClaimDef, number  # noqa: E402
from .style import COLUMN_IN, figure_legend  # noqa: E402

__all__ = ["HOLDS", "FAILS", "claim_thumbnail", "claim_readings", "png_data_uri"]

HOLDS, FAILS = "#2e7d32", "#c62828"


def _held(definition: ClaimDef, item) -> bool:
    t = definition.judged_at
    if t is not None and definition.reading in item.numbers:
        return bool(item.ok and not item.deviation and t.holds(item.numbers[definition.reading]))
    return bool(item.ok and not item.deviation)


def claim_thumbnail(definition: ClaimDef, claim, size: tuple[float, float] = (1.8, 0.9)):
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
