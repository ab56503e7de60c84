"""What every chapter of the book calls first, and the small display helpers chapters share.

A chapter's first cells are: the Colab cell (does nothing outside Colab), the papermill
``parameters`` cell (``size = "tiny"``), then ``preset = book.setup_chapter(size)``.
"""

from __future__ import annotations

import html
import os
import subprocess
import sys
import warnings
from typing import Sequence

from .config import SIZES, Preset, get_preset

__all__ = [
    "DEFAULT_SIZE",
    "SizeError",
    "in_colab",
    "setup_chapter",
    "ensure_data",
    "Table",
    "check",
    "check_claim",
    "presets_table",
    "zoo_table",
    "run_summary",
    "training_curves",
    "summary_table",
    "paper_vs_ours",
]

# The size whose executed outputs are stored in chapters/ (and that nbval compares).
DEFAULT_SIZE = "small"

# Set by a chapter's Colab cell: the sparse clone of the repository at the book's version.
CHECKOUT_ENV = "INDUCTION_HEADS_CHECKOUT"


class SizeError(ValueError):
    """An unknown ``size`` parameter. In a notebook it prints as one line, not a traceback."""

    def _render_traceback_(self) -> list[str]:  # IPython's hook for custom error display
        return [f"{type(self).__name__}: {self}"]


def in_colab() -> bool:
    return "google.colab" in sys.modules


def setup_chapter(size: str, seed: int = 0) -> Preset:
    """Validate the ``size`` parameter and put the kernel in the book's standard state.

    One CPU thread (results do not depend on the machine's core count, and the book's build
    leaves the other core free), a fixed seed, quiet tokenizers, the house matplotlib style,
    and in Colab the ``data/<size>`` folder fetched if missing. Returns the size's preset.
    """
    if size not in SIZES:
        raise SizeError(f"unknown size {size!r}; choose one of: {', '.join(SIZES)}")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    # tqdm.auto warns on import when ipywidgets is absent; the book draws no progress bars.
    warnings.filterwarnings("ignore", message="IProgress not found")
    import torch

    torch.set_num_threads(1)
    torch.manual_seed(seed)
    _style()
    if in_colab():
        ensure_data(size)
    return get_preset(size)


def _style() -> None:
    import matplotlib as mpl

    try:
        from IPython import get_ipython
    except ImportError:
        get_ipython = lambda: None  # noqa: E731
    shell = get_ipython()
    if shell is not None and hasattr(shell, "kernel"):
        # Figures are returned (not drawn with pyplot): register the inline PNG formatter.
        shell.run_line_magic("matplotlib", "inline")

    mpl.rcParams.update(
        {
            "figure.figsize": (6.4, 3.6),
            "figure.dpi": 100,
            "savefig.dpi": 100,
            "font.size": 9,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.grid": True,
            "grid.alpha": 0.3,
            "legend.frameon": False,
        }
    )


def ensure_data(size: str) -> None:
    """In a Colab sparse clone, add ``data/<size>`` to the checkout if it is not there yet."""
    from .runs import preset_dir

    checkout = os.environ.get(CHECKOUT_ENV)
    if checkout and not (preset_dir(size) / "runs").is_dir():
        subprocess.run(
            ["git", "-C", checkout, "sparse-checkout", "add", f"data/{size}"], check=True
        )


class Table:
    """A small table that shows as HTML in the book and as aligned text everywhere else.

    Cells are formatted once, here, so the text nbval compares is exactly what a reader sees.
    """

    def __init__(self, header: Sequence[str], rows: Sequence[Sequence[object]], floatfmt: str = ".3f"):
        def fmt(v: object) -> str:
            return format(v, floatfmt) if isinstance(v, float) else str(v)

        self.header = [str(h) for h in header]
        self.rows = [[fmt(v) for v in row] for row in rows]

    def __repr__(self) -> str:
        cols = [self.header, *self.rows]
        widths = [max(len(r[i]) for r in cols) for i in range(len(self.header))]
        line = lambda r: "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths)))
        return "\n".join([line(self.header), "  ".join("-" * w for w in widths), *map(line, self.rows)])

    def _repr_html_(self) -> str:
        th = "".join(f"<th>{html.escape(h)}</th>" for h in self.header)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in self.rows
        )
        return f'<table class="ih-table"><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>'


def check(claim: str, ok: bool, **numbers: float) -> None:
    """Assert a chapter's claim, printing the numbers it rests on first.

    ``check("loss fell", final < first, first=first, final=final)`` prints
    ``PASS loss fell (first=6.238, final=4.101)`` or raises ``AssertionError`` with that line.
    """
    line = _claim_line(claim, numbers)
    print(("PASS " if ok else "FAIL ") + line)
    if not ok:
        raise AssertionError(line)


def check_claim(preset: Preset, claim: str, ok: bool, **numbers: float) -> None:
    """:func:`check` for a claim of the paper. At a size whose preset does not check claims
    (``tiny``: it trains for seconds and forms no induction heads), the numbers are printed
    but not asserted, and the output says so; the claims are asserted at ``small`` and ``base``."""
    if preset.checks_claims:
        check(claim, ok, **numbers)
        return
    print(f"NOT ASSERTED at size {preset.name!r} (a pipeline smoke size): {_claim_line(claim, numbers)}")


def _claim_line(claim: str, numbers: dict) -> str:
    shown = ", ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in numbers.items())
    return f"{claim} ({shown})" if shown else claim


# ------------------------------------------------------------------ what the first chapters show

def presets_table() -> Table:
    """Every preset's tokenizer, model width, context and training recipe."""
    from .config import PRESETS

    rows = []
    for p in PRESETS.values():
        t = p.train
        rows.append([p.name, p.vocab_size, p.n_ctx, p.d_model, p.n_heads, p.d_head, p.d_mlp,
                     t.batch_size, t.total_steps, f"{t.batch_size * t.total_steps * p.n_ctx:,}",
                     f"{t.lr:g}", t.schedule])
    return Table(["size", "vocab", "n_ctx", "d_model", "heads", "d_head", "d_mlp", "batch", "steps",
                  "tokens", "lr", "schedule"], rows)


def zoo_table(size: str) -> Table:
    """The zoo's models: their architecture in ``size``, and whether this build has trained them."""
    from .config import MODEL_NAMES, model_config
    from .runs import available_runs

    done = set(available_runs(size))
    rows = []
    for name in MODEL_NAMES:
        c = model_config(size, name)
        rows.append([name, c.n_layers, "no" if c.attn_only else "yes", "yes" if c.smeared_key else "no",
                     c.seed, "yes" if name in done else "no"])
    return Table(["model", "layers", "MLPs", "smeared keys", "seed", "trained"], rows)


def run_summary(size: str) -> Table:
    """One row per trained run of ``size``: its length and its final loss and ICL score."""
    from .runs import available_runs, load_metrics

    rows = []
    for name in available_runs(size):
        m = load_metrics(size, name)
        rows.append([name, int(m["step"][-1]), f"{int(m['tokens'][-1]):,}", float(m["train_loss"][-1]),
                     float(m["icl_score"][-1])])
    return Table(["model", "steps", "tokens", "final train loss", "final ICL score"], rows)


def training_curves(size: str):
    """Training loss and ICL score against tokens seen, one line per trained run of ``size``."""
    import torch
    from matplotlib.figure import Figure

    from .runs import available_runs, load_metrics

    fig = Figure(figsize=(9, 3.4), layout="constrained")
    ax_loss, ax_icl = fig.subplots(1, 2)
    for name in available_runs(size):
        m = load_metrics(size, name)
        tokens = m["tokens"].double()
        ok = torch.isfinite(m["train_loss"]) & (tokens > 0)
        ax_loss.plot(tokens[ok], m["train_loss"][ok], label=name, lw=1.2)
        ax_icl.plot(tokens[tokens > 0], m["icl_score"][tokens > 0], label=name, lw=1.2)
    for ax in (ax_loss, ax_icl):
        ax.set_xscale("log")
        ax.set_xlabel("tokens seen")
    ax_loss.set_ylabel("training loss (nats)")
    ax_icl.set_ylabel("ICL score (nats; negative = in-context learning)")
    ax_icl.axhline(0.0, color="0.5", lw=0.8)
    ax_icl.legend(fontsize=7, ncol=2)
    fig.suptitle(f"The {size} zoo in training")
    return fig



# ------------------------------------------------------------------ the reproduction in one table

def _fmt_range(values: list[float], fmt: str = "+.2f") -> str:
    values = [v for v in values if v is not None]
    if not values:
        return "none"
    lo, hi = format(min(values), fmt), format(max(values), fmt)
    return lo if lo == hi else f"{lo} to {hi}"


def summary_table(rows: dict[str, dict]) -> Table:
    """``induction_heads.summary.summary`` as a table, one row per model."""
    def window(r):
        w = r["phase_change_window"]
        return "none" if w is None else f"{w['start'] / 1e6:.1f}M-{w['end'] / 1e6:.1f}M"

    def opt(v):
        return "-" if v is None else v

    return Table(
        ["model", "final ICL", "ICL before window", "window (tokens)", "ICL in window", "max prefix",
         "induction heads", "bump", "ICL removed by ablation"],
        [[n, r["icl_score_final"], opt(r["icl_score_before_window"]), window(r), opt(r["fraction_of_icl_in_window"]),
          r["max_prefix_matching_score"], ", ".join(r["induction_heads"]) or "none", "yes" if r["loss_bump"] else "no",
          opt(r.get("ablation_icl_fraction_removed"))] for n, r in rows.items()],
    )


def paper_vs_ours(rows: dict[str, dict]) -> Table:
    """The paper's headline numbers beside ours (ranges over the models they concern)."""
    from .summary import PAPER

    deep = {n: r for n, r in rows.items() if r["layers"] >= 2 and not r["smeared_key"]}
    one = {n: r for n, r in rows.items() if r["layers"] == 1 and not r["smeared_key"]}
    attn_deep = {n: r for n, r in deep.items() if r["attn_only"]}
    windows = [r["phase_change_window"] for r in deep.values() if r["phase_change_window"]]
    return Table(
        ["quantity", "models", "paper", "ours"],
        [
            ["ICL score before the window", "2+ layers", PAPER["icl_score_before_window"],
             _fmt_range([r["icl_score_before_window"] for r in deep.values()])],
            ["final ICL score", "2+ layers", PAPER["icl_score_final"], _fmt_range([r["icl_score_final"] for r in deep.values()])],
            ["final ICL score", "1 layer", PAPER["icl_score_final"], _fmt_range([r["icl_score_final"] for r in one.values()])],
            ["fraction of final ICL gained in the window", "2+ layers", PAPER["fraction_of_icl_in_window"],
             _fmt_range([r["fraction_of_icl_in_window"] for r in deep.values()], ".2f")],
            ["phase-change window", "2+ layers", PAPER["phase_change_window"],
             "none" if not windows else f"starts {_fmt_range([w['start'] / 1e6 for w in windows], '.1f')}M, "
             f"ends {_fmt_range([w['end'] / 1e6 for w in windows], '.1f')}M tokens"],
            ["max prefix-matching score", "2+ layers", PAPER["max_prefix_matching_score"],
             _fmt_range([r["max_prefix_matching_score"] for r in deep.values()], ".2f")],
            ["max prefix-matching score", "1 layer", PAPER["max_prefix_matching_score"],
             _fmt_range([r["max_prefix_matching_score"] for r in one.values()], ".2f")],
            ["loss bump", "2+ layers", PAPER["loss_bump"], f"{sum(r['loss_bump'] for r in deep.values())} of {len(deep)}"],
            ["loss bump", "1 layer", PAPER["loss_bump"], f"{sum(r['loss_bump'] for r in one.values())} of {len(one)}"],
            ["ICL removed by ablating induction heads", "2+ layers, attention-only",
             PAPER["ablation_icl_fraction_removed"],
             _fmt_range([r.get("ablation_icl_fraction_removed") for r in attn_deep.values()], ".2f")],
        ],
    )
