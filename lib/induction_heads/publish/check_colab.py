"""Colab, tested end to end without Colab: what `make check-colab` runs.

    python -m induction_heads.publish.check_colab --site _build/html

What a reader's "Open in Colab" does, run on this machine, in order:

1. ``site``: every chapter page of the built site (each size's page included) has exactly one
   Colab link, to ``chapters/<name>.ipynb`` on ``repository.branch`` of ``_config.yml``, and no
   other page has one.
2. ``runtime``: a fresh virtual environment holding what a Colab runtime holds before the first
   cell runs: torch's CPU wheel (the version the Makefile installs: the current CPU wheel is
   only on download.pytorch.org), then the *current* releases of numpy, matplotlib, pandas,
   ipykernel and papermill (not the book's pins), registered as the Jupyter kernel
   ``colab-like``, whose start imports a stand-in ``google.colab`` module: its presence is
   all the chapters look at to take their Colab branch.
3. ``repo``: a ``file://`` clone of the checkout under test (its working tree's tracked files, as
   one commit on ``repository.branch``), serving partial clones as GitHub does. The chapters'
   Colab cell clones it instead of ``repository.url`` through ``INDUCTION_HEADS_REPO``, into the
   folder named by ``INDUCTION_HEADS_CHECKOUT``; both variables are for this test only.
4. ``setup``: every chapter's set-up cells (the Colab cell, the parameters, the cell that calls
   ``setup_chapter``) at ``tiny`` by papermill in that kernel, each chapter in a fresh clone, so
   each one runs the sparse clone, the pip installs of the kept pins and the fetch of
   ``data/tiny``. Each step (clone, install, data) must print its start line and its end line
   with its time and size (``STEP_START``, ``STEP_DONE`` of ``induction_heads.book.chapter``).
   Then the first chapter's set-up cells at a size the repository does not publish (``base``),
   which must stop at ``setup_chapter`` with one ``SizeError`` line saying so and how to build it.
5. ``chapter``: one whole chapter at ``small`` the same way; its claims must print the same
   verdicts as the chapter stored in ``chapters/`` (executed at ``small`` by ``make chapters``).

After each run the sparse checkout must hold ``lib/`` and ``data/<size>`` only (and the
repository's top-level files, which a cone-mode sparse checkout always keeps). It reports the
bytes git fetched (compressed objects, code and ``data/<size>`` apart), the wall time of the
Colab cell and of the ``setup_chapter`` cell, the runtime's versions, and writes it all to
``<work>/report.json``. A failed step prints one line naming the step and what to do.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import nbformat

from ..book.chapter import DEFAULT_SIZE, STEP_DONE, STEP_START, build_command, published_sizes
from ..engine.config import SIZES
from .build import COLAB_TAG, ROOT, load_config, size_page, toc_chapters

KERNEL = "colab-like"
# A Colab runtime's own packages, at their current releases (torch apart: see the docstring).
COLAB_OWN = ("numpy", "matplotlib", "pandas", "ipykernel", "papermill")
REPORTED = ("torch", *COLAB_OWN, "transformer-lens", "transformers", "tokenizers", "circuitsvis")
SETUP_CALL = "book.setup_chapter(size)"
PROBE_TAG = "COLAB-PROBE "
CLAIM = re.compile(r"^(PASS|FAIL|DEVIATION|MET) (.*?)(?: \(([^()]*=[^()]*)\))?$")
STEP_FAILED = re.compile(r"Colab set-up failed at step '(\w+)': .*")
# The steps of the set-up, in order: the Colab cell prints the first two, setup_chapter the last.
COLAB_STEPS, SETUP_STEPS = ("clone", "install"), ("data",)
CELL_TIMEOUT_S = 1200


class CheckFailed(Exception):
    """A step of the check failed: ``step`` names it, the message says what happened and what to do."""

    def __init__(self, step: str, message: str):
        super().__init__(message)
        self.step = step


@dataclass
class Run:
    """One papermill execution in the Colab-like kernel, and what it fetched."""

    chapter: str
    size: str
    cells: str  # "set-up" or "whole"
    colab_cell_s: float = 0.0
    setup_cell_s: float = 0.0
    total_s: float = 0.0
    fetched_code_bytes: int = 0
    fetched_data_bytes: int = 0
    data_on_disk_bytes: int = 0
    probe: dict = field(default_factory=dict)
    claims: dict = field(default_factory=dict)
    steps: dict = field(default_factory=dict)  # {step: {"s": seconds, "size": what it printed}}


# ------------------------------------------------------------------------------------ helpers

def sh(step: str, cmd: list[str], what_to_do: str, log: Path | None = None, **kw) -> str:
    """Run ``cmd``; on failure raise :class:`CheckFailed` for ``step`` (its output goes to ``log``)."""
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if log is not None:
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("a") as f:
            f.write(f"$ {' '.join(cmd)}  # {time.perf_counter() - start:.1f} s\n{done.stdout}{done.stderr}\n")
    if done.returncode:
        last = (done.stderr or done.stdout).strip().splitlines() or ["no output"]
        where = f" (log: {log})" if log is not None else ""
        raise CheckFailed(step, f"`{' '.join(cmd[:3])} ...` exited {done.returncode}: {last[-1]}{where}; {what_to_do}")
    return done.stdout


def pinned(name: str, requirements: Path = ROOT / "requirements.txt") -> str:
    """The requirement line of ``name`` in the pin file (``torch==2.13.0``)."""
    for line in requirements.read_text().splitlines():
        if re.split(r"[=<>!~ ;\[]", line.strip())[0].lower() == name.lower():
            return line.strip()
    raise CheckFailed("runtime", f"{name} is not in {requirements}; add its pin")


def remove(path: Path) -> float:
    """Delete ``path`` if it exists; the seconds it took."""
    start = time.perf_counter()
    if path.exists():
        shutil.rmtree(path)
    return time.perf_counter() - start


# --------------------------------------------------------------------------- 1. the Colab links

def expected_colab_link(config: dict, chapter: str) -> str:
    """The Colab address of ``chapter``'s notebook on ``repository.branch`` of ``_config.yml``."""
    repo = config["repository"]["url"].rstrip("/")
    owner_name = repo.split("github.com/", 1)[1]
    base = config["launch_buttons"]["colab_url"].rstrip("/")
    path = "/".join(p for p in (config["repository"].get("path_to_book", "").strip("/"), f"{chapter}.ipynb") if p)
    return f"{base}/github/{owner_name}/blob/{config['repository'].get('branch', 'main')}/{path}"


def colab_links(html: str, colab_url: str) -> list[str]:
    """Every link of a page that opens Colab (the launch button's ``href``)."""
    base = re.escape(colab_url.rstrip("/"))
    return [m.replace("&amp;", "&") for m in re.findall(rf'href="({base}[^"]*)"', html)]


def check_site_links(html_dir: Path, config: dict, chapters: list[str], sizes: list[str]) -> int:
    """Item 3: each chapter page (every size) links Colab to its notebook once; no other page does.
    Returns the number of pages with a Colab link."""
    if not (html_dir / "index.html").is_file():
        raise CheckFailed("site", f"no built site at {html_dir}: run `make book` first")
    colab_url = config["launch_buttons"]["colab_url"]
    want = {f"{size_page(c, s)}.html": expected_colab_link(config, c) for c in chapters for s in sizes}
    missing = sorted(p for p in want if not (html_dir / p).is_file())
    if missing:
        raise CheckFailed("site", f"chapter pages missing from {html_dir}: {', '.join(missing)}; run `make book`")
    with_link = 0
    for page in sorted(html_dir.rglob("*.html")):
        rel = page.relative_to(html_dir).as_posix()
        links = sorted(set(colab_links(page.read_text(errors="replace"), colab_url)))
        expected = [want[rel]] if rel in want else []
        if links != expected:
            raise CheckFailed("site", f"{rel} links Colab to {links or 'nothing'}, expected {expected or 'no link'}; "
                              "see _fix_colab_links in lib/induction_heads/publish/build.py")
        with_link += bool(links)
    return with_link


# ------------------------------------------------------------------------------- 2. the runtime

def venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def make_runtime(venv: Path, python: str, torch: str, log: Path) -> dict[str, str]:
    """A fresh venv as a Colab runtime is before the first cell: torch's CPU wheel, the current
    numpy, matplotlib, pandas, ipykernel and papermill, the kernel ``colab-like`` and the
    ``google.colab`` stand-in. Returns the installed versions."""
    if venv.exists():
        shutil.rmtree(venv)
    fix = "check that pip reaches its index (PyPI), then run `make check-colab` again"
    sh("runtime", [python, "-m", "venv", str(venv)], f"check that {python} has the venv module", log)
    py = str(venv_python(venv))
    sh("runtime", [py, "-m", "pip", "install", "-q", "--upgrade", "pip"], fix, log)
    sh("runtime", [py, "-m", "pip", "install", "-q", torch], fix, log)
    sh("runtime", [py, "-m", "pip", "install", "-q", "--upgrade", *COLAB_OWN], fix, log)
    site = Path(sh("runtime", [py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], fix, log).strip())
    stand_in = site / "google" / "colab" / "__init__.py"  # `google` stays a namespace package
    stand_in.parent.mkdir(parents=True, exist_ok=True)
    stand_in.write_text('"""Stand-in for Colab\'s google.colab (induction_heads.publish.check_colab): imported when the '
                        'kernel starts, as in Colab, so the chapters take their Colab branch."""\n')
    spec = venv / "share" / "jupyter" / "kernels" / KERNEL / "kernel.json"
    spec.parent.mkdir(parents=True, exist_ok=True)
    spec.write_text(json.dumps({
        "argv": [py, "-m", "ipykernel_launcher", "-f", "{connection_file}",
                 "--IPKernelApp.exec_lines=import google.colab"],
        "display_name": "Colab-like (induction_heads.publish.check_colab)", "language": "python",
    }, indent=1))
    kernels = sh("runtime", [py, "-m", "jupyter", "kernelspec", "list", "--json"], fix, log)
    if KERNEL not in json.loads(kernels)["kernelspecs"]:
        raise CheckFailed("runtime", f"the kernel {KERNEL} is not registered in {venv}; see {log}")
    return installed_versions(venv, log)


def installed_versions(venv: Path, log: Path) -> dict[str, str]:
    """Python's version and those of :data:`REPORTED` installed in the venv."""
    code = ("import importlib.metadata as m, json, sys\n"
            "v = {'python': sys.version.split()[0]}\n"
            f"for n in {REPORTED!r}:\n"
            "    try:\n        v[n] = m.version(n)\n    except m.PackageNotFoundError:\n        pass\n"
            "print(json.dumps(v))")
    return json.loads(sh("runtime", [str(venv_python(venv)), "-c", code], f"see {log}", log))


# ---------------------------------------------------------------------------------- 3. the repo

def serve_checkout(root: Path, remote: Path, branch: str, log: Path) -> str:
    """Put the checkout's tracked files (working tree included) as one commit on ``branch`` of a
    fresh bare repository that serves partial clones like GitHub. Returns the commit."""
    fix = "see the log; the checkout must be a git repository"
    ident = {**os.environ, "GIT_AUTHOR_NAME": "check-colab", "GIT_AUTHOR_EMAIL": "check-colab@localhost",
             "GIT_COMMITTER_NAME": "check-colab", "GIT_COMMITTER_EMAIL": "check-colab@localhost"}
    state = sh("repo", ["git", "-C", str(root), "stash", "create"], fix, log, env=ident).strip()
    tree = sh("repo", ["git", "-C", str(root), "rev-parse", f"{state or 'HEAD'}^{{tree}}"], fix, log).strip()
    commit = sh("repo", ["git", "-C", str(root), "commit-tree", tree, "-m", "make check-colab: the checkout under test"],
                fix, log, env=ident).strip()
    if remote.exists():
        shutil.rmtree(remote)
    sh("repo", ["git", "init", "-q", "--bare", str(remote)], fix, log)
    for key in ("uploadpack.allowFilter", "uploadpack.allowAnySHA1InWant"):  # as GitHub serves
        sh("repo", ["git", "-C", str(remote), "config", key, "true"], fix, log)
    sh("repo", ["git", "-C", str(root), "push", "-q", str(remote), f"{commit}:refs/heads/{branch}"], fix, log)
    sh("repo", ["git", "-C", str(remote), "symbolic-ref", "HEAD", f"refs/heads/{branch}"], fix, log)
    return commit


# ---------------------------------------------------------------------------- 4-5. the chapters

def setup_cells(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The chapter up to its ``setup_chapter`` cell, then a probe cell printing what the kernel runs."""
    end = next((i for i, c in enumerate(nb.cells) if c.cell_type == "code" and SETUP_CALL in c.source), None)
    if end is None:
        raise CheckFailed("setup", f"a chapter has no cell calling {SETUP_CALL}; see tests/book/test_book.py")
    probe = ("import importlib.metadata as _m, importlib.util as _u, json as _j, sys as _s, induction_heads as _ih\n"
             f"print({PROBE_TAG!r} + _j.dumps({{'colab': 'google.colab' in _s.modules, 'python': _s.version.split()[0], "
             "'induction_heads': _ih.__file__, "
             f"'packages': {{n: _m.version(n) for n in {REPORTED!r} if _u.find_spec(n.replace('-', '_'))}}}}))")
    out = nbformat.v4.new_notebook(metadata=nb.metadata)
    out.cells = [*nb.cells[: end + 1], nbformat.v4.new_code_cell(probe)]
    return out


def kernel_env(venv: Path, remote: Path, checkout: Path) -> dict[str, str]:
    """The environment of a Colab-like kernel: nothing of the book's own venv or checkout."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "VIRTUAL_ENV") and not k.startswith("INDUCTION_HEADS_")}
    env["PATH"] = os.pathsep.join([str(venv / "bin"), *(p for p in env.get("PATH", "").split(os.pathsep)
                                                        if not p.startswith(str(ROOT)))])
    env["INDUCTION_HEADS_REPO"] = remote.as_uri()
    env["INDUCTION_HEADS_CHECKOUT"] = str(checkout)
    return env


def papermill(run: Run, nb: nbformat.NotebookNode, work: Path, venv: Path,
              remote: Path) -> tuple[int, nbformat.NotebookNode | None, Path, Path]:
    """Execute ``nb`` at ``run.size`` by papermill in the Colab-like kernel, in a fresh clone:
    papermill's exit status, the executed notebook (None if papermill wrote none), its log and the
    clone's folder."""
    name = Path(run.chapter).name
    content = work / "content"  # the kernel's working folder, as /content in Colab: no data/ here
    checkout = content / f"{name}-{run.size}"
    if checkout.exists():
        shutil.rmtree(checkout)
    content.mkdir(parents=True, exist_ok=True)
    src, out = work / "notebooks" / f"{name}-{run.size}-in.ipynb", work / "notebooks" / f"{name}-{run.size}.ipynb"
    src.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, src)
    log = work / "logs" / f"{name}-{run.size}.log"
    log.unlink(missing_ok=True)
    out.unlink(missing_ok=True)
    start = time.perf_counter()
    done = subprocess.run([str(venv / "bin" / "papermill"), str(src), str(out), "-k", KERNEL, "-p", "size", run.size,
                           "--cwd", str(content), "--execution-timeout", str(CELL_TIMEOUT_S)],
                          capture_output=True, text=True, env=kernel_env(venv, remote, checkout))
    run.total_s = round(time.perf_counter() - start, 1)
    log.write_text(done.stdout + done.stderr)
    return done.returncode, (nbformat.read(out, as_version=4) if out.is_file() else None), log, checkout


def execute(run: Run, nb: nbformat.NotebookNode, work: Path, venv: Path, remote: Path) -> nbformat.NotebookNode:
    """Execute ``nb`` at ``run.size`` by papermill in the Colab-like kernel, in a fresh clone; every
    step of the set-up printed its lines (:func:`check_steps`) and the clone holds what it should."""
    returncode, executed, log, checkout = papermill(run, nb, work, venv, remote)
    if returncode or executed is None:
        raise failure_line(run, executed, log)
    timings(run, executed)
    check_steps(run, executed)
    check_checkout(run, checkout)
    return executed


def template_pattern(template: str) -> re.Pattern:
    """A regex matching a whole line printed from a ``str.format`` template, each field
    (``{name}`` or ``{name:spec}``) a named group."""
    parts = re.split(r"\{(\w+)(?::[^}]*)?\}", template)
    return re.compile("^" + "".join(re.escape(p) if i % 2 == 0 else f"(?P<{p}>.+?)" for i, p in enumerate(parts)) + "$")


STEP_START_LINE, STEP_DONE_LINE = template_pattern(STEP_START), template_pattern(STEP_DONE)


def step_lines(text: str) -> dict[str, dict]:
    """The set-up's step lines in ``text``: ``{step: {"started": True, "s": seconds, "size": ...}}``,
    ``s`` and ``size`` only for a step that printed its end line."""
    steps: dict[str, dict] = {}
    for line in text.splitlines():
        if m := STEP_DONE_LINE.match(line.strip()):
            steps.setdefault(m["step"], {}).update(s=float(m["seconds"]), size=m["size"])
        elif m := STEP_START_LINE.match(line.strip()):
            steps.setdefault(m["step"], {})["started"] = True
    return steps


def printed(cell: nbformat.NotebookNode) -> str:
    """What a code cell printed on stdout."""
    return "".join(o.get("text", "") for o in cell.get("outputs", [])
                   if o.output_type == "stream" and o.get("name") == "stdout")


def check_steps(run: Run, executed: nbformat.NotebookNode) -> None:
    """In a fresh clone, the Colab cell printed a start and an end line (time and size) for clone
    and install, and the ``setup_chapter`` cell for data; they go to ``run.steps``."""
    colab = next(c for c in executed.cells if COLAB_TAG in c.metadata.get("tags", []))
    setup = next(c for c in executed.cells if c.cell_type == "code" and SETUP_CALL in c.source)
    for cell, names, where in ((colab, COLAB_STEPS, "colab_cell_source"), (setup, SETUP_STEPS, "ensure_data")):
        steps = step_lines(printed(cell))
        for name in names:
            got = steps.get(name, {})
            if not got.get("started") or "s" not in got:
                missing = "no start line" if not got.get("started") else "no end line with its time and size"
                raise CheckFailed("setup", f"{run.chapter} at {run.size}: step '{name}' printed {missing}; see {where}")
            run.steps[name] = {"s": got["s"], "size": got["size"]}


def unpublished_size(remote: Path) -> str | None:
    """A size whose run store the served repository does not publish (``base``), or None."""
    published = published_sizes(remote)
    return next((s for s in SIZES if s not in published), None)


def check_unpublished(run: Run, returncode: int, executed: nbformat.NotebookNode | None, log: Path) -> str:
    """The set-up at a size the repository does not publish stopped at ``setup_chapter`` with one
    line (a ``SizeError``, no traceback) saying the size is not published and how to build it.
    Returns that line."""
    errors = [o for c in (executed.cells if executed else []) if c.cell_type == "code"
              for o in c.get("outputs", []) if o.output_type == "error"]
    if not returncode or not errors:
        raise CheckFailed("setup", f"{run.chapter} at the unpublished size {run.size!r} did not stop (log: {log}); "
                                   "see size_here in lib/induction_heads/book/chapter.py")
    err, line = errors[0], f"{errors[0].ename}: {errors[0].evalue}"
    expected = ("not published", f"`{build_command(run.size)}`")
    if err.ename != "SizeError" or len(err.traceback) != 1 or not all(e in err.evalue for e in expected):
        raise CheckFailed("setup", f"{run.chapter} at the unpublished size {run.size!r} stopped with {line!r} and "
                                   f"{len(err.traceback)} traceback lines, expected one SizeError line naming "
                                   f"{' and '.join(expected)}; see unpublished_size_error")
    return line


def run_unpublished(chapter: str, work: Path, remote: Path) -> str | None:
    """``chapter``'s set-up cells at a size the served repository does not publish, which must stop
    with one line (:func:`check_unpublished`); that line, or None when every size is published."""
    size = unpublished_size(remote)
    if size is None:
        return None
    run = Run(chapter, size, "set-up")
    nb = setup_cells(nbformat.read(ROOT / f"{chapter}.ipynb", as_version=4))
    line = check_unpublished(run, *papermill(run, nb, work, work / "venv", remote)[:3])
    print(f"setup: {chapter} at the unpublished size {size!r} stops with one line: {line}", flush=True)
    return line


def run_step(run: Run) -> str:
    return "setup" if run.cells == "set-up" else "chapter"


def failure_line(run: Run, executed: nbformat.NotebookNode | None, log: Path) -> CheckFailed:
    """The failure of an execution as one line: the Colab cell's own step (clone, install, data)
    and what to do when the chapter printed one, else the first error of the chapter."""
    errors = [o for c in (executed.cells if executed else []) if c.cell_type == "code"
              for o in c.get("outputs", []) if o.output_type == "error"]
    if not errors:
        tail = log.read_text().strip().splitlines() or ["no output"]
        return CheckFailed(run_step(run), f"papermill failed before any cell ran: {tail[-1]} (log: {log})")
    lines = errors[0].evalue.strip().splitlines() or [""]
    step = STEP_FAILED.search(lines[0])
    if step:
        return CheckFailed(step.group(1), f"{run.chapter} at {run.size}: {step.group(0)} (log: {log})")
    return CheckFailed(run_step(run), f"{run.chapter} at {run.size}: {errors[0].ename}: {lines[0]} "
                                      f"(executed notebook in {log.parent.parent / 'notebooks'})")


def timings(run: Run, executed: nbformat.NotebookNode) -> None:
    """Wall times of the Colab cell and of the ``setup_chapter`` cell, from papermill's metadata."""
    for cell in executed.cells:
        seconds = round(float(cell.metadata.get("papermill", {}).get("duration") or 0.0), 1)
        if COLAB_TAG in cell.metadata.get("tags", []):
            run.colab_cell_s = seconds
        elif cell.cell_type == "code" and SETUP_CALL in cell.source and not run.setup_cell_s:
            run.setup_cell_s = seconds


def object_bytes(checkout: Path, objects: list[str] | None = None) -> int:
    """Compressed bytes of git objects in the clone: all of them (``None``), or these ids."""
    cmd = ["git", "-C", str(checkout), "cat-file", "--batch-check=%(objectsize:disk)"]
    if objects is None:
        out = sh("data", [*cmd, "--batch-all-objects"], "see the clone")
    else:
        out = subprocess.run(cmd, input="\n".join(objects) + "\n", capture_output=True, text=True, check=True).stdout
    return sum(int(x) for x in out.split() if x.isdigit())


def check_checkout(run: Run, checkout: Path) -> None:
    """The sparse clone holds ``lib/`` and ``data/<size>`` only; measure what git fetched."""
    if not (checkout / ".git").is_dir():
        raise CheckFailed("clone", f"the Colab cell made no clone at {checkout}: did the kernel take the Colab branch?")
    folders = sorted(p.name for p in checkout.iterdir() if p.is_dir() and p.name != ".git")
    data = sorted(p.name for p in (checkout / "data").iterdir()) if (checkout / "data").is_dir() else []
    if folders != ["data", "lib"] or data != [run.size]:
        raise CheckFailed("clone" if folders != ["data", "lib"] else "data",
                          f"{run.chapter} at {run.size}: the sparse checkout holds the folders {folders} and data/{data}, "
                          f"expected lib/ and data/{run.size} only; see colab_cell_source and ensure_data")
    blobs = sh("data", ["git", "-C", str(checkout), "ls-tree", "-r", "--format=%(objectname)", "HEAD", f"data/{run.size}"],
               "see the clone").split()
    run.fetched_data_bytes = object_bytes(checkout, blobs)
    run.fetched_code_bytes = object_bytes(checkout) - run.fetched_data_bytes
    run.data_on_disk_bytes = sum(f.stat().st_size for f in (checkout / "data" / run.size).rglob("*") if f.is_file())


def read_probe(run: Run, executed: nbformat.NotebookNode, checkout: Path) -> None:
    """The probe cell's report: the Colab branch was taken and the package comes from the clone."""
    text = "".join(o.get("text", "") for o in executed.cells[-1].get("outputs", []) if o.output_type == "stream")
    line = next((ln for ln in text.splitlines() if ln.startswith(PROBE_TAG)), None)
    if line is None:
        raise CheckFailed("setup", f"the probe cell of {run.chapter} printed nothing; see {checkout.parent.parent}/notebooks")
    run.probe = json.loads(line[len(PROBE_TAG):])
    if not run.probe["colab"]:
        raise CheckFailed("runtime", "google.colab was not imported at kernel start; see the kernel.json of make_runtime")
    if not run.probe["induction_heads"].startswith(str(checkout / "lib")):
        raise CheckFailed("install", f"induction_heads came from {run.probe['induction_heads']}, not from the clone "
                                     f"{checkout}/lib; see the install step of colab_cell_source")


def claim_lines(nb: nbformat.NotebookNode) -> list[tuple[str, str, str]]:
    """(verdict, claim, numbers) of every claim line a chapter printed or displayed (book.claim's
    verdict line and its per-model lines)."""
    found = []
    for cell in nb.cells:
        for o in cell.get("outputs", []) if cell.cell_type == "code" else []:
            text = o.text if o.output_type == "stream" else o.get("data", {}).get("text/plain", "")
            # a claim checked on many models shows its verdict line and the per-model lines, indented
            found += [m.groups("") for m in map(CLAIM.match, (line.strip() for line in text.splitlines())) if m]
    return found


def compare_claims(run: Run, executed: nbformat.NotebookNode, stored: nbformat.NotebookNode) -> None:
    """The chapter's claims reach the verdicts they reach in the book (the stored chapter)."""
    got, want = claim_lines(executed), claim_lines(stored)
    if not want:
        raise CheckFailed("chapter", f"the stored {run.chapter} prints no claim line; choose a chapter with claims")
    verdicts = lambda lines: [(v, c) for v, c, _ in lines]  # noqa: E731
    if verdicts(got) != verdicts(want):
        diff = next((f"{w} -> {g}" for g, w in zip(verdicts(got) + [None] * len(want), verdicts(want)) if g != w), "")
        raise CheckFailed("chapter", f"{run.chapter} at {run.size} in Colab: claims differ from the book ({diff}); "
                                     "compare the two executed notebooks")
    run.claims = {"lines": len(got), "passed": sum(v == "PASS" for v, _, _ in got),
                  "deviations": sum(v == "DEVIATION" for v, _, _ in got),
                  "same_numbers": sum(g == w for g, w in zip(got, want))}


# -------------------------------------------------------------------------------------- main

def mb(n: int) -> str:
    return f"{n / 1e6:.1f}"


def print_report(runtime: dict, runs: list[Run], links: int | None, wall_s: float) -> None:
    """The numbers, as the README's "In Colab" section quotes them."""
    print(f"runtime: Python {runtime['python']}, " + ", ".join(f"{k} {v}" for k, v in runtime.items() if k != "python"))
    probe = next((r.probe for r in runs if r.probe), None)
    if probe:
        print("in the kernel after the Colab cell: " + ", ".join(f"{k} {v}" for k, v in probe["packages"].items()))
    if links is not None:
        print(f"site: {links} chapter pages link Colab to their notebook; no other page links Colab")
    print("Colab cell: clone and pip installs; setup cell: the cell calling setup_chapter (fetches data/<size>); "
          "run: papermill's wall time, kernel start included; MB fetched: git's compressed objects (1 MB = 1e6 bytes)")
    head = ("chapter", "size", "cells", "Colab cell s", "setup cell s", "run s", "code MB", "data MB", "data on disk MB")
    rows = [(Path(r.chapter).name, r.size, r.cells, f"{r.colab_cell_s:.1f}", f"{r.setup_cell_s:.1f}", f"{r.total_s:.1f}",
             mb(r.fetched_code_bytes), mb(r.fetched_data_bytes), mb(r.data_on_disk_bytes)) for r in runs]
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows)]
    for row in (head, *rows):
        print("  ".join(str(x).ljust(w) for x, w in zip(row, widths)))
    for r in runs:
        if r.claims:
            c = r.claims
            print(f"claims of {Path(r.chapter).name} at {r.size}: {c['lines']} lines, verdicts as in the book "
                  f"({c['passed']} PASS, {c['deviations']} DEVIATION), {c['same_numbers']} with the same numbers to the digit")
    print(f"check-colab passed in {wall_s:.0f} s")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--site", type=Path, help="the built site (_build/html) whose Colab links to check")
    p.add_argument("--chapter", default="chapters/04_argument3_ablation",
                   help="the chapter run whole, at the default size, its claims compared with the stored chapter's")
    p.add_argument("--setup-size", default="tiny", help="the size every chapter's set-up cells run at")
    p.add_argument("--work", type=Path, default=ROOT / "_build" / "colab", help="scratch folder: its venv and clones are made anew")
    p.add_argument("--python", default=sys.executable, help="the interpreter the runtime's venv is made from")
    p.add_argument("--torch", default=None, help="torch requirement (default: the pin of requirements.txt)")
    args = p.parse_args(argv)
    start = time.perf_counter()
    config, chapters = load_config(ROOT), toc_chapters(ROOT)
    runs: list[Run] = []
    try:
        links = None
        if args.site is not None:
            sizes = [s for s in SIZES if (args.site / f"{size_page(chapters[0], s)}.html").is_file()]
            links = check_site_links(args.site, config, chapters, sizes)
            print(f"site: Colab links checked on {links} chapter pages ({', '.join(sizes)})", flush=True)
        args.work.mkdir(parents=True, exist_ok=True)
        log = args.work / "logs" / "runtime.log"
        log.unlink(missing_ok=True)
        removed_s = remove(args.work / "venv")  # a previous run's 1.8 GB: minutes on a slow disk
        made = time.perf_counter()
        runtime = make_runtime(args.work / "venv", args.python, args.torch or pinned("torch"), log)
        print(f"runtime: made in {time.perf_counter() - made:.0f} s (the previous run's removed first in {removed_s:.0f} s)",
              flush=True)
        remote = args.work / "remote.git"
        commit = serve_checkout(ROOT, remote, config["repository"].get("branch", "main"), args.work / "logs" / "repo.log")
        print(f"repo: {remote.as_uri()} serves {commit[:12]}", flush=True)
        for chapter in chapters:
            run = Run(chapter, args.setup_size, "set-up")
            nb = setup_cells(nbformat.read(ROOT / f"{chapter}.ipynb", as_version=4))
            executed = execute(run, nb, args.work, args.work / "venv", remote)
            read_probe(run, executed, args.work / "content" / f"{Path(chapter).name}-{run.size}")
            runs.append(run)
            steps = ", ".join(f"{k} {v['s']:.1f} s ({v['size']})" for k, v in run.steps.items())
            print(f"setup: {chapter} at {run.size} in {run.total_s:.0f} s; its steps printed: {steps}", flush=True)
        unpublished = run_unpublished(chapters[0], args.work, remote)
        run = Run(args.chapter, DEFAULT_SIZE, "whole")  # the size of the outputs stored in chapters/
        stored = nbformat.read(ROOT / f"{args.chapter}.ipynb", as_version=4)
        executed = execute(run, stored, args.work, args.work / "venv", remote)
        compare_claims(run, executed, stored)
        runs.append(run)
        print(f"chapter: {args.chapter} at {run.size} in {run.total_s:.0f} s", flush=True)
    except CheckFailed as e:
        print(f"check-colab failed at step '{e.step}': {e}", file=sys.stderr)
        return 1
    wall = time.perf_counter() - start
    (args.work / "report.json").write_text(json.dumps(
        {"runtime": runtime, "commit": commit, "site_pages_with_colab_link": links, "wall_s": round(wall, 1),
         "unpublished_size_line": unpublished,
         "removed_previous_runtime_s": round(removed_s, 1),
         "runs": [asdict(r) for r in runs]}, indent=1))
    print_report(runtime, runs, links, wall)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
