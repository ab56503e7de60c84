"""The front page's thumbnails: one small picture per argument, of the readings its lead claim is
judged on, each model a mark against the claim's threshold (green: holds; red: does not)."""

from __future__ import annotations

import base64
import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from ..claims import ClaimDef, number  # noqa: E402

__all__ = ["HOLDS", "FAILS", "claim_thumbnail", "png_data_uri"]

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


def png_data_uri(fig) -> str:
    """The figure as a ``data:image/png;base64,...`` URI (closed afterwards)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()
