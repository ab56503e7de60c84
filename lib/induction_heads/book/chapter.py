"""What every chapter of the book calls first, and the small display helpers chapters share.

A chapter's first cells are: the Colab cell (does nothing outside Colab), the papermill
``parameters`` cell (``size = "tiny"``), then ``spec = book.setup_chapter(size)``.
"""

from __future__ import annotations

import base64
import copy
import csv
import html
import io
import math
import os
import re
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Sequence

import torch

from ..engine.config import SIZES, OneLineError, SizeError, SizeSpec, get_size, validate_size
from ..engine.runs import available_runs, check_store
from ..measure.intervals import Interval

__all__ = [
    "DEFAULT_SIZE",
    "SizeError",
    "ParameterError",
    "validate_live",
    "in_colab",
    "published_sizes",
    "chapter_sizes",
    "size_choices",
    "build_command",
    "size_here",
    "unpublished_size_error",
    "setup_chapter",
    "ensure_data",
    "STEP_START",
    "STEP_DONE",
    "NOT_JUDGED",
    "PIPELINE_ONLY",
    "would_hold",
    "smoke_line",
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
# The repository this package lives in (a checkout, or the Colab cell's sparse clone).
REPO_ROOT = Path(__file__).resolve().parents[3]
# Sizes whose zoo trains on a GPU: the command that builds one names the device.
GPU_SIZES = ("base",)

# The lines the Colab set-up prints as each of its steps (clone, install, data) starts and ends:
# the Colab cell (written by ``build.colab_cell_source``) and :func:`ensure_data` use these two.
STEP_START = "Colab set-up, step '{step}': {what} ..."
STEP_DONE = "Colab set-up, step '{step}': done in {seconds:.1f} s, {size}"

# What a size that does not check the paper's claims (``tiny``) says instead of a verdict, and why.
NOT_JUDGED = "not judged at this size"
PIPELINE_ONLY = "tests the pipeline, not the science"


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


def published_sizes(repo: Path | str = REPO_ROOT) -> list[str]:
    """The sizes whose run store the repository at ``repo`` publishes: a folder ``data/<size>`` in
    its ``HEAD`` commit, read from git's tree (so a sparse clone without the data knows them), in
    size order. Outside a git repository (an unpacked archive): the ``data/<size>`` folders there."""
    done = subprocess.run(["git", "-C", str(repo), "ls-tree", "--name-only", "HEAD", "data/"],
                          capture_output=True, text=True)
    if done.returncode == 0:
        names = {Path(line).name for line in done.stdout.split()}
    else:
        names = {p.name for p in (Path(repo) / "data").iterdir()} if (Path(repo) / "data").is_dir() else set()
    return [s for s in SIZES if s in names]


def size_here(size: str) -> bool:
    """Whether a chapter can run at ``size`` here: in Colab, the repository publishes it
    (:func:`published_sizes` of the clone; :func:`ensure_data` fetches it); elsewhere, its run store
    in ``data/`` holds a finished run."""
    checkout = os.environ.get(CHECKOUT_ENV)
    if in_colab() and checkout:
        return size in published_sizes(checkout)
    return bool(available_runs(size))


def chapter_sizes() -> list[str]:
    """The sizes a chapter can run at here (:func:`size_here`), in size order."""
    return [s for s in SIZES if size_here(s)]


def size_choices(sizes: Sequence[str]) -> str:
    """``tiny, small or base``: sizes as a reader's choice in words."""
    sizes = list(sizes)
    return " or ".join([", ".join(sizes[:-1]), sizes[-1]] if len(sizes) > 1 else sizes)


def build_command(size: str) -> str:
    """The command that builds a size's run store (its data and zoo): ``make zoo SIZE=<size>``,
    with ``DEVICE=cuda`` for a size whose zoo trains on a GPU (:data:`GPU_SIZES`)."""
    return f"make zoo SIZE={validate_size(size)}" + (" DEVICE=cuda" if size in GPU_SIZES else "")


def unpublished_size_error(size: str, sizes: Sequence[str]) -> SizeError:
    """The one-line :class:`SizeError` for a known size whose run store is not here: what the size
    is, that it is not published, how to build it (:func:`build_command`), and ``sizes``, those a
    chapter can run at here (:func:`chapter_sizes`), to choose from."""
    where = " on a GPU" if size in GPU_SIZES else ""
    choose = f", or choose {size_choices(sizes)}" if sizes else ""
    return SizeError(f"size {size!r} ({get_size(size).description}) is not published with this book: no "
                     f"data/{size} in its repository; build it{where} with `{build_command(size)}`{choose}")


def setup_chapter(size: str, seed: int = 0) -> SizeSpec:
    """Validate the ``size`` parameter and put the kernel in the book's standard state.

    A known size whose run store is not here (in Colab: not published) stops with one line
    (:func:`unpublished_size_error`). One CPU thread (results do not depend on the machine's core
    count, and the book's build leaves the other core free), a fixed seed, quiet tokenizers, the
    house matplotlib style, and in Colab the ``data/<size>`` folder fetched if missing. Returns the
    size's :class:`SizeSpec`.
    """
    validate_size(size)
    if not size_here(size):
        raise unpublished_size_error(size, chapter_sizes())
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    # tqdm.auto warns on import when ipywidgets is absent; the book draws no progress bars.
    warnings.filterwarnings("ignore", message="IProgress not found")
    torch.set_num_threads(1)
    torch.manual_seed(seed)
    apply_house_style()
    if in_colab():
        ensure_data(size)
    return get_size(size)


def folder_bytes(path: Path | str) -> int:
    """Bytes of every file under ``path`` (0 if it does not exist)."""
    return sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file())


def ensure_data(size: str) -> None:
    """In a Colab sparse clone, add ``data/<size>`` to the checkout if it is not there yet, then
    check every fetched file against its sha256 manifest (a damaged fetch stops the chapter with
    one :class:`~induction_heads.engine.store.RunStoreError` line naming the file). The step prints
    a line as it starts and one as it ends, with its time and the megabytes git fetched
    (:data:`STEP_START`, :data:`STEP_DONE`). A fetch that fails stops with one line naming the
    step ('data'), git's reason and what to do. It looks in the clone itself: before the fetch
    the package's data folder falls back to ``./data``, which may hold another copy."""

    checkout = os.environ.get(CHECKOUT_ENV)
    if checkout and not os.path.isdir(os.path.join(checkout, "data", size)):
        print(STEP_START.format(step="data", what=f"fetching data/{size}, the {size!r} run store"), flush=True)
        start, before = time.perf_counter(), folder_bytes(Path(checkout, ".git", "objects"))
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
        fetched = folder_bytes(Path(checkout, ".git", "objects")) - before
        on_disk = folder_bytes(Path(checkout, "data", size))
        print(STEP_DONE.format(step="data", seconds=time.perf_counter() - start,
                               size=f"{fetched / 1e6:.1f} MB fetched, {on_disk / 1e6:.1f} MB on disk"), flush=True)


class Table:
    """A small table that shows as HTML in the book and as aligned text everywhere else.

    Cells are formatted once, here, so the text nbval compares is exactly what a reader sees.
    Columns of numbers are right-aligned, every other column (the first, and text such as a
    verdict) left-aligned, in the text and in the HTML (class ``ih-text``). A missing float (NaN)
    shows as ``none`` and a float of 10,000 or more as a whole number with thousands separators,
    never as ``nan`` or an exponent; a cell formatted before (text) says the same
    (:func:`plain_numbers`: ``"nan"`` is ``none``, ``3.79e+03`` is ``3,790``). In the book a table of more than :attr:`FOLD_ROWS` rows is
    data, not the story: it folds under a one-line summary with a CSV download (:meth:`unfolded`
    shows one whole, where the table is the page's point).
    """

    FOLD_ROWS = 12

    def __init__(self, header: Sequence[str], rows: Sequence[Sequence[object]], floatfmt: str = ".3f"):
        def fmt(v: object) -> str:
            if isinstance(v, float):
                return "none" if v != v else f"{v:,.0f}" if abs(v) >= 1e4 else format(v, floatfmt)
            return plain_numbers(str(v))

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
        table = f'<table class="ih-table"><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>'
        if len(self.rows) <= self.FOLD_ROWS:
            return table
        return (f'<details class="ih-data"><summary>Data: a table of {len(self.rows)} rows '
                f'({html.escape(", ".join(self.header[:3]))}, ...)</summary>{table}'
                f'<p><a download="table.csv" href="{self.csv_uri()}">Download these rows as CSV</a></p></details>')

    def unfolded(self) -> "Table":
        """The same table shown whole in the book, however long: for a page whose point is the
        table (the appendix of every trained run). Its text is the same."""
        table = copy.copy(self)
        table.FOLD_ROWS = max(len(self.rows), self.FOLD_ROWS)
        return table

    def csv(self) -> str:
        """The table as CSV text (the formatted cells)."""
        buf = io.StringIO()
        csv.writer(buf).writerows([self.header, *self.rows])
        return buf.getvalue()

    def csv_uri(self) -> str:
        """:meth:`csv` as a ``data:`` URI for a download link."""
        return "data:text/csv;base64," + base64.b64encode(self.csv().encode()).decode()


_EXPONENT = re.compile(r"(?<![\w.])(\d+(?:\.(\d+))?)e([+-]?\d+)\b", re.I)
_SUPERSCRIPT = str.maketrans("-0123456789", "\u207b\u2070\u00b9\u00b2\u00b3\u2074\u2075\u2076\u2077\u2078\u2079")


_POWER_OF_TEN = re.compile("-?\\d+(?:\\.\\d+)?\u00d710[\u207b\u2070\u00b9\u00b2\u00b3\u2074-\u2079]+")  # plain_number's 8.6×10⁻⁶


def plain_number(text: str) -> str:
    """A number written in exponent notation (``3.79e+03``, ``2.5e9``, ``8.6e-06``) as a reader
    writes it, with the digits it was given: ``3,790``, ``2.5B``, ``8.6×10⁻⁶``. Millions and billions
    are ``M`` and ``B`` (the book's token counts: ``1.2M``); a number below 0.001 keeps a power of
    ten in superscript."""
    m = _EXPONENT.fullmatch(text.strip())
    if not m:
        return text
    mantissa, decimals, exp = m.group(1), len(m.group(2) or ""), int(m.group(3))
    v = float(text)
    if v and abs(v) < 1e-3:
        return f"{mantissa}\u00d710{str(exp).translate(_SUPERSCRIPT)}"
    for unit, scale in (("B", 1e9), ("M", 1e6)):
        if abs(v) >= scale:
            return f"{v / scale:.{max(0, decimals - exp + round(math.log10(scale)))}f}{unit}"
    return f"{v:,.{max(0, decimals - exp)}f}"


def plain_numbers(text: str) -> str:
    """``text`` with every number in exponent notation written as :func:`plain_number` writes it,
    and a lone ``nan`` as ``none`` (a missing number): what a table cell or a check's number shows."""
    if text.strip().lower() == "nan":
        return "none"
    return _EXPONENT.sub(lambda m: plain_number(m.group(0)), text)


# Cells that count as numbers for alignment: "-", "none" and "n/a" stand for a missing number.
_MISSING = {"-", "none", "n/a", "nan", ""}


def _is_number(cell: str) -> bool:
    text = cell.strip().replace(",", "").rstrip("%MBKx")
    if text.lower() in _MISSING or _POWER_OF_TEN.fullmatch(text):
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
    if _asserts(size, claim, numbers, ok):
        check(claim, ok, **numbers)


def check_deviation(size: str, claim: str, ok: bool, **numbers: float) -> None:
    """A claim of the paper that our models were measured *not* to meet, recorded as a deviation
    (in the decisions log, with its numbers). Prints ``DEVIATION <claim> (numbers)`` and asserts
    that the claim still fails: if new data meets it, the chapter stops, so that its text, which
    says the claim fails, is rewritten rather than left wrong. At a size that does not check
    claims the line is printed, not asserted, as with :func:`check_claim`."""
    if not _asserts(size, claim, numbers, ok):
        return
    line = claim_line(claim, numbers)
    if ok:
        print("MET " + line)
        raise AssertionError(f"recorded as a deviation but now met, rewrite the text: {line}")
    print("DEVIATION " + line)


def would_hold(ok: bool) -> str:
    """What a check says at a size that judges no claim (``tiny``) in place of PASS or FAIL."""
    return "would hold" if ok else "would not hold at this size"


def smoke_line(size: str, count: str, claim: str) -> str:
    """The one visible line of a check at a size that judges no claim (``tiny``): it says that the
    size tests the pipeline, not the science, then ``count`` (how many would hold) and the claim."""
    return f"not judged at size {size!r}, which {PIPELINE_ONLY} ({count}): {claim}"


def _asserts(size: str, claim: str, numbers: dict, ok: bool) -> bool:
    """Whether ``size`` asserts the paper's claims; if not, print the claim's line saying so."""
    if get_size(size).checks_claims:
        return True
    print(smoke_line(size, would_hold(ok), claim_line(claim, numbers)))
    return False


def _shown(v: object) -> str:
    if isinstance(v, Interval):
        return v.format(".3f")
    return f"{v:.3f}" if isinstance(v, float) else plain_numbers(str(v))


def claim_line(claim: str, numbers: dict) -> str:
    """``claim (name=value, ...)``, floats to three decimals, a number with its 95% interval
    (:class:`induction_heads.measure.intervals.Interval`) as ``value [lo, hi]``: the line a check
    prints."""
    shown = ", ".join(f"{k}={_shown(v)}" for k, v in numbers.items())
    return f"{claim} ({shown})" if shown else claim


# The house style (figures.style) is imported last: importing the figures package imports the
# argument modules, which import the claim registry and, through it, this module; by now every
# name defined here exists.
from .figures.style import apply_house_style  # noqa: E402
