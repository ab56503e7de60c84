"""The book's one figure style: colours, the training-tokens axis, the window band, matplotlib's
settings. Every figure module draws with these, so a head class or the phase-change window has
the same colour on every page.

Figures are drawn for the book's column: a figure is :data:`COLUMN_PX` CSS pixels wide in the text
column at a 1400 px window (measured in Chromium), and a PNG at :data:`DPI` no wider than that is
shown at its own size, its text at its own size in points (:func:`text_sizes` measures it). The
figures are drawn :data:`COLUMN_IN` inches wide, a little less, for the crop's margin; no text is
set below :data:`MIN_FONT_PT`."""

from __future__ import annotations

import re

import matplotlib as mpl
import matplotlib.pyplot as plt
from matplotlib.ticker import FuncFormatter
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from .palette import (ABLATED_COLOR, CONTEXT_COLOR, DEPTH_COLORS, HEAD_CLASS_COLORS, ICL_COLOR, MODEL_PALETTE,
                      RECIPE_COLORS, REPEAT_COLOR, TOKEN_CLASS_COLORS, WINDOW_COLOR, depth_color)

try:
    from IPython import get_ipython
except ImportError:  # the library without Jupyter (training from the command line)
    def get_ipython():
        return None

__all__ = [
    "HEAD_CLASS_COLORS",
    "TOKEN_CLASS_COLORS",
    "RECIPE_COLORS",
    "WINDOW_COLOR",
    "ICL_COLOR",
    "REPEAT_COLOR",
    "ABLATED_COLOR",
    "CONTEXT_COLOR",
    "DEPTH_COLORS",
    "MAX_LEGEND",
    "ICL_LABEL",
    "COLUMN_IN",
    "COLUMN_PX",
    "DPI",
    "MIN_FONT_PT",
    "model_color",
    "model_linestyle",
    "panel_grid",
    "bottom_labels",
    "window_handle",
    "window_edges_handle",
    "figure_legend",
    "png_width",
    "text_sizes",
    "tokens_axis",
    "shade_window",
    "zero_line",
    "apply_house_style",
    "depth_of",
    "model_styles",
    "wrap_name",
    "panel_title",
    "spread_labels",
    "robust_limits",
    "frame_data",
    "short_token",
    "legend_entries",
    "overlapping_texts",
]

# The colours (one per class, on every page) live in .palette.
ICL_LABEL = "ICL score (nats; negative = in-context learning)"

COLUMN_PX = 768  # a figure's width in the text column at a 1400 px window (CSS px, measured in Chromium)
DPI = 100
COLUMN_IN = 7.4  # the width the book's figures are drawn at: the column less a margin for the tight crop
MIN_FONT_PT = 8.0
MAX_LEGEND = 8  # no legend has more entries: more lines are grouped, labelled directly or greyed
_PALETTE = MODEL_PALETTE


def model_color(i: int) -> str:
    """The colour of the ``i``-th model (or layer) in a figure that shows several: twenty distinct
    colours, then again from the first."""
    return _PALETTE[i % len(_PALETTE)]


def model_linestyle(i: int) -> str:
    """The line style of the ``i``-th model: solid for the first twenty, then dashed, so a
    colour that repeats is still another line."""
    return ("-", "--", ":")[(i // len(_PALETTE)) % 3]


def panel_grid(n: int, ncols: int | None = None, max_cols: int = 4, row_height: float = 2.2,
               width: float = COLUMN_IN, **kw):
    """A grid of ``n`` panels for the column: ``ncols`` wide (default: at most ``max_cols``), as
    many rows as needed, the unused panels switched off. Returns ``(fig, axes)`` with ``axes`` a
    2-d array; the figure uses matplotlib's constrained layout, so legends placed with
    :func:`figure_legend` and titles never overlap."""
    ncols = max(1, min(ncols or max_cols, n))
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(width, row_height * nrows + 0.5), squeeze=False,
                             layout="constrained", **kw)
    for ax in axes.flat[n:]:
        ax.axis("off")
    return fig, axes


def bottom_labels(axes, n: int, label: str) -> None:
    """Label the x axis of the lowest used panel of each column of a :func:`panel_grid` of ``n``
    panels with ``label``, and no other."""
    nrows, ncols = axes.shape
    for i, ax in enumerate(axes.flat[:n]):
        below = i + ncols
        ax.set_xlabel(label if below >= n else "")


def window_handle(label: str = "phase-change window (shaded)"):
    """A legend entry for the shaded phase-change window (:func:`shade_window`)."""
    return Patch(color=WINDOW_COLOR, alpha=0.3, lw=0, label=label)


def window_edges_handle(color: str = "0.3", label: str = "phase-change window (dashed: its start and end)"):
    """A legend entry for a window drawn as two dashed lines (on heatmaps)."""
    return Line2D([], [], color=color, lw=1, ls="--", label=label)


def figure_legend(fig, handles, ncol: int | None = None, loc: str = "outside lower center"):
    """One legend for the whole figure, outside its panels (below them by default), in as many
    columns as fit the column."""
    handles = [h for h in handles if h is not None]
    if handles:
        fig.legend(handles=handles, loc=loc, ncol=ncol or min(len(handles), 4), frameon=False)


def png_width(fig) -> float:
    """The width in pixels of the PNG a notebook shows for ``fig``: its "tight" bounding box plus
    the crop's margin on both sides, at the figure's dpi."""
    fig.canvas.draw()
    pad = float(mpl.rcParams["savefig.pad_inches"])
    return (fig.get_tightbbox(fig.canvas.get_renderer()).width + 2 * pad) * fig.dpi


def text_sizes(fig, column_px: float = COLUMN_PX) -> list[tuple[str, float]]:
    """Every text drawn in ``fig`` with its size in points *as the reader sees it* in the column:
    its font size scaled by ``min(1, column / figure width)``, the figure's width being that of the
    PNG the notebook shows (its "tight" bounding box and the crop's margin, ``savefig.pad_inches``, at
    the figure's dpi). The texts are those the
    renderer draws (so ticks outside the view and switched-off panels do not count). Returns
    ``[(text, points)]``, smallest first."""
    if not isinstance(fig.canvas, FigureCanvasAgg):
        FigureCanvasAgg(fig)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    scale = min(1.0, column_px / png_width(fig))
    seen: list[tuple[str, float]] = []
    draw_text = renderer.draw_text

    def spy(gc, x, y, s, prop, angle, ismath=False, mtext=None):
        if str(s).strip():
            seen.append((str(s), prop.get_size_in_points() * scale))
        return draw_text(gc, x, y, s, prop, angle, ismath=ismath, mtext=mtext)

    renderer.draw_text = spy
    try:
        fig.draw(renderer)
    finally:
        del renderer.draw_text
    return sorted(seen, key=lambda x: x[1])


def tokens_axis(ax, label: str = "training tokens") -> None:
    """A log-scaled x axis of training tokens."""
    ax.set_xscale("log")
    ax.set_xlabel(label)


def shade_window(ax, window, label: bool = True) -> None:
    """Shade a phase-change window (``measure.phase.PhaseWindow``; nothing if None)."""
    if window is not None:
        ax.axvspan(window.start, window.end, color=WINDOW_COLOR, alpha=0.3, lw=0,
                   label="phase-change window" if label else None)


def zero_line(ax, vertical: bool = False) -> None:
    """A thin grey line at zero (horizontal, or vertical at x = 0)."""
    (ax.axvline if vertical else ax.axhline)(0, color="0.6", lw=0.8)


# Sizes in points; a figure at most COLUMN_IN wide shows them at their size (text_sizes).
HOUSE_RC = {
    "figure.figsize": (6.4, 3.6), "figure.dpi": DPI, "savefig.dpi": DPI, "font.size": 9,
    "axes.titlesize": 9, "axes.labelsize": 9, "xtick.labelsize": 8, "ytick.labelsize": 8,
    "legend.fontsize": 8, "legend.title_fontsize": 8, "figure.titlesize": 10,
    "axes.spines.top": False, "axes.spines.right": False, "axes.grid": True, "grid.alpha": 0.3,
    "legend.frameon": False,
}


def apply_house_style() -> None:
    """Matplotlib's settings for the book; in a notebook kernel, figures show inline."""
    shell = get_ipython()
    if shell is not None and hasattr(shell, "kernel"):
        # Figures are returned (not drawn with pyplot): register the inline PNG formatter.
        shell.run_line_magic("matplotlib", "inline")
    mpl.rcParams.update(HOUSE_RC)


# --- helpers for figures that say one thing: few legend entries, direct labels, framed axes ---

def depth_of(name: str) -> int | None:
    """A model's number of layers read from its zoo name (``attn-only-2l-d64`` -> 2), None if the
    name does not say."""
    m = re.search(r"(?:^|-)(\d+)l(?:-|$)", name)
    return int(m.group(1)) if m else None


def model_styles(names, reserved: int = 0) -> tuple[dict[str, dict], list]:
    """Colours for one line per model in a figure whose legend may hold :data:`MAX_LEGEND` entries,
    ``reserved`` of them taken by other things. Up to that many models: each its own colour and
    legend entry. More: coloured by depth (:func:`~.palette.depth_color`), one legend entry per
    depth ("2 layers"), so the legend never grows with the zoo. Returns ``(styles, handles)``:
    ``styles[name]`` holds ``color``, ``ls`` and ``label`` (the line's own label, or None when
    grouped) for ``plot``, ``handles`` the legend entries."""
    names = list(names)
    if len(names) <= MAX_LEGEND - reserved:
        styles = {n: dict(color=model_color(i), ls=model_linestyle(i), label=n) for i, n in enumerate(names)}
        return styles, [Line2D([], [], lw=1.5, color=s["color"], ls=s["ls"], label=n) for n, s in styles.items()]
    depths = {n: depth_of(n) for n in names}
    styles = {n: dict(color=depth_color(d), ls="-", label=None) for n, d in depths.items()}
    known = sorted({d for d in depths.values() if d is not None})
    handles = [Line2D([], [], lw=1.5, color=depth_color(d), label=f"{d} layer{'s' if d > 1 else ''}") for d in known]
    if any(d is None for d in depths.values()):
        handles.append(Line2D([], [], lw=1.5, color=depth_color(None), label="other runs"))
    return styles, handles


def wrap_name(name: str, width: int) -> str:
    """``name`` on as many lines as it needs to be at most ``width`` characters wide, broken after
    a hyphen (model names) or at a space, never inside a word."""
    if len(name) <= width:
        return name
    parts = [p for p in re.split(r"(?<=-)|(?<= )", name) if p]  # break after a hyphen or a space
    lines, cur = [], ""
    for piece in parts:
        if cur and len(cur) + len(piece.rstrip()) > width:
            lines.append(cur.rstrip())
            cur = piece
        else:
            cur += piece
    lines.append(cur.rstrip())
    return "\n".join(lines)


def panel_title(ax, name: str, ncols: int, width: float = COLUMN_IN) -> None:
    """A panel's title, wrapped at hyphens to the panel's width (about 10 characters an inch at
    the house's 9 pt), so that neighbouring titles never run into each other."""
    chars = max(8, int(width / max(ncols, 1) * 10.5))
    ax.set_title(wrap_name(name, chars))


def spread_labels(ax, points, labels, colors, offset=(6, 0), min_gap_pt: float = 10.0, fontsize: float = 8):
    """Label points directly, the labels moved apart vertically so no two overlap: each label
    ``offset`` points right of its point (data coordinates ``points``), labels closer than
    ``min_gap_pt`` pushed apart, a thin leader line where a label moved. Returns the texts."""
    fig = ax.figure
    disp = [ax.transData.transform(p) for p in points]  # set the axis limits first
    pt = fig.dpi / 72.0
    order = sorted(range(len(points)), key=lambda i: disp[i][1])
    ys = {i: disp[i][1] + offset[1] * pt for i in order}
    gap = min_gap_pt * pt
    for _ in range(len(order) * 2):  # push apart, then re-centre, until no pair is closer than gap
        moved = False
        for a, b in zip(order, order[1:]):
            same_column = abs(disp[a][0] - disp[b][0]) < 60 * pt
            if same_column and ys[b] - ys[a] < gap:
                mid = (ys[a] + ys[b]) / 2
                ys[a], ys[b] = mid - gap / 2, mid + gap / 2
                moved = True
        order.sort(key=lambda i: ys[i])
        if not moved:
            break
    texts = []
    for i in range(len(points)):
        x, y = points[i]
        moved = abs(ys[i] - disp[i][1] - offset[1] * pt) > 1
        texts.append(ax.annotate(labels[i], (x, y), xytext=(offset[0], (ys[i] - disp[i][1]) / pt),
                                 textcoords="offset points", fontsize=fontsize, color=colors[i], va="center",
                                 arrowprops=dict(arrowstyle="-", color=colors[i], lw=0.5) if moved else None))
    return texts


def robust_limits(values, lo: float = 1.0, hi: float = 99.0, margin: float = 0.1,
                  include: tuple[float, ...] = ()) -> tuple[float, float]:
    """Axis limits that frame the data: the ``lo``-th to ``hi``-th percentile of the finite
    ``values`` (and every value of ``include``, e.g. 0), widened by ``margin`` of their span on
    each side."""
    v = np.asarray(values, dtype=float).ravel()
    v = v[np.isfinite(v)]
    if v.size == 0:
        return (-1.0, 1.0)
    a, b = np.percentile(v, [lo, hi])
    a, b = min([a, *include]), max([b, *include])
    span = (b - a) or max(abs(a), 1.0)
    return float(a - margin * span), float(b + margin * span)


def _nice_ceil(x: float) -> float:
    """The smallest of 1, 2, 5 times a power of ten at least ``x``."""
    e = 10 ** np.floor(np.log10(x))
    return float(next(m * e for m in (1, 2, 5, 10) if m * e >= x - 1e-12))


def frame_data(ax, lines, include: tuple[float, ...] = (0.0,), tail: float = 4.0, axis: str = "y",
               label: str | None = None) -> str:
    """Frame the drawn ``lines`` (a sequence of 1-d arrays, one per line, or one array) on
    ``ax``'s ``axis``, every value of ``include`` kept in view (e.g. 0): linear limits around all of
    them with a margin when the lines are of one size; when one or a few lines reach far beyond the
    rest (the largest ``|value|`` more than ``tail`` times the median over lines of each line's
    largest ``|value|``, so a linear axis would flatten every other line), a symmetric-log axis,
    linear out to that median (rounded up to 1, 2 or 5 times a power of ten) and logarithmic
    beyond, so every line stays in the frame and the rest keep their resolution; the axis label
    then says so. Returns "linear" or "symlog"."""
    parts = [np.asarray(x, dtype=float).ravel() for x in (lines if isinstance(lines, (list, tuple)) else [lines])]
    parts = [x[np.isfinite(x)] for x in parts]
    parts = [x for x in parts if x.size]
    if not parts:
        return "linear"
    v = np.concatenate(parts)
    set_lim = ax.set_ylim if axis == "y" else ax.set_xlim
    top = float(np.abs(v).max())
    typical = float(np.median([np.abs(x).max() for x in parts]))
    if len(parts) < 3 or top <= tail * max(typical, 1e-12):
        set_lim(*robust_limits(v, 0, 100, 0.06, include))
        return "linear"
    linthresh = _nice_ceil(max(typical, 1e-6))
    (ax.set_yscale if axis == "y" else ax.set_xscale)("symlog", linthresh=linthresh, linscale=1.5)
    lo, hi = min(float(v.min()), *include), max(float(v.max()), *include)

    def widen(x: float, sign: int) -> float:  # a margin of about a twentieth of a decade beyond
        return x * 1.15 if abs(x) > linthresh else x + sign * 0.15 * linthresh

    set_lim(widen(lo, -1), widen(hi, 1))
    (ax.yaxis if axis == "y" else ax.xaxis).set_major_formatter(FuncFormatter(lambda x, _: f"{x:g}"))
    text = label if label is not None else (ax.get_ylabel() if axis == "y" else ax.get_xlabel())
    note = f"(symlog: linear within ±{linthresh:g})"
    (ax.set_ylabel if axis == "y" else ax.set_xlabel)(f"{text}\n{note}" if text else note)
    return "symlog"


# Special tokens shortened where a label has little room; the ellipsis marks any other cut.
_SHORT_TOKENS = {"<|endoftext|>": "<|eot|>", "<|padding|>": "<|pad|>"}


def short_token(token: str, max_chars: int = 10) -> str:
    """A token as a tick or cell label: escaped (newline as ``\\n``), spaces as middle dots,
    special tokens in short form (``<|endoftext|>`` -> ``<|eot|>``) and, if still longer than
    ``max_chars``, cut with a visible ellipsis, never silently."""
    t = _SHORT_TOKENS.get(token, token)
    t = repr(t)[1:-1] if t not in _SHORT_TOKENS.values() else t
    t = t.replace(" ", "\u00b7")
    return t if len(t) <= max_chars else t[: max_chars - 1] + "\u2026"


def legend_entries(fig) -> list[int]:
    """The number of entries of each legend of ``fig`` (figure-level and per panel)."""
    legends = list(fig.legends) + [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None]
    return [len(lg.get_texts()) for lg in legends]


def overlapping_texts(fig, pad_px: float = 0.0) -> list[tuple[str, str]]:
    """Pairs of visible, non-empty texts drawn on the panels of ``fig`` (titles, annotations and
    labels placed with ``ax.text``/``annotate``; not tick labels) whose bounding boxes overlap."""
    if not isinstance(fig.canvas, FigureCanvasAgg):
        FigureCanvasAgg(fig)
    fig.canvas.draw()
    r = fig.canvas.get_renderer()
    texts = [t for ax in fig.axes for t in [ax.title, *ax.texts] if t.get_visible() and t.get_text().strip()]
    boxes = [t.get_window_extent(r).expanded(1.0, 1.0) for t in texts]
    out = []
    for i in range(len(texts)):
        for j in range(i + 1, len(texts)):
            a, b = boxes[i], boxes[j]
            if a.x0 < b.x1 - pad_px and b.x0 < a.x1 - pad_px and a.y0 < b.y1 - pad_px and b.y0 < a.y1 - pad_px:
                out.append((texts[i].get_text(), texts[j].get_text()))
    return out
