"""What every chapter of the book calls first, and the small display helpers chapters share.

A chapter's first cells are: the Colab cell (does nothing outside Colab), the papermill
``parameters`` cell (``size = "tiny"``), then ``spec = book.setup_chapter(size)``.
"""

from __future__ import annotations

import html
import os
import subprocess
import sys
import warnings
from typing import Sequence

import torch

from ..engine.config import OneLineError, SizeError, SizeSpec, get_size, validate_size
from ..engine.runs import check_store
from ..measure.intervals import Interval
from .figures.style import apply_house_style

__all__ = [
    "DEFAULT_SIZE",
    "SizeError",
    "ParameterError",
    "validate_live",
    "in_colab",
    "setup_chapter",
    "ensure_data",
    "Table",
    "check",
    "check_claim",
    "check_deviation",
    "claim_line",
]

# The size whose executed outputs are stored in chapters/ (and that nbval compares).
DEFAULT_SIZE = "small"

# Set by a chapter's Colab cell: the sparse clone of the repository at the book's version.
CHECKOUT_ENV = "INDUCTION_HEADS_CHECKOUT"


LIVE_CHOICES = (False, True)


class ParameterError(OneLineError):
    """A chapter parameter with a value it does not accept."""


def validate_live(live: object) -> bool:
    """A chapter's ``live`` parameter (train a model in the chapter, :mod:`induction_heads.book.live`):
    ``True`` or ``False``, nothing else (not "yes", not 1)."""
    if not isinstance(live, bool):
        raise ParameterError(f"live must be one of: {', '.join(map(str, LIVE_CHOICES))}; got {live!r}")
    return live


def in_colab() -> bool:
    return "google.colab" in sys.modules


def setup_chapter(size: str, seed: int = 0) -> SizeSpec:
    """Validate the ``size`` parameter and put the kernel in the book's standard state.

    One CPU thread (results do not depend on the machine's core count, and the book's build
    leaves the other core free), a fixed seed, quiet tokenizers, the house matplotlib style,
    and in Colab the ``data/<size>`` folder fetched if missing. Returns the size's :class:`SizeSpec`.
    """
    validate_size(size)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    # tqdm.auto warns on import when ipywidgets is absent; the book draws no progress bars.
    warnings.filterwarnings("ignore", message="IProgress not found")
    torch.set_num_threads(1)
    torch.manual_seed(seed)
    apply_house_style()
    if in_colab():
        ensure_data(size)
    return get_size(size)


def ensure_data(size: str) -> None:
    """In a Colab sparse clone, add ``data/<size>`` to the checkout if it is not there yet, then
    check every fetched file against its sha256 manifest (a damaged fetch stops the chapter with
    one :class:`~induction_heads.engine.store.RunStoreError` line naming the file). A fetch that
    fails stops with one line naming the step ('data') and what to do. It looks in the clone
    itself: before the fetch the package's data folder falls back to ``./data``, which may hold
    another copy."""

    checkout = os.environ.get(CHECKOUT_ENV)
    if checkout and not os.path.isdir(os.path.join(checkout, "data", size)):
        done = subprocess.run(
            ["git", "-C", checkout, "sparse-checkout", "add", f"data/{size}"], capture_output=True, text=True
        )
        if done.returncode:
            why = (done.stderr or done.stdout).strip().splitlines() or ["no output"]
            raise OneLineError(
                f"Colab set-up failed at step 'data': git could not fetch data/{size} ({why[-1]}); "
                "check the runtime's network, then run this cell again"
            )
        check_store(size)


class Table:
    """A small table that shows as HTML in the book and as aligned text everywhere else.

    Cells are formatted once, here, so the text nbval compares is exactly what a reader sees.
    Columns of numbers are right-aligned, every other column (the first, and text such as a
    verdict) left-aligned, in the text and in the HTML (class ``ih-text``).
    """

    def __init__(self, header: Sequence[str], rows: Sequence[Sequence[object]], floatfmt: str = ".3f"):
        def fmt(v: object) -> str:
            return format(v, floatfmt) if isinstance(v, float) else str(v)

        self.header = [str(h) for h in header]
        self.rows = [[fmt(v) for v in row] for row in rows]
        self.numeric = [i > 0 and all(_is_number(r[i]) for r in self.rows) for i in range(len(self.header))]

    def __repr__(self) -> str:
        cols = [self.header, *self.rows]
        widths = [max(len(r[i]) for r in cols) for i in range(len(self.header))]
        line = lambda r: "  ".join(c.rjust(w) if num else c.ljust(w)  # noqa: E731
                                   for c, w, num in zip(r, widths, self.numeric)).rstrip()
        return "\n".join([line(self.header), "  ".join("-" * w for w in widths), *map(line, self.rows)])

    def _repr_html_(self) -> str:
        cls = ['' if num else ' class="ih-text"' for num in self.numeric]
        th = "".join(f"<th{c}>{html.escape(h)}</th>" for h, c in zip(self.header, cls))
        body = "".join(
            "<tr>" + "".join(f"<td{c}>{html.escape(v)}</td>" for v, c in zip(row, cls)) + "</tr>" for row in self.rows
        )
        return f'<table class="ih-table"><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>'


# Cells that count as numbers for alignment: "-", "none" and "n/a" stand for a missing number.
_MISSING = {"-", "none", "n/a", "nan", ""}


def _is_number(cell: str) -> bool:
    text = cell.strip().replace(",", "").rstrip("%MBKx")
    if text.lower() in _MISSING:
        return True
    try:
        float(text)
    except ValueError:
        return False
    return True


def check(claim: str, ok: bool, **numbers: float) -> None:
    """Assert a chapter's claim, printing the numbers it rests on first.

    ``check("loss fell", final < first, first=first, final=final)`` prints
    ``PASS loss fell (first=6.238, final=4.101)`` or raises ``AssertionError`` with that line.
    """
    line = claim_line(claim, numbers)
    print(("PASS " if ok else "FAIL ") + line)
    if not ok:
        raise AssertionError(line)


def check_claim(size: str, claim: str, ok: bool, **numbers: float) -> None:
    """:func:`check` for a claim of the paper on the models of ``size``. At a size that does not
    check claims (``tiny``: it trains for seconds and forms no induction heads), the numbers are
    printed but not asserted, and the output says so; the claims are asserted at ``small`` and
    ``base``."""
    if _asserts(size, claim, numbers):
        check(claim, ok, **numbers)


def check_deviation(size: str, claim: str, ok: bool, **numbers: float) -> None:
    """A claim of the paper that our models were measured *not* to meet, recorded as a deviation
    (in the decisions log, with its numbers). Prints ``DEVIATION <claim> (numbers)`` and asserts
    that the claim still fails: if new data meets it, the chapter stops, so that its text, which
    says the claim fails, is rewritten rather than left wrong. At a size that does not check
    claims the line is printed, not asserted, as with :func:`check_claim`."""
    if not _asserts(size, claim, numbers):
        return
    line = claim_line(claim, numbers)
    if ok:
        print("MET " + line)
        raise AssertionError(f"recorded as a deviation but now met, rewrite the text: {line}")
    print("DEVIATION " + line)


def _asserts(size: str, claim: str, numbers: dict) -> bool:
    """Whether ``size`` asserts the paper's claims; if not, print the claim's line saying so."""
    if get_size(size).checks_claims:
        return True
    print(f"NOT ASSERTED at size {size!r} (a pipeline smoke size): {claim_line(claim, numbers)}")
    return False


def _shown(v: object) -> str:
    if isinstance(v, Interval):
        return v.format(".3f")
    return f"{v:.3f}" if isinstance(v, float) else str(v)


def claim_line(claim: str, numbers: dict) -> str:
    """``claim (name=value, ...)``, floats to three decimals, a number with its 95% interval
    (:class:`induction_heads.measure.intervals.Interval`) as ``value [lo, hi]``: the line a check
    prints."""
    shown = ", ".join(f"{k}={_shown(v)}" for k, v in numbers.items())
    return f"{claim} ({shown})" if shown else claim
