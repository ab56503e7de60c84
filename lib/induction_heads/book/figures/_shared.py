"""Helpers shared by the figure modules of several chapters (private to the figures package)."""

from __future__ import annotations


def has_window(windows, names) -> bool:
    """Whether any of ``names`` has a phase-change window in ``windows`` (then the figure's legend
    explains the shading)."""
    return any((windows or {}).get(n) is not None for n in names)


def plot_in_window(ax, tokens, values, window, **kw) -> None:
    """Draw again, with ``kw`` (a thick translucent stroke), the part of a curve over training
    (``values`` against ``tokens``, the step-0 snapshot left out) inside its phase-change window
    (nothing where ``window`` is None): how the heroes of Arguments 2 and 6, and their miniatures
    on the front page, mark each model's own window where several share a panel."""
    if window is not None:
        t = tokens.double()
        inside = (t > 0) & (t >= window.start) & (t <= window.end)
        ax.plot(t[inside], values[inside], **kw)
