"""Attention views for the book: a circuitsvis widget and its matplotlib PNG twin.

circuitsvis' own ``render`` is a poor fit for a static book: it probes
``google.com`` at execution time, then either imports its script from a CDN or inlines the whole
1.3 MB bundle into every output, and it gives every view a random element id. The helper here
emits a small, deterministic HTML snippet instead:

- the element id is a hash of the view's content, so re-executing a notebook gives the same
  output (nbval can compare it) and two views on one page never clash;
- the script that draws it looks for the circuitsvis bundle once per page: in the built book it
  loads the one self-hosted copy, ``_static/circuitsvis-<version>.js`` (copied there from the
  installed package by :func:`install_static`); in Jupyter or Colab, which have no ``_static``,
  it falls back to the same file on the npm CDN, fetched by the reader's browser at view time;
- attention weights are rounded to 3 decimals, which keeps outputs small and stable.

Every key view also gets a :func:`attention_png` twin, so the argument survives without
JavaScript (the book's PNG is what a reader sees in a PDF, on GitHub, or with scripts blocked).
"""

from __future__ import annotations

import hashlib
import json
import shutil
from importlib import metadata
from pathlib import Path
from typing import Sequence

import circuitsvis
import numpy as np
from IPython.display import display
from jaxtyping import Float
from matplotlib.figure import Figure
from torch import Tensor

from .style import COLUMN_IN, short_token

__all__ = [
    "circuitsvis_version",
    "bundle_path",
    "static_name",
    "install_static",
    "AttentionView",
    "attention_view",
    "attention_png",
    "show_attention",
]

_DECIMALS = 3
_seen_ids: dict[str, int] = {}


def circuitsvis_version() -> str:
    return metadata.version("circuitsvis")


def bundle_path() -> Path:
    """The browser bundle (``dist/cdn/iife.js``) shipped inside the installed circuitsvis."""
    path = Path(circuitsvis.__file__).parent / "dist" / "cdn" / "iife.js"
    if not path.exists():
        raise FileNotFoundError(f"circuitsvis bundle not found at {path}; reinstall circuitsvis")
    return path


def static_name() -> str:
    """File name of the self-hosted bundle inside the site's ``_static/`` folder."""
    return f"circuitsvis-{circuitsvis_version()}.js"


def install_static(static_dir: Path) -> Path:
    """Copy the circuitsvis bundle into a Sphinx ``_static`` folder (once per site)."""
    static_dir = Path(static_dir)
    static_dir.mkdir(parents=True, exist_ok=True)
    dest = static_dir / static_name()
    shutil.copyfile(bundle_path(), dest)
    return dest


def _element_id(component: str, props_json: str) -> str:
    digest = hashlib.sha1(f"{component}:{props_json}".encode()).hexdigest()[:12]
    n = _seen_ids.get(digest, 0)
    _seen_ids[digest] = n + 1
    return f"ih-cv-{digest}" + (f"-{n + 1}" if n else "")


# The loader: draw now if the bundle is on the page, else add it once and draw when it loads.
# `data-content_root` is set on <html> by Sphinx (>= 7.2) on every page of the built book.
_SCRIPT = """<script>
(function () {{
  var id = "{element_id}", props = {props};
  function draw() {{ window.CircuitsVis.render(id, window.CircuitsVis["{component}"], props); }}
  if (window.CircuitsVis) {{ draw(); return; }}
  var root = document.documentElement.dataset.content_root;
  var src = root !== undefined ? root + "_static/{static}" : "{cdn}";
  var tag = document.querySelector("script[data-ih-circuitsvis]");
  if (!tag) {{
    tag = document.createElement("script");
    tag.src = src;
    tag.setAttribute("data-ih-circuitsvis", "");
    document.head.appendChild(tag);
  }}
  tag.addEventListener("load", draw);
}})();
</script>"""


class AttentionView:
    """A circuitsvis component rendered as deterministic HTML (see the module docstring)."""

    def __init__(self, component: str, props: dict, summary: str):
        self.component = component
        self.props_json = json.dumps(props, separators=(",", ":"))
        self.summary = summary
        self.element_id = _element_id(component, self.props_json)

    def _repr_html_(self) -> str:
        version = circuitsvis_version()
        script = _SCRIPT.format(
            element_id=self.element_id,
            props=self.props_json,
            component=self.component,
            static=static_name(),
            cdn=f"https://unpkg.com/circuitsvis@{version}/dist/cdn/iife.js",
        )
        return (
            f'<div id="{self.element_id}" class="ih-circuitsvis" '
            f'data-component="{self.component}" style="margin: 15px 0;"></div>\n{script}'
        )

    def __repr__(self) -> str:
        return self.summary


def _rounded(x) -> list:
    arr = np.asarray(x.detach().cpu() if isinstance(x, Tensor) else x, dtype=np.float64)
    return np.round(arr, _DECIMALS).tolist()


def attention_view(
    pattern: Float[Tensor, "head query key"],
    tokens: Sequence[str],
    head_names: Sequence[str] | None = None,
) -> AttentionView:
    """circuitsvis ``AttentionHeads``: one small heatmap per head, click one to enlarge it.

    ``pattern`` is one sequence's attention (TransformerLens ``hook_pattern[0]``); ``tokens`` its
    string tokens (``bridge.to_str_tokens``).
    """
    n_heads, n_q, n_k = pattern.shape
    if not (n_q == n_k == len(tokens)):
        raise ValueError(f"pattern is {n_q}x{n_k} but there are {len(tokens)} tokens")
    names = list(head_names) if head_names is not None else [f"head {h}" for h in range(n_heads)]
    props = {"attention": _rounded(pattern), "tokens": list(tokens), "attentionHeadNames": names}
    summary = f"AttentionHeads view: {n_heads} heads ({', '.join(names)}) over {len(tokens)} tokens"
    return AttentionView("AttentionHeads", props, summary)


def attention_png(
    pattern: Float[Tensor, "head query key"],
    tokens: Sequence[str] | None = None,
    head_names: Sequence[str] | None = None,
    title: str | None = None,
    max_labels: int = 80,
    ncols: int | None = None,
):
    """The static twin of :func:`attention_view`: one matplotlib heatmap per head.

    Rows are destination (query) positions, columns source (key) positions. The heads sit in a
    grid ``ncols`` wide (default: one row up to three heads, else two) sized for the book's column; token labels are drawn for up to
    ``max_labels`` tokens, every one where they fit at 8 pt and every ``k``-th otherwise. Returns a
    ``matplotlib.figure.Figure`` that is not registered with pyplot, so a notebook shows it once.
    """
    p = np.asarray(pattern.detach().cpu() if isinstance(pattern, Tensor) else pattern)
    n_heads, n = p.shape[0], p.shape[-1]
    names = list(head_names) if head_names is not None else [f"head {h}" for h in range(n_heads)]
    ncols = ncols or (n_heads if n_heads <= 3 else 2)
    nrows = int(np.ceil(n_heads / ncols))
    side = min((COLUMN_IN - 1.0) / ncols, 3.6)  # inches per heatmap, for the column
    # One token label every `step` positions, so that labels at 8 pt are at least 9 pt apart.
    step = max(1, int(np.ceil(n * 9 / (side * 72))))
    fig = Figure(figsize=(side * ncols + 1.0, (side + 0.5) * nrows + (0.4 if title else 0.1)), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).flatten()
    for ax in axes[n_heads:]:
        ax.axis("off")
    for ax, head, name in zip(axes, p, names):
        im = ax.imshow(head, cmap="Blues", vmin=0.0, vmax=1.0, interpolation="nearest")
        ax.set_title(name)
        ax.grid(False)
        if tokens is not None and n <= max_labels:
            # escaped, spaces as middle dots (a label's trailing spaces would push it off its tick)
            # special tokens in short form, a longer token cut with a visible ellipsis (style.short_token)
            labels = [short_token(t, 10) for t in tokens]
            ax.set_xticks(range(0, n, step), labels[::step], rotation=90)
            ax.set_yticks(range(0, n, step), labels[::step])
        else:
            ax.set_xlabel("source position")
            ax.set_ylabel("destination position")
    fig.colorbar(im, ax=list(axes[:n_heads]), shrink=0.8, label="attention")
    if title:
        fig.suptitle(title)
    return fig


def show_attention(
    pattern: Float[Tensor, "head query key"],
    tokens: Sequence[str],
    head_names: Sequence[str] | None = None,
    title: str | None = None,
) -> None:
    """Display the interactive view and its PNG twin, one after the other."""
    display(attention_view(pattern, tokens, head_names))
    display(attention_png(pattern, tokens, head_names, title))
