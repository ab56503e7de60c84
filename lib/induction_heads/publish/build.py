"""Building the book: papermill once per (chapter, size), a cache, the per-size pages, Sphinx.

``python -m induction_heads.publish.build book`` is what ``make book`` runs:

1. For every chapter in ``_toc.yml`` and every size whose run store exists, execute the chapter
   with papermill into ``_build/executed/<size>/``. An executed notebook carries an *execution
   key* in its metadata: a hash of the chapter's cells, the size, the ``lib/`` tree,
   ``data/<size>`` and the pin file. A chapter is re-executed only when its key changed.
   (Jupyter Book's own cache, jupyter-cache, keys on code cells only and would reuse stale
   outputs after a change in ``lib/`` or ``data/``; so the book's execution is off and this
   cache replaces it.)
2. Assemble the book's source tree in ``_build/src``: the default size's page of each chapter at
   ``chapters/<name>.ipynb`` and every other size at ``chapters/sizes/<size>/<name>.ipynb``, each
   with a size switcher under its title and its code cells folded (``hide-input``; the Colab and
   parameters cells excepted). The ``_toc.yml`` is the repository's: the default size's pages,
   whose Previous/Next chain is the reading order; the other sizes' pages are built outside it
   (``orphan``), the same way for every chapter, and reached from the switcher. Every figure gets
   its number, caption and alt text from ``chapters/figures.yml`` (:func:`caption_figures`). A page of the toc
   written in Markdown (``<name>.md``, such as the decisions log) runs no code and depends on no
   size: it is copied as it is, with no size pages.
3. ``jupyter-book build`` with warnings as errors into ``_build/html``, its settings the
   repository's ``_config.yml`` with the authors from ``CITATION.cff`` and a footer giving the
   build's version (the commit's short hash) and date and a "cite as" line (:func:`site_config`).
4. Finish the HTML (:func:`finish_site`): no page repeats an inline script (the console error
   "THEBE_JS_URL has already been declared"); the other sizes' pages get Previous/Next through
   their own size's pages in the toc's order and their sidebar entry marked; search labels each
   chapter's pages with their size; the Colab button of the size pages opens the chapter's
   notebook in the repository (Colab opens ``chapters/<name>.ipynb``; the size switcher on those
   pages tells the reader to change ``size`` in its parameters cell).

``python -m induction_heads.publish.build html`` does steps 2-4 only, from the chapters already
executed in ``_build/executed`` (to rebuild the site after a change to ``_static/``, the settings
or this module without executing anything).

``python -m induction_heads.publish.build chapters`` re-executes the chapters at the default size in
place, so ``chapters/*.ipynb`` hold the reference outputs nbval compares and Colab shows.
``python -m induction_heads.publish.build sync`` rewrites each chapter's Colab cell and default size
from ``_config.yml`` and :data:`induction_heads.book.DEFAULT_SIZE`.
"""

from __future__ import annotations

import html
import argparse
import datetime
import hashlib
import json
import posixpath
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Sequence

import nbformat
import papermill as pm
import yaml

from ..book.chapter import DEFAULT_SIZE, REPO_ROOT, STEP_DONE, STEP_START, published_sizes, size_choices
from ..book.figures.attention import install_static
from ..engine.config import SIZES
from ..engine.runs import available_sizes

__all__ = [
    "ROOT",
    "load_config",
    "toc_chapters",
    "markdown_pages",
    "tree_digest",
    "execution_key",
    "colab_cell_source",
    "sync_chapter",
    "size_page",
    "switcher_markdown",
    "hide_code",
    "FIGURES_FILE",
    "load_figure_notes",
    "is_figure_output",
    "figure_outputs",
    "caption_figures",
    "out_of_chain",
    "build_book",
    "execute_chapters",
    "CITATION_FILE",
    "build_info",
    "load_citation",
    "cite_as",
    "footer_html",
    "site_config",
    "dedupe_inline_scripts",
    "fill_build_info",
    "sidebar_titles",
    "size_order",
    "chain_size_page",
    "label_search_titles",
    "finish_site",
    "executed_sizes",
    "render_site",
]

ROOT = REPO_ROOT
KERNEL = "python3"
CELL_TIMEOUT = 1200  # seconds per cell; the slowest cell of a `small` chapter is far below this
COLAB_TAG = "colab-setup"
# Files under data/<size> that are not part of the run store (scratch space, unfinished runs).
_DATA_SKIP = ("cache", "resume.safetensors", ".tmp")
# What Colab needs from the pin file: its own torch, numpy and matplotlib stay, and the book's
# build tools (jupyter-book, papermill, nbval, pytest) are not needed to run a chapter.
COLAB_PACKAGES = ("transformer-lens", "transformers", "tokenizers", "safetensors", "jaxtyping", "circuitsvis")


# ---------------------------------------------------------------------------------- settings

def load_config(root: Path = ROOT) -> dict:
    return yaml.safe_load((root / "_config.yml").read_text())


def _toc_files(root: Path) -> list[str]:
    """Every page path (no suffix) of the root ``_toc.yml``, in reading order."""
    toc = yaml.safe_load((root / "_toc.yml").read_text())
    files = [toc["root"]]
    for entry in toc.get("chapters", []):
        files.append(entry["file"])
    for part in toc.get("parts", []):
        files.extend(e["file"] for e in part["chapters"])
    return files


def _is_markdown(root: Path, page: str) -> bool:
    return (root / f"{page}.md").is_file()


def toc_chapters(root: Path = ROOT) -> list[str]:
    """Chapter notebook paths (no suffix) in reading order, from the root ``_toc.yml``: every
    page but the Markdown ones (:func:`markdown_pages`)."""
    return [f for f in _toc_files(root) if not _is_markdown(root, f)]


def markdown_pages(root: Path = ROOT) -> list[str]:
    """The toc's Markdown pages (no suffix): no code, one page for every size."""
    return [f for f in _toc_files(root) if _is_markdown(root, f)]


# ---------------------------------------------------------------------------- execution keys

def tree_digest(path: Path, skip: tuple[str, ...] = ()) -> str:
    """sha256 over the relative paths and bytes of every file under ``path``."""
    h = hashlib.sha256()
    path = Path(path)
    if path.is_dir():
        for f in sorted(p for p in path.rglob("*") if p.is_file()):
            rel = f.relative_to(path).as_posix()
            if "__pycache__" in rel or ".egg-info" in rel or any(s in rel for s in skip):
                continue
            h.update(rel.encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()


def _cells_digest(nb) -> str:
    """Hash of what a chapter *is*: cell types, ids and sources, not outputs or metadata. The ids
    count because the build captions an executed chapter's figures by the ids it carries
    (:func:`caption_figures`): a renamed cell must not reuse a copy executed under its old id."""
    h = hashlib.sha256()
    for cell in nb.cells:
        h.update(cell.cell_type.encode() + b"\0" + cell.get("id", "").encode() + b"\0" + cell.source.encode() + b"\0")
    return h.hexdigest()


def execution_key(nb_path: Path, size: str, root: Path = ROOT, data_root: Path | None = None) -> str:
    """What an executed chapter depends on: its cells, the size, lib/, data/<size>, the pins."""
    data_root = Path(data_root) if data_root is not None else root / "data"
    parts = {
        "cells": _cells_digest(nbformat.read(nb_path, as_version=4)),
        "size": size,
        "lib": tree_digest(root / "lib"),
        "data": tree_digest(data_root / size, skip=_DATA_SKIP),
        "requirements": hashlib.sha256((root / "requirements.txt").read_bytes()).hexdigest(),
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


# ------------------------------------------------------------------------------- Colab cell

def colab_cell_source(config: dict) -> str:
    """The first code cell of every chapter, written from ``_config.yml``'s repository.

    In Colab it clones the repository sparsely (code only) at the book's ref, pip-installs the
    pins Colab lacks and the helper package, and puts ``lib/`` on the path; ``setup_chapter`` then
    fetches ``data/<size>``. Each step prints a line as it starts and one as it ends, with its time
    and size (:data:`~induction_heads.book.chapter.STEP_START`, ``STEP_DONE``: ``setup_chapter``
    prints the data step's the same way), and what git and pip write to stderr (pip's warnings) is
    shown. A failed step stops with one line naming the step, the command's own last line and the
    likely causes in order (for the clone: the network, the repository's address, its branch), and
    a set-up that did not finish starts over when the cell is run again. Two environment variables
    exist for ``make check-colab`` (:mod:`induction_heads.publish.check_colab`): ``INDUCTION_HEADS_REPO`` replaces
    the repository's address (a ``file://`` clone of the checkout under test) and
    ``INDUCTION_HEADS_CHECKOUT`` the clone's folder (``/content/induction-heads`` in Colab).
    """
    repo = config["repository"]["url"].rstrip("/")
    ref = config["repository"].get("branch", "main")
    return f'''# Colab only: install the book's helper package at the book's version and fetch its data.
# Anywhere else (a checkout with `make book`, CI) this cell does nothing.
import sys

if "google.colab" in sys.modules:
    import json, os, re, shutil, subprocess, time

    REPO, REF = "{repo}", "{ref}"  # written from _config.yml
    REPO = os.environ.get("INDUCTION_HEADS_REPO", REPO)  # set only by `make check-colab`
    CHECKOUT = os.environ.get("INDUCTION_HEADS_CHECKOUT", "/content/induction-heads")
    START, DONE = {STEP_START!r}, {STEP_DONE!r}

    class ColabSetupError(Exception):
        def _render_traceback_(self):  # one line in the notebook, not a traceback
            return [f"ColabSetupError: {{self}}"]

    def run(name, command, failed, causes):
        """Run a command of step `name`, showing what it writes to stderr (git's reason, pip's
        warnings); if it fails, stop with one line: what failed, its last line, the likely causes."""
        done = subprocess.run(command, capture_output=True, text=True)
        said = done.stderr.strip()
        if said:
            print(said, file=sys.stderr, flush=True)
        if done.returncode:
            lines = (said or done.stdout.strip() or "no output").splitlines()
            why = next((ln for ln in reversed(lines) if ln.lower().startswith(("fatal:", "error:"))), lines[-1])
            raise ColabSetupError(f"Colab set-up failed at step '{{name}}': {{failed}} ({{why}}); likely causes, "
                                  f"in order: {{causes}}; then run this cell again")

    def megabytes(folder):
        return sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(folder) for f in files) / 1e6

    if os.path.exists(f"{{CHECKOUT}}/.git/colab-ready"):
        print(f"Colab set-up: done earlier in this runtime ({{CHECKOUT}}); delete that folder to start over")
    else:  # a set-up that did not finish starts over
        shutil.rmtree(CHECKOUT, ignore_errors=True)
        network = "the runtime's network (Runtime > Disconnect and delete runtime resets it)"
        start = time.perf_counter()
        # Code only; setup_chapter() adds data/<size> for the size you choose.
        print(START.format(step="clone", what=f"git clone {{REPO}} at {{REF}}, code only"), flush=True)
        run("clone", ["git", "clone", "-q", "--depth=1", "--filter=blob:none", "--sparse", "--branch", REF, REPO, CHECKOUT],
            f"git could not clone {{REPO}} at {{REF}}", f"{{network}}; the repository's address {{REPO}} (REPO above); "
            f"its branch or tag {{REF}} (REF above)")
        run("clone", ["git", "-C", CHECKOUT, "sparse-checkout", "set", "lib"], "git could not check out lib/", network)
        print(DONE.format(step="clone", seconds=time.perf_counter() - start,
                          size=f"{{megabytes(CHECKOUT + '/.git/objects'):.1f}} MB fetched"), flush=True)
        keep = {COLAB_PACKAGES!r}  # Colab keeps its own torch
        pins = [line.strip() for line in open(f"{{CHECKOUT}}/requirements.txt")
                if re.split("[=<>!~ ]", line.strip())[0] in keep]
        start, report = time.perf_counter(), f"{{CHECKOUT}}/.git/pip-report.json"
        print(START.format(step="install", what=f"pip install {{' '.join(pins)}} and the book's package"), flush=True)
        run("install", [sys.executable, "-m", "pip", "install", "-q", "--report", report, *pins, "-e", CHECKOUT],
            f"pip could not install {{' '.join(pins)}} (its lines are above)",
            f"{{network}}; a pin that this runtime's Python cannot install")
        with open(report) as f:
            installed = len(json.load(f)["install"])
        print(DONE.format(step="install", seconds=time.perf_counter() - start, size=f"{{installed}} packages installed"),
              flush=True)
        open(f"{{CHECKOUT}}/.git/colab-ready", "w").close()
    sys.path.insert(0, f"{{CHECKOUT}}/lib")
    os.environ["INDUCTION_HEADS_CHECKOUT"] = CHECKOUT'''


def _find(nb, tag: str) -> int | None:
    for i, cell in enumerate(nb.cells):
        if tag in cell.metadata.get("tags", []):
            return i
    return None


_SIZE_LINE = re.compile(r'^size\s*=\s*"[^"]*".*$', re.M)


def size_line(default_size: str, sizes: Sequence[str]) -> str:
    """The ``size`` line of a chapter's parameters cell: the default, and in its comment the sizes
    a reader can choose (those the repository publishes)."""
    return f'size = "{default_size}"  # model size: {size_choices(sizes)} (the zoo this chapter reads)'


def sync_chapter(nb, config: dict, default_size: str = DEFAULT_SIZE, sizes: Sequence[str] | None = None) -> bool:
    """Rewrite a chapter's Colab cell and its ``size`` line (the default size, and the sizes
    ``sizes`` offered in its comment: by default those the repository publishes,
    :func:`~induction_heads.book.chapter.published_sizes`); True if anything changed."""
    changed = False
    i = _find(nb, COLAB_TAG)
    if i is None:
        raise ValueError(f"chapter has no cell tagged {COLAB_TAG!r}")
    src = colab_cell_source(config)
    if nb.cells[i].source != src:
        nb.cells[i].source, changed = src, True
    j = _find(nb, "parameters")
    if j is None:
        raise ValueError("chapter has no cell tagged 'parameters'")
    line = size_line(default_size, published_sizes() if sizes is None else sizes)
    new = _SIZE_LINE.sub(lambda _: line, nb.cells[j].source, count=1)
    if new != nb.cells[j].source:
        nb.cells[j].source, changed = new, True
    return changed


def default_size_of(nb) -> str:
    j = _find(nb, "parameters")
    m = _SIZE_LINE.search(nb.cells[j].source) if j is not None else None
    if m is None:
        raise ValueError('chapter has no `size = "..."` line in a cell tagged "parameters"')
    return m.group(0).split('"')[1]


# -------------------------------------------------------------------------------- execution

def _clean(nb) -> None:
    """Drop papermill's per-run metadata (timings, status) so stored notebooks diff cleanly."""
    nb.metadata.pop("papermill", None)
    for cell in nb.cells:
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)
        if cell.metadata.get("tags") == []:
            del cell.metadata["tags"]


def execute(src: Path, dest: Path, size: str | None, timeout: int = CELL_TIMEOUT) -> None:
    """Execute ``src`` with papermill into ``dest`` (``size=None``: the notebook's own default)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.stem + ".running.ipynb")
    pm.execute_notebook(
        str(src),
        str(tmp),
        parameters={"size": size} if size is not None else {},
        kernel_name=KERNEL,
        cwd=str(src.parent),
        progress_bar=False,
        request_save_on_cell_execute=False,
        execution_timeout=timeout,
    )
    nb = nbformat.read(tmp, as_version=4)
    _clean(nb)
    nbformat.write(nb, tmp)
    tmp.replace(dest)


def _available_sizes(root: Path) -> list[str]:
    return available_sizes()


def execute_chapters(root: Path = ROOT, sizes: list[str] | None = None, force: bool = False,
                     log=print) -> dict[str, list[str]]:
    """Execute every chapter for every size into ``_build/executed/<size>/``, using the cache.

    Returns ``{size: [chapter paths that were executed]}``.
    """
    sizes = sizes if sizes is not None else _available_sizes(root)
    if DEFAULT_SIZE not in sizes:
        raise SystemExit(f"the default size {DEFAULT_SIZE!r} has no run store in data/; "
                         f"train it with `make zoo SIZE={DEFAULT_SIZE}`")
    ran: dict[str, list[str]] = {}
    for size in sizes:
        ran[size] = []
        for chapter in toc_chapters(root):
            src = root / f"{chapter}.ipynb"
            dest = root / "_build" / "executed" / size / f"{chapter}.ipynb"
            key = execution_key(src, size, root)
            if not force and dest.exists():
                old = nbformat.read(dest, as_version=4).metadata.get("induction_heads", {})
                if old.get("execution_key") == key:
                    continue
            t0 = time.perf_counter()
            default = default_size_of(nbformat.read(src, as_version=4))
            execute(src, dest, None if size == default else size)
            nb = nbformat.read(dest, as_version=4)
            nb.metadata["induction_heads"] = {"execution_key": key, "size": size}
            nbformat.write(nb, dest)
            ran[size].append(chapter)
            log(f"executed {chapter} [{size}] in {time.perf_counter() - t0:.0f} s")
    return ran


def select_chapters(chapters: Sequence[str], only: Sequence[str] = ()) -> list[str]:
    """``chapters`` whose file name starts with one of ``only`` (``"03"`` or
    ``"03_argument2_smeared_keys"``), in their order; all of them if ``only`` is empty. A prefix
    no chapter has is an error that lists the chapters."""
    unknown = [o for o in only if not any(Path(c).name.startswith(o) for c in chapters)]
    if unknown:
        raise ValueError(f"no chapter starts with {', '.join(map(repr, unknown))}; chapters: "
                         + ", ".join(Path(c).name for c in chapters))
    return [c for c in chapters if not only or any(Path(c).name.startswith(o) for o in only)]


def update_stored_chapters(root: Path = ROOT, only: Sequence[str] = ()) -> None:
    """Re-execute ``chapters/*.ipynb`` in place at their default size (the reference outputs):
    every chapter of the table of contents, or those :func:`select_chapters` picks from ``only``."""
    for chapter in select_chapters(toc_chapters(root), only):
        src = root / f"{chapter}.ipynb"
        t0 = time.perf_counter()
        execute(src, src, None)
        print(f"stored {chapter} [{DEFAULT_SIZE}] in {time.perf_counter() - t0:.0f} s")


# ------------------------------------------------------------------------------- size pages

def size_page(chapter: str, size: str, default: str = DEFAULT_SIZE) -> str:
    """Where a chapter's page for ``size`` lives in the book (path without suffix)."""
    if size == default:
        return chapter
    folder, name = chapter.rsplit("/", 1) if "/" in chapter else ("", chapter)
    return "/".join(p for p in (folder, "sizes", size, name) if p)


def _relative(from_page: str, to_page: str) -> str:
    return posixpath.relpath(to_page, posixpath.dirname(from_page) or ".") + ".ipynb"


def switcher_markdown(chapter: str, size: str, sizes: list[str], default: str = DEFAULT_SIZE) -> str:
    """The line under a chapter's title that links its pages for the other sizes built (a size
    this build has not rendered is not named: no dead entry). On another size's page it also says
    how to run that size in Colab, whose button opens the chapter's notebook at ``default``."""
    here = size_page(chapter, size, default)
    items = []
    for s in SIZES:
        if s == size:
            items.append(f"**{s}** (this page)")
        elif s in sizes:
            items.append(f"[{s}]({_relative(here, size_page(chapter, s, default))})")
    line = "Model size: " + " · ".join(items)
    if size != default:
        line += (f". In Colab (the rocket button above) this chapter opens at `{default}`: set "
                 f'`size = "{size}"` in its parameters cell to run it at `{size}`.')
    return line


# Code cells whose source stays in view: the Colab cell (folded by its own ``hide-cell`` tag) and
# the parameters a reader changes (papermill's injected copy at the other sizes included).
SHOWN_CODE_TAGS = (COLAB_TAG, "parameters", "injected-parameters")
# Tags with which a chapter already decides how its source is shown.
_SOURCE_TAGS = ("hide-input", "hide-cell", "remove-input", "remove-cell")


def hide_code(nb):
    """Fold every code cell's source behind a one-click toggle (Jupyter Book's ``hide-input``
    tag), so a page reads as text, figures and outputs. The cells tagged with one of
    :data:`SHOWN_CODE_TAGS` and the cells that already carry a tag for their source stay as they
    are. Applied to the pages the build assembles, never to the stored chapters."""
    for cell in nb.cells:
        tags = cell.metadata.get("tags", [])
        if cell.cell_type != "code" or any(t in SHOWN_CODE_TAGS or t in _SOURCE_TAGS for t in tags):
            continue
        cell.metadata["tags"] = [*tags, "hide-input"]
    return nb


# ------------------------------------------------------------------------ figure captions

# Captions and alt text of the chapters' figures, kept beside the chapters (not in their cell
# metadata) and applied at build time: {chapter file: {cell id: entry or [entries]}}, an entry
# being {"caption": ..., "alt": ...}, one per figure the cell draws, in order.
FIGURES_FILE = Path("chapters") / "figures.yml"
_VIEW_MARK = 'class="ih-circuitsvis"'


def load_figure_notes(root: Path = ROOT) -> dict[str, dict[str, list[dict]]]:
    """``chapters/figures.yml`` as ``{chapter file name: {cell id: [entry, ...]}}`` (a cell's one
    entry written as a mapping becomes a list of one); empty if the file does not exist."""
    path = Path(root) / FIGURES_FILE
    if not path.is_file():
        return {}
    raw = yaml.safe_load(path.read_text()) or {}
    notes: dict[str, dict[str, list[dict]]] = {}
    for chapter, cells in raw.items():
        notes[chapter] = {}
        for cell_id, entries in (cells or {}).items():
            entries = entries if isinstance(entries, list) else [entries]
            for e in entries:
                if not (isinstance(e, dict) and str(e.get("caption", "")).strip() and str(e.get("alt", "")).strip()):
                    raise ValueError(f"{FIGURES_FILE}: {chapter} cell {cell_id}: every figure needs a caption and an alt")
            notes[chapter][str(cell_id)] = entries
    return notes


def is_figure_output(output) -> bool:
    """A cell output that is a figure: an image, or a circuitsvis attention view
    (:class:`~induction_heads.book.figures.attention.AttentionView`)."""
    if output.get("output_type") not in ("display_data", "execute_result"):
        return False
    data = output.get("data", {})
    return any(k.startswith("image/") for k in data) or _VIEW_MARK in str(data.get("text/html", ""))


def figure_outputs(cell) -> list:
    """The figure outputs of a cell (:func:`is_figure_output`), in order."""
    return [o for o in cell.get("outputs", []) if cell.cell_type == "code" and is_figure_output(o)]


def _output_cell(outputs: list, tags: list[str]):
    """A code cell that only carries ``outputs``: its input (a comment: MyST-NB skips a cell with
    no source) removed from the page."""
    cell = nbformat.v4.new_code_cell(source="# outputs of the cell above", outputs=outputs)
    cell.metadata["tags"] = [*tags, "remove-input"]
    return cell


def _figure_metadata(entry: dict, name: str) -> dict:
    """MyST-NB's cell metadata for one figure output: a numbered figure (a ``name`` gives it the
    id Sphinx numbers it by) with its caption below, and the image's alt text."""
    alt = " ".join(str(entry["alt"]).split())
    return {"mystnb": {"figure": {"caption": " ".join(str(entry["caption"]).split()), "name": name},
                       "image": {"alt": alt}}}


def caption_figures(nb, notes: dict[str, list[dict]], page: str = ""):
    """Give every figure of ``nb`` named in ``notes`` (``{cell id: [entry, ...]}``) its number,
    caption and alt text.

    MyST-NB reads figure options per *cell* and wraps every display output of the cell in the
    figure, so a cell's outputs are split into consecutive cells, in order: its source with the
    outputs before its first figure, then one cell per figure (with its entry's metadata) and one
    per run of other outputs (tables, printed text) between them; the added cells show no input. The ``k``-th figure gets the ``k``-th entry; a cell that draws more figures than
    it has entries (a size with more models) reuses the last. Each figure is named
    ``fig-<page>-<cell id>-<k>`` (Sphinx's labels are global: ``page`` keeps the size pages'
    names apart). Cells without an entry stay as they are. Applied to the pages the build
    assembles, never to the stored chapters."""
    prefix = f"fig-{page}-" if page else "fig-"
    cells = []
    for cell in nb.cells:
        entries = notes.get(str(cell.get("id", "")), []) if cell.cell_type == "code" else []
        if not entries or not figure_outputs(cell):
            cells.append(cell)
            continue
        tags = [t for t in cell.metadata.get("tags", []) if t not in ("hide-input", "remove-input")]
        head, pieces, run, k = [], [], None, 0
        for out in cell.outputs:
            if is_figure_output(out):
                piece = _output_cell([out], tags)
                piece.metadata.update(_figure_metadata(entries[min(k, len(entries) - 1)], f"{prefix}{cell.id}-{k + 1}"))
                pieces.append(piece)
                run, k = None, k + 1
            elif not pieces:
                head.append(out)
            else:
                if run is None:
                    run = _output_cell([], tags)
                    pieces.append(run)
                run.outputs.append(out)
        cell.outputs = head
        cells.extend([cell, *pieces])
    nb.cells = cells
    return nb


def out_of_chain(nb):
    """Mark a page that is in no table of contents (Sphinx's ``orphan``), so that Sphinx builds
    it without a warning and leaves it out of the Previous/Next chain and the sidebar. The other
    sizes' pages are such pages: the reader reaches them from the size switcher."""
    nb.metadata["orphan"] = True
    return nb


def _with_switcher(nb, chapter: str, size: str, sizes: list[str]):
    """Put the size switcher right under the chapter's title."""
    cell = next(c for c in nb.cells if c.cell_type == "markdown")
    title, _, rest = cell.source.partition("\n")
    cell.source = f"{title}\n\n{switcher_markdown(chapter, size, sizes)}\n{rest}"
    return nb


def assemble(root: Path, sizes: list[str]) -> Path:
    """Write ``_build/src``: config, toc, static files and every executed size page, their code
    folded (:func:`hide_code`), their figures numbered and captioned (:func:`caption_figures`); the
    other sizes' pages are outside the toc (:func:`out_of_chain`)."""
    src = root / "_build" / "src"
    if src.exists():
        shutil.rmtree(src)
    src.mkdir(parents=True)
    shutil.copy2(root / "_config.yml", src / "_config.yml")
    shutil.copy2(root / "_toc.yml", src / "_toc.yml")  # the default size's pages only
    if (root / "_static").is_dir():
        shutil.copytree(root / "_static", src / "_static")
    install_static(src / "_static")
    notes = load_figure_notes(root)
    for size in sizes:
        for chapter in toc_chapters(root):
            nb = nbformat.read(root / "_build" / "executed" / size / f"{chapter}.ipynb", as_version=4)
            out = src / f"{size_page(chapter, size)}.ipynb"
            out.parent.mkdir(parents=True, exist_ok=True)
            nb = hide_code(_with_switcher(nb, chapter, size, sizes))
            nb = caption_figures(nb, notes.get(Path(chapter).name + ".ipynb", {}),
                                 page=f"{size}-{Path(chapter).name}")
            nbformat.write(nb if size == DEFAULT_SIZE else out_of_chain(nb), out)
    for page in markdown_pages(root):
        (src / page).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / f"{page}.md", src / f"{page}.md")
    return src


def _fix_colab_links(html_dir: Path, root: Path, sizes: list[str]) -> None:
    """Size pages exist only in the build: their Colab button opens the chapter's notebook."""
    for size in sizes:
        if size == DEFAULT_SIZE:
            continue
        for chapter in toc_chapters(root):
            page = html_dir / f"{size_page(chapter, size)}.html"
            text = page.read_text()
            fixed = text.replace(f"/{size_page(chapter, size)}.ipynb", f"/{chapter}.ipynb")
            page.write_text(fixed)


# ---------------------------------------------------------------------- the published site

CITATION_FILE = "CITATION.cff"


def build_info(root: Path = ROOT, today: datetime.date | None = None) -> dict[str, str]:
    """What the site says about this build: ``version``, the commit's short hash (``-dirty`` when
    tracked files differ from it; ``unknown`` outside a git checkout), and ``date``, the day of
    the build (UTC, ISO)."""
    def git(*args: str) -> str | None:
        done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True)
        return done.stdout.strip() if done.returncode == 0 else None

    version = git("rev-parse", "--short", "HEAD") or "unknown"
    if version != "unknown" and git("status", "--porcelain", "--untracked-files=no"):
        version += "-dirty"
    today = today or datetime.datetime.now(datetime.timezone.utc).date()
    return {"version": version, "date": today.isoformat()}


def load_citation(root: Path = ROOT) -> dict:
    """``CITATION.cff`` (the repository's citation file), parsed."""
    return yaml.safe_load((Path(root) / CITATION_FILE).read_text())


def _names(cff: dict) -> str:
    people = [a.get("name") or " ".join(p for p in (a.get("given-names"), a.get("family-names")) if p)
              for a in cff.get("authors", [])]
    return ", ".join(p for p in people if p)


def cite_as(cff: dict, info: dict[str, str]) -> str:
    """The "cite as" line: the authors (the build's year). The title (version, date). The address."""
    return (f"{_names(cff)} ({info['date'][:4]}). {cff['title']} (version {info['version']}, "
            f"built {info['date']}). {cff.get('url', cff.get('repository-code', ''))}").strip()


def footer_html(cff: dict, info: dict[str, str], config: dict) -> str:
    """The footer under every page (the theme's ``extra_footer``): the build's version, linked
    to its commit, and date, and how to cite the book."""
    repo = config["repository"]["url"].rstrip("/")
    branch = config["repository"].get("branch", "main")
    commit = info["version"].removesuffix("-dirty")
    version = f"<code>{_escape(info['version'])}</code>"
    if commit != "unknown":
        version = f'<a href="{repo}/tree/{commit}">{version}</a>'
    return (f'<p class="ih-build">Version {version}, built {info["date"]}. '
            f'<span class="ih-cite">Cite as: {_escape(cite_as(cff, info))} '
            f'(<a href="{repo}/blob/{branch}/{CITATION_FILE}">{CITATION_FILE}</a>)</span></p>')


def site_config(config: dict, cff: dict, info: dict[str, str]) -> dict:
    """``_config.yml`` as the build uses it: the authors from ``CITATION.cff`` and the footer of
    :func:`footer_html`."""
    out = json.loads(json.dumps(config))
    out["author"] = _names(cff)
    out.setdefault("html", {})["extra_footer"] = footer_html(cff, info, config)
    return out


_INLINE_SCRIPT = re.compile(r"[ \t]*<script>(.*?)</script>\n?", re.S)


def dedupe_inline_scripts(html: str) -> str:
    """Drop every repeat of an inline ``<script>`` already on the page.

    Sphinx 7.4 writes an inline script that an extension adds after the builder has started
    twice (the builder's copy is registered with no file name, the registry's with an empty one,
    and the two do not compare equal): sphinx-thebe's ``const THEBE_JS_URL = ...``, written twice,
    is a SyntaxError in every page's console ("Identifier 'THEBE_JS_URL' has already been
    declared"); sphinx-togglebutton's selector is a harmless repeat."""
    seen: set[str] = set()

    def keep(m: re.Match) -> str:
        if m.group(1) in seen:
            return ""
        seen.add(m.group(1))
        return m.group(0)

    return _INLINE_SCRIPT.sub(keep, html)


def fill_build_info(html: str, info: dict[str, str], cite: str) -> str:
    """Fill the empty placeholders a chapter may print (``<span class="ih-build-version"></span>``,
    ``ih-build-date``, ``ih-cite-as``) with this build's version, date and "cite as" line."""
    for cls, text in (("ih-build-version", info["version"]), ("ih-build-date", info["date"]),
                      ("ih-cite-as", cite)):
        html = html.replace(f'<span class="{cls}"></span>', f'<span class="{cls}">{_escape(text)}</span>')
    return html


_SIDEBAR = re.compile(r'<nav class="bd-links bd-docs-nav".*?</nav>', re.S)
_SIDEBAR_ENTRY = re.compile(r'<li class="toctree-l1([^"]*)">(\s*)<a class="([^"]*)" href="([^"]*)">(.*?)</a>', re.S)
_EMPTY_PREV_NEXT = re.compile(r'<div class="prev-next-area">\s*</div>')
# The theme's Previous/Next links (sphinx-book-theme 1.3's prev-next area), for the pages that
# Sphinx leaves out of its chain.
_PREV = """
    <a class="left-prev"
       href="{href}"
       title="previous page">
      <i class="fa-solid fa-angle-left"></i>
      <div class="prev-next-info">
        <p class="prev-next-subtitle">previous</p>
        <p class="prev-next-title">{title}</p>
      </div>
    </a>"""
_NEXT = """
    <a class="right-next"
       href="{href}"
       title="next page">
      <div class="prev-next-info">
        <p class="prev-next-subtitle">next</p>
        <p class="prev-next-title">{title}</p>
      </div>
      <i class="fa-solid fa-angle-right"></i>
    </a>"""


def _escape(text: str) -> str:
    return html.escape(text, quote=False)


def _site_path(page: str, href: str) -> str:
    """The site path a link ``href`` of ``page`` leads to (no anchor)."""
    href = href.split("#")[0]
    return page if not href else posixpath.normpath(posixpath.join(posixpath.dirname(page), href))


def sidebar_titles(html: str, page: str) -> dict[str, str]:
    """``{page: title}`` of every entry of a page's sidebar (paths relative to the site)."""
    m = _SIDEBAR.search(html)
    if not m:
        return {}
    return {_site_path(page, href): " ".join(text.split())
            for _, _, _, href, text in _SIDEBAR_ENTRY.findall(m.group(0))}


def size_order(order: Sequence[str], size_pages: dict[str, str]) -> list[str]:
    """The reading order of one size's pages: each page of ``order`` replaced by its page for the
    size (``size_pages``: ``{default page: size page}``) where it has one, else kept (a Markdown
    page, the same for every size)."""
    return [size_pages.get(p, p) for p in order]


def chain_size_page(html: str, page: str, chain: Sequence[str], size_pages: dict[str, str],
                    titles: dict[str, str]) -> str:
    """Give another size's page what Sphinx gives the default size's pages: Previous/Next through
    ``chain`` (:func:`size_order`), and a sidebar whose entries lead to that size's pages with this
    page's entry marked current. ``page`` and every path are ``.html`` paths relative to the site;
    ``titles`` maps the default pages to their titles (:func:`sidebar_titles`)."""
    here = posixpath.dirname(page) or "."
    default_of = {v: k for k, v in size_pages.items()}
    i = chain.index(page)
    links = {"prev": chain[i - 1] if i else None, "next": chain[i + 1] if i + 1 < len(chain) else None}

    def link(template: str, target: str | None) -> str:
        if target is None:
            return ""
        title = titles.get(default_of.get(target, target), posixpath.basename(target))
        return template.format(href=posixpath.relpath(target, here), title=_escape(title))

    area = f'<div class="prev-next-area">{link(_PREV, links["prev"])}{link(_NEXT, links["next"])}\n</div>'
    html = _EMPTY_PREV_NEXT.sub(lambda _: area, html, count=1)

    def entry(m: re.Match) -> str:
        li, space, a_cls, href, text = m.groups()
        target = _site_path(page, href)
        target = size_pages.get(target, target)
        li_cls = [c for c in li.split() if c not in ("current", "active")]
        a_classes = [c for c in a_cls.split() if c != "current"]
        if target == page:
            li_cls, a_classes, href = li_cls + ["current", "active"], ["current", *a_classes], "#"
        else:
            href = posixpath.relpath(target, here)
        return (f'<li class="toctree-l1{"".join(" " + c for c in li_cls)}">{space}'
                f'<a class="{" ".join(a_classes)}" href="{href}">{text}</a>')

    return _SIDEBAR.sub(lambda m: _SIDEBAR_ENTRY.sub(entry, m.group(0)), html, count=1)


_SEARCH_INDEX = re.compile(r"^(Search\.setIndex\()(.*)(\)\s*)$", re.S)


def label_search_titles(index_js: str, sizes: Sequence[str], chapters: Sequence[str],
                        default: str = DEFAULT_SIZE) -> str:
    """Sphinx's ``searchindex.js`` with the title of each chapter's pages labelled by their size
    ("Methods (size: tiny)"): search lists a chapter once per size and says which is which.
    ``chapters`` (no suffix) have a page per size; a page with one size only stays as it is."""
    m = _SEARCH_INDEX.match(index_js)
    if not m:
        raise ValueError("searchindex.js is not Search.setIndex({...})")
    index = json.loads(m.group(2))
    if len(sizes) < 2:
        return index_js
    label = {size_page(c, s, default): s for c in chapters for s in sizes}
    index["titles"] = [f"{t} (size: {label[d]})" if d in label else t
                       for d, t in zip(index["docnames"], index["titles"])]
    return m.group(1) + json.dumps(index, ensure_ascii=False, separators=(",", ":")) + m.group(3)


def finish_site(html_dir: Path, root: Path, sizes: list[str], info: dict[str, str], cite: str) -> None:
    """What the build does to the HTML that Sphinx wrote: no page repeats an inline script
    (:func:`dedupe_inline_scripts`); the build's version fills its placeholders
    (:func:`fill_build_info`); the other sizes' pages get Previous/Next and their sidebar entry
    (:func:`chain_size_page`) and their Colab button opens the chapter's notebook; search labels
    each chapter's pages with their size (:func:`label_search_titles`)."""
    _fix_colab_links(html_dir, root, sizes)
    for page in sorted(html_dir.rglob("*.html")):
        if "_static" in page.parts or "_sources" in page.parts:
            continue
        text = page.read_text()
        fixed = fill_build_info(dedupe_inline_scripts(text), info, cite)
        if fixed != text:
            page.write_text(fixed)
    order = [f"{p}.html" for p in _toc_files(root)]
    chapters = toc_chapters(root)
    titles = sidebar_titles((html_dir / order[-1]).read_text(), order[-1])
    for size in sizes:
        if size == DEFAULT_SIZE:
            continue
        pages = {f"{c}.html": f"{size_page(c, size)}.html" for c in chapters}
        chain = size_order(order, pages)
        for page in pages.values():
            path = html_dir / page
            path.write_text(chain_size_page(path.read_text(), page, chain, pages, titles))
    index = html_dir / "searchindex.js"
    if index.is_file():
        index.write_text(label_search_titles(index.read_text(), sizes, chapters))


def executed_sizes(root: Path = ROOT) -> list[str]:
    """The sizes, in size order, of which every chapter has an executed notebook in
    ``_build/executed``."""
    return [s for s in SIZES if all((root / "_build" / "executed" / s / f"{c}.ipynb").is_file()
                                    for c in toc_chapters(root))]


def render_site(root: Path = ROOT, sizes: list[str] | None = None) -> Path:
    """Assemble the executed chapters of ``sizes`` (default: :func:`executed_sizes`), build
    ``_build/html`` with Jupyter Book (its settings: :func:`site_config`), then
    :func:`finish_site`. Executes nothing."""
    sizes = sizes if sizes is not None else executed_sizes(root)
    if DEFAULT_SIZE not in sizes:
        raise SystemExit(f"no executed chapters at the default size {DEFAULT_SIZE!r} in _build/executed: "
                         "run `make book`")
    info, cff = build_info(root), load_citation(root)
    src = assemble(root, sizes)
    config = site_config(load_config(root), cff, info)
    (src / "_config.yml").write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True))
    cmd = [str(Path(sys.executable).parent / "jupyter-book"), "build", str(src), "--path-output", str(root),
           "--warningiserror", "--keep-going", "--all"]
    print("$", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, cwd=root)
    html_dir = root / "_build" / "html"
    finish_site(html_dir, root, sizes, info, cite_as(cff, info))
    print(f"book: {html_dir / 'index.html'} (sizes: {', '.join(sizes)}; version {info['version']}, "
          f"built {info['date']})")
    return html_dir


def build_book(root: Path = ROOT, force: bool = False) -> Path:
    """Execute (cached), assemble and build the book into ``_build/html``."""
    sizes = _available_sizes(root)
    execute_chapters(root, sizes, force=force)
    return render_site(root, sizes)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m induction_heads.publish.build", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("book", help="execute every chapter for every trained size and build _build/html")
    b.add_argument("--force", action="store_true", help="ignore the execution cache")
    c = sub.add_parser("chapters", help="re-execute chapters/*.ipynb in place at the default size")
    c.add_argument("only", nargs="*", help="only the chapters whose file name starts with one of these (e.g. 03)")
    sub.add_parser("html", help="build _build/html from the chapters already executed in _build/executed "
                   "(executes nothing; `book` re-executes what changed)")
    sub.add_parser("sync", help="rewrite each chapter's Colab cell and default size from the settings")
    sub.add_parser("sizes", help="print the sizes whose run store exists")
    args = p.parse_args(argv)
    if args.cmd == "book":
        build_book(force=args.force)
    elif args.cmd == "html":
        render_site()
    elif args.cmd == "chapters":
        try:
            update_stored_chapters(only=args.only)
        except ValueError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
    elif args.cmd == "sync":
        config = load_config()
        for chapter in toc_chapters():
            path = ROOT / f"{chapter}.ipynb"
            nb = nbformat.read(path, as_version=4)
            if sync_chapter(nb, config):
                nbformat.write(nb, path)
                print(f"synced {chapter}")
    elif args.cmd == "sizes":
        print(" ".join(_available_sizes(ROOT)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
