"""The book's one figure style: colours, the training-tokens axis, the window band, matplotlib's
settings. Every figure module draws with these, so a head class or the phase-change window has
the same colour on every page.

Figures are drawn for the book's column: a figure is :data:`COLUMN_PX` CSS pixels wide in the text
column at a 1400 px window (measured in Chromium), and a PNG at :data:`DPI` no wider than that is
shown at its own size, its text at its own size in points (:func:`text_sizes` measures it). The
figures are drawn :data:`COLUMN_IN` inches wide, a little less, for the crop's margin; no text is
set below :data:`MIN_FONT_PT`."""

from __future__ import annotations

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

try:
    from IPython import get_ipython
except ImportError:  # the library without Jupyter (training from the command line)
    def get_ipython():
        return None

__all__ = [
    "HEAD_CLASS_COLORS",
    "WINDOW_COLOR",
    "ICL_COLOR",
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
]

# One colour per head class (measure.heads.classify_heads) in every figure.
HEAD_CLASS_COLORS: dict[str, str] = {"induction": "#c0392b", "previous-token": "#2874a6", "other": "0.6"}
WINDOW_COLOR = "#f5b041"  # the phase-change window: the paper's orange band
ICL_COLOR = "#1f77b4"
ICL_LABEL = "ICL score (nats; negative = in-context learning)"

COLUMN_PX = 768  # a figure's width in the text column at a 1400 px window (CSS px, measured in Chromium)
DPI = 100
COLUMN_IN = 7.4  # the width the book's figures are drawn at: the column less a margin for the tight crop
MIN_FONT_PT = 8.0
# Twenty distinct colours: matplotlib's ten, then ten darker ones (so the ladder's eleven or more
# rungs never share a colour).
_PALETTE = [f"C{i}" for i in range(10)] + ["#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173",
                                           "#3182bd", "#e6550d", "#31a354", "#756bb1", "#636363"]


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
