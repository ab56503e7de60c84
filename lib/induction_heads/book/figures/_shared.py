"""Helpers shared by the figure modules of several chapters (private to the figures package)."""

from __future__ import annotations


def has_window(windows, names) -> bool:
    """Whether any of ``names`` has a phase-change window in ``windows`` (then the figure's legend
    explains the shading)."""
    return any((windows or {}).get(n) is not None for n in names)
