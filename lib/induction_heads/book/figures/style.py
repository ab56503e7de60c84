"""The book's one figure style: colours, the training-tokens axis, the window band, matplotlib's
settings. Every figure module draws with these, so a head class or the phase-change window has
the same colour on every page."""

from __future__ import annotations

__all__ = [
    "HEAD_CLASS_COLORS",
    "WINDOW_COLOR",
    "ICL_COLOR",
    "ICL_LABEL",
    "model_color",
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


def model_color(i: int) -> str:
    """The colour of the ``i``-th model (or layer) in a figure that shows several."""
    return f"C{i % 10}"


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


def apply_house_style() -> None:
    """Matplotlib's settings for the book; in a notebook kernel, figures show inline."""
    import matplotlib as mpl

    try:
        from IPython import get_ipython
    except ImportError:
        get_ipython = lambda: None  # noqa: E731
    shell = get_ipython()
    if shell is not None and hasattr(shell, "kernel"):
        # Figures are returned (not drawn with pyplot): register the inline PNG formatter.
        shell.run_line_magic("matplotlib", "inline")
    mpl.rcParams.update({
        "figure.figsize": (6.4, 3.6), "figure.dpi": 100, "savefig.dpi": 100, "font.size": 9,
        "axes.spines.top": False, "axes.spines.right": False, "axes.grid": True, "grid.alpha": 0.3,
        "legend.frameon": False,
    })
