"""A run's readings, computed once and kept: the summary row of :func:`induction_heads.book.summary.model_summary`
stored beside the run's files, so that a chapter that lists every run reads numbers instead of
recomputing them from the checkpoints.

A kept reading lives in ``data/<size>/zoo/<model>/readings.json``: ``{"version": ..., "summary":
row}``. It is written by ``make readings`` (``python -m induction_heads readings --size ...``),
recorded in the run's sha256 manifest like every file of the store (so a damaged or edited one is
refused), and used only while its ``version`` is the current :func:`readings_version`: the sha256
of the source of every module of this package that the summary's code imports, directly or not.
Any change to that code makes every kept reading stale, and a stale or missing reading is
computed again rather than read: no number comes from code other than today's.

A chapter's heavier analyses of a few runs (Argument 3's ablation controls, say) are kept the same
way as :class:`Analysis` values: ``data/<size>/zoo/<model>/readings/<analysis>.json``, ``{"version":
..., "value": ...}``, versioned by the sources of the module that computes them
(:func:`readings_version` of that module), written by ``make readings`` for the runs the analysis
:attr:`~Analysis.covers`, read by :func:`analysis_value` only while current.
"""

from __future__ import annotations

import ast
import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from ..engine.runs import run_dir
from ..engine.store import atomic_write_json, read_json
from ..engine.zoo import Run

__all__ = ["READINGS_FILE", "readings_sources", "readings_version", "kept_reading", "write_reading", "reading",
           "Provenance", "Analysis", "ANALYSES", "register_analysis", "kept_analysis", "write_analysis",
           "analysis_value"]

READINGS_FILE = "readings.json"
_PACKAGE = Path(__file__).resolve().parents[1]  # lib/induction_heads
_ROOT_MODULE = "induction_heads.book.summary"
# Modules the summary's imports reach that shape what a reader sees, never a number of a reading:
# the chapters' claim lines, verdict tables and figures. Their edits leave kept readings current.
_PRESENTATION = ("induction_heads.book.chapter", "induction_heads.book.checks", "induction_heads.book.claims",
                 "induction_heads.book.figures")


def _module_path(module: str) -> Path | None:
    parts = module.split(".")[1:]
    if not parts:
        return _PACKAGE / "__init__.py"
    rel = Path(*parts)
    for candidate in (_PACKAGE / rel.with_suffix(".py"), _PACKAGE / rel / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imports(path: Path, module: str) -> set[str]:
    """The modules of this package that the module at ``path`` imports (absolute or relative)."""
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            target = f"{base}.{node.module}" if node.level and node.module else (base if node.level else node.module)
            names = [target] + [f"{target}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        out |= {n for n in names if n and n.split(".")[0] == "induction_heads" and _module_path(n)}
    return out


@cache
def readings_sources(root: str = _ROOT_MODULE) -> tuple[Path, ...]:
    """The source files of every module the summary (or the module ``root``) imports, transitively,
    within this package, sorted. A package's ``__init__`` counts only where it is imported itself (``from . import x``
    of a package): the book's ``__init__`` gathers the chapters' helpers, which compute no reading.
    The presentation modules (:data:`_PRESENTATION`) are left out, and with them what only they
    import."""
    seen, todo = set(), [root]
    while todo:
        module = todo.pop()
        path = _module_path(module)
        if module in seen or path is None or module.startswith(_PRESENTATION):
            continue
        seen.add(module)
        todo += sorted(_imports(path, module))
    return tuple(sorted({_module_path(m) for m in seen}))


@cache
def readings_version(root: str = _ROOT_MODULE) -> str:
    """The sha256 (first 16 hex digits) of :func:`readings_sources`' contents and package paths
    (of the summary's code, or of the module ``root``'s)."""
    h = hashlib.sha256()
    for path in readings_sources(root):
        h.update(str(path.relative_to(_PACKAGE)).encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def _path(run: Run) -> Path:
    return run_dir(run.size, run.name) / READINGS_FILE


def kept_reading(run: Run) -> dict | None:
    """The run's kept summary row if it is there and current (its version is today's code's),
    else None. A kept file that does not match the run's manifest raises the store's one-line
    error (a damaged or edited reading is never used)."""
    path = _path(run)
    if not path.exists():
        return None
    kept = read_json(path, f"delete it and run `make readings SIZE={run.size}`")
    return kept["summary"] if kept.get("version") == readings_version() else None


def write_reading(run: Run, row: dict) -> None:
    """Keep ``row`` (the run's summary) with today's :func:`readings_version`, recorded in the
    run's manifest."""
    atomic_write_json({"version": readings_version(), "summary": row}, _path(run))


class Provenance:
    """Where a chapter's readings came from: how many runs were read from kept readings and which
    were computed now (stale or missing), for the line a chapter prints under its table; of the
    summary rows, or of one :class:`Analysis`."""

    def __init__(self, analysis: "Analysis | None" = None) -> None:
        self.kept: list[str] = []
        self.computed: list[str] = []
        self.analysis = analysis

    def line(self) -> str:
        """One line for the reader, e.g. ``"48 runs read from their kept readings (version
        3f2a...), 0 computed now"``."""
        computed = f"{len(self.computed)} computed now" + (f" ({', '.join(self.computed)})" if self.computed else "")
        if self.analysis is None:
            return (f"{len(self.kept)} runs read from their kept readings (data/<size>/zoo/<model>/{READINGS_FILE}, "
                    f"code version {readings_version()}), {computed}")
        a = self.analysis
        return (f"{a.name} of {len(self.kept)} runs read from their kept readings (data/<size>/zoo/<model>/"
                f"{ANALYSES_DIR}/{a.name}.json, code version {a.version}), {computed}")


def reading(run: Run, compute, provenance: Provenance | None = None) -> dict:
    """The run's summary row: its kept reading when current, else ``compute(run)`` (the row as the
    summary computes it, passed through JSON so both kinds of row are alike)."""
    row = kept_reading(run)
    if row is not None:
        if provenance is not None:
            provenance.kept.append(run.name)
        return row
    if provenance is not None:
        provenance.computed.append(run.name)
    return json.loads(json.dumps(compute(run), default=str))


# ------------------------------------------------------------------ kept analyses of a few runs

ANALYSES_DIR = "readings"


@dataclass(frozen=True)
class Analysis:
    """A chapter's analysis of one run, kept like a reading. ``compute(run)`` returns plain JSON
    (lists, numbers, strings, dicts); ``covers(names)`` picks, from a size's finished runs, those
    the chapter reads it for (``make readings`` keeps it for them, a chapter may compute it for any
    run). Its version is :func:`readings_version` of the module that defines ``compute``: an edit
    to that code, or to anything it imports, makes every kept value stale."""

    name: str
    compute: Callable
    covers: Callable[[Iterable[str]], list[str]]

    @property
    def version(self) -> str:
        """The version of the code that computes it (16 hex digits)."""
        return readings_version(self.compute.__module__)


ANALYSES: dict[str, Analysis] = {}


def register_analysis(name: str, compute: Callable, covers: Callable[[Iterable[str]], list[str]]) -> Analysis:
    """Register (once per name) and return the :class:`Analysis` ``name``: ``make readings`` keeps
    every registered analysis for the runs it covers."""
    if name in ANALYSES and ANALYSES[name].compute is not compute:
        raise ValueError(f"analysis {name!r} is registered twice")
    if not name.replace("-", "").replace(".", "").replace("_", "").isalnum():
        raise ValueError(f"analysis name {name!r}: letters, digits, '.', '-' and '_' only (it names a file)")
    ANALYSES[name] = Analysis(name, compute, covers)
    return ANALYSES[name]


def _analysis_path(run: Run, analysis: Analysis) -> Path:
    return run_dir(run.size, run.name) / ANALYSES_DIR / f"{analysis.name}.json"


def kept_analysis(run: Run, analysis: Analysis):
    """The run's kept value of ``analysis`` when it is there and current, else None (a kept file
    that does not match the run's manifest raises the store's one-line error)."""
    path = _analysis_path(run, analysis)
    if not path.exists():
        return None
    kept = read_json(path, f"delete it and run `make readings SIZE={run.size}`")
    return kept["value"] if kept.get("version") == analysis.version else None


def write_analysis(run: Run, analysis: Analysis, value) -> None:
    """Keep ``value`` (``analysis.compute(run)``) with the analysis' current version, recorded in
    the run's manifest."""
    atomic_write_json({"version": analysis.version, "value": value}, _analysis_path(run, analysis))


def analysis_value(run: Run, analysis: Analysis, provenance: Provenance | None = None):
    """``analysis`` of the run: its kept value when current, else computed now (passed through JSON,
    so both kinds are alike). Nothing is written: a chapter never writes into the run store."""
    value = kept_analysis(run, analysis)
    if value is not None:
        if provenance is not None:
            provenance.kept.append(run.name)
        return value
    if provenance is not None:
        provenance.computed.append(run.name)
    return json.loads(json.dumps(analysis.compute(run)))
