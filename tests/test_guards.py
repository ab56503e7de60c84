"""Guards on the library's shape: what each package may import, and that every name of ours that a
docstring or a comment cites (in ``lib/``, ``tests/`` and ``benchmarks/``) still exists.

Layering: ``induction_heads.measure`` imports nothing of ``induction_heads`` outside itself (models,
evaluation sets and token pools come in as arguments), ``induction_heads.engine`` imports nothing
of ``induction_heads.book`` (training never needs the book), and nothing of the three imports
``induction_heads.publish`` (the content never needs its publishing). All are read from the source
with :mod:`ast` (every import statement, those inside functions included); the first two are checked
once at run time in a fresh interpreter too.

Citations. A string in a docstring or a comment counts as a reference to our code when it is

1. the target of a Sphinx cross-reference role (``:mod:``, ``:func:``, ``:class:``, ``:meth:``,
   ``:attr:``, ``:data:``, ``:obj:``, ``:exc:``), a leading ``~`` or ``.`` dropped, unless it names
   another project (``:mod:`ast```: its first part is no name of ours and imports from elsewhere);
2. a dotted name that starts with ``induction_heads.``;
3. a dotted name that starts with one of our subpackages (``engine.``, ``measure.``, ``book.``,
   ``publish.``), its parts words, not a file extension (``heads.py`` is a file, rule 5);
4. a double-backquoted dotted name (````figures.icl_curves````) whose first part is the name of
   one of our modules (``metrics``, ``runs``, ``figures``, ...), its last part no file extension
   (````t.lr````, ````metrics.safetensors```` are no references);
5. a path of ours ending in ``.py``: its first folder is one of ``lib``, ``tests``, ``scripts``,
   ``benchmarks``, ``induction_heads``, or a subpackage (``engine``, ``measure``, ``book``,
   ``publish``, ``figures``); or a double-backquoted file name ending in ``.py``
   (````test_circuits.py````).

A reference resolves when its modules import and its names are attributes of them, looked up as
Sphinx would and a little wider: the name as given (absolute), in the module that cites it and in
that module's classes, and under each of our modules whose dotted path ends with the reference's
first part (``figures.icl_curves`` under ``induction_heads.book.figures``); a dataclass field or a
named tuple's field counts as a name of its class. A path resolves when a file of the repository
ends with it (a bare file name: when one has that name). Rules 3 and 4 stop at prose: a word
followed by a period and a space is a sentence's end, never a name.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import io
import json
import pkgutil
import re
import subprocess
import sys
import tokenize
from functools import lru_cache
from pathlib import Path

import pytest

import induction_heads

REPO = Path(__file__).resolve().parents[1]
LIB = REPO / "lib" / "induction_heads"
SUBPACKAGES = ("engine", "measure", "book", "publish")
ROLES = ("mod", "func", "class", "meth", "attr", "data", "obj", "exc")
FILE_EXTENSIONS = {"py", "json", "safetensors", "log", "yml", "yaml", "md", "ipynb", "cfg", "txt", "png",
                   "html", "toml", "csv", "svg", "pdf", "js", "css", "sh"}
PATH_ROOTS = {"lib", "tests", "scripts", "benchmarks", "induction_heads", *SUBPACKAGES, "figures"}


# ------------------------------------------------------------------ layering

def _imports(path: Path, package: str) -> list[tuple[int, str]]:
    """Every module ``path`` (a module of ``package``) imports, as an absolute dotted name, with
    its line: ``import x``, ``from x import y`` and relative imports, at any depth of the file."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
                # ``from .. import book`` imports a module too: name each one it could be
                out += [(node.lineno, f"{mod}.{a.name}") for a in node.names] if not node.module else [(node.lineno, mod)]
            else:
                out.append((node.lineno, node.module))
    return out


def _ours_outside(folder: str, allowed: tuple[str, ...]) -> list[str]:
    package = f"induction_heads.{folder}"
    bad = []
    for path in sorted((LIB / folder).glob("*.py")):
        for line, mod in _imports(path, package):
            if (mod == "induction_heads" or mod.startswith("induction_heads.")) and \
                    not any(mod == a or mod.startswith(a + ".") for a in allowed):
                bad.append(f"{path.relative_to(REPO)}:{line} imports {mod}")
    return bad


def test_measure_imports_nothing_of_ours_outside_measure():
    assert len(list((LIB / "measure").glob("*.py"))) > 10  # the folder is read
    assert _ours_outside("measure", ("induction_heads.measure",)) == []


def test_engine_imports_nothing_of_the_book():
    bad = [b for b in _ours_outside("engine", ("induction_heads.engine", "induction_heads.measure"))
           if " induction_heads.book" in b or b.endswith(" induction_heads")]
    assert bad == []


def test_nothing_of_the_content_imports_its_publishing():
    bad = []
    for folder in ("engine", "measure", "book"):
        for path in sorted((LIB / folder).rglob("*.py")):
            package = ".".join(("induction_heads", *path.relative_to(LIB).parent.parts))
            bad += [f"{path.relative_to(REPO)}:{line} imports {mod}" for line, mod in _imports(path, package)
                    if mod == "induction_heads.publish" or mod.startswith("induction_heads.publish.")]
    assert len(list((LIB / "book").rglob("*.py"))) > 20  # the folders are read
    assert bad == []


def test_the_layering_holds_at_run_time():
    """Importing every module of ``measure`` loads no other package of ours; every module of
    ``engine`` loads no module of ``book``."""
    code = """if True:
        import json, pkgutil, sys, importlib
        def load(name):
            pkg = importlib.import_module(name)
            for info in pkgutil.iter_modules(pkg.__path__):
                importlib.import_module(f"{name}.{info.name}")
        load("induction_heads.measure")
        after_measure = sorted(k for k in sys.modules if k.startswith(("induction_heads.engine", "induction_heads.book")))
        load("induction_heads.engine")
        after_engine = sorted(k for k in sys.modules if k.startswith("induction_heads.book"))
        print(json.dumps([after_measure, after_engine]))
    """
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    after_measure, after_engine = json.loads(out.stdout.strip().splitlines()[-1])
    assert after_measure == [] and after_engine == []


def test_the_layering_check_sees_imports():
    """The checker itself: relative, absolute and function-level imports are all seen."""
    tree = "import torch\nfrom ..book import summary\nfrom .. import book\n" \
           "def f():\n    import induction_heads.engine.train\n"
    path = REPO / ".pytest-guard-probe.py"
    try:
        path.write_text(tree)
        mods = [m for _, m in _imports(path, "induction_heads.measure")]
    finally:
        path.unlink()
    assert mods == ["torch", "induction_heads.book", "induction_heads.book", "induction_heads.engine.train"]


# ------------------------------------------------------------------ citations

IMPORT_ERRORS: dict[str, str] = {}  # module -> why it did not import (its own file's test reports it)


@lru_cache(maxsize=None)
def _our_modules() -> dict[str, object]:
    """Every module of ``induction_heads`` that imports, by dotted name."""
    mods = {"induction_heads": induction_heads}
    for info in pkgutil.walk_packages(induction_heads.__path__, "induction_heads.",
                                      onerror=lambda name: IMPORT_ERRORS.setdefault(name, "its package did not import")):
        if info.name.endswith("__main__"):
            continue
        try:
            mods[info.name] = importlib.import_module(info.name)
        except Exception as e:  # noqa: BLE001  (a module broken mid-edit: reported once, by its own file)
            IMPORT_ERRORS[info.name] = f"{type(e).__name__}: {e}"
    return mods


@lru_cache(maxsize=None)
def _module_names() -> frozenset[str]:
    """The last part of every module name of ours (``metrics``, ``runs``, ``figures``, ...)."""
    return frozenset(m.rsplit(".", 1)[-1] for m in _our_modules()) - {"induction_heads"}


@lru_cache(maxsize=None)
def _repo_files() -> tuple[str, ...]:
    out = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], capture_output=True, text=True,
                         check=True, cwd=REPO).stdout.split("\n")
    return tuple("/" + p for p in out if p.endswith(".py"))


def _has(obj, parts: list[str]) -> bool:
    for p in parts:
        if hasattr(obj, p):
            obj = getattr(obj, p)
            continue
        fields = getattr(obj, "__dataclass_fields__", None) or {}
        annotations = getattr(obj, "__annotations__", None) if isinstance(obj, type) else None
        if p in fields or (annotations and p in annotations) or p in getattr(obj, "_fields", ()):
            obj = None  # a field without a default: a name, nothing further below it
            continue
        return False
    return True


def _resolve_absolute(dotted: str) -> bool:
    parts = dotted.split(".")
    mods = _our_modules()
    for i in range(len(parts), 0, -1):
        head = ".".join(parts[:i])
        if head in mods:
            return _has(mods[head], parts[i:])
    return False


def resolves(ref: str, module: str | None) -> bool:
    """Whether ``ref`` names something of ours, cited from ``module`` (a dotted module name, or
    ``None`` outside the library)."""
    ref = ref.lstrip("~.").removesuffix("()")
    if ref.startswith("induction_heads.") or ref == "induction_heads":
        return _resolve_absolute(ref)
    parts = ref.split(".")
    mods = _our_modules()
    if module is not None:
        here = mods[module]
        if _has(here, parts):
            return True
        if any(isinstance(v, type) and v.__module__ == module and _has(v, parts) for v in vars(here).values()):
            return True
    for i in range(len(parts), 0, -1):
        head = ".".join(parts[:i])
        for name, mod in mods.items():
            if (name == f"induction_heads.{head}" or name.endswith(f".{head}")) and _has(mod, parts[i:]):
                return True
    return False


ROLE_RE = re.compile(r":(?:py:)?(" + "|".join(ROLES) + r"):`([^`<]+?)(?:\s*<([^>]+)>)?`")
ABSOLUTE_RE = re.compile(r"(?<![\w./])induction_heads(?:\.\w+)+")
SUBPACKAGE_RE = re.compile(r"(?<![\w./-])(?:" + "|".join(SUBPACKAGES) + r")(?:\.\w+)+(?!\w|\.\w|/)")
BACKQUOTED_RE = re.compile(r"``([A-Za-z_]\w*(?:\.\w+)+)(?:\(\))?``")
PATH_RE = re.compile(r"(?<![\w./-])((?:[\w-]+/)+\w+\.py)\b")
FILE_NAME_RE = re.compile(r"``(\w+\.py)``")


def _strip_role_targets(text: str) -> str:
    return ROLE_RE.sub(" ", text)


def references(text: str) -> list[tuple[str, str]]:
    """``(kind, string)`` of every reference to our code in ``text`` (a docstring or a comment),
    by the rules of this module's docstring; ``kind`` is ``"name"`` or ``"path"``."""
    refs = [("name", (m.group(3) or m.group(2)).strip()) for m in ROLE_RE.finditer(text)]
    rest = _strip_role_targets(text)
    refs += [("name", m.group(0)) for m in ABSOLUTE_RE.finditer(rest)]
    refs += [("name", m.group(0)) for m in SUBPACKAGE_RE.finditer(rest)
             if m.group(0).split(".")[1] not in FILE_EXTENSIONS and m.group(0).rsplit(".", 1)[-1] not in FILE_EXTENSIONS]
    refs += [("name", m.group(1)) for m in BACKQUOTED_RE.finditer(rest)
             if m.group(1).split(".")[0] in _module_names() and m.group(1).rsplit(".", 1)[-1] not in FILE_EXTENSIONS
             and not m.group(1).startswith(("induction_heads.", *(f"{s}." for s in SUBPACKAGES)))]
    refs += [("path", m.group(1)) for m in PATH_RE.finditer(rest) if m.group(1).split("/")[0] in PATH_ROOTS]
    refs += [("path", m.group(1)) for m in FILE_NAME_RE.finditer(rest)]
    return refs


def _docs_and_comments(path: Path) -> list[tuple[int, str]]:
    """``(line, text)`` of every docstring (module, class, function) and every comment of a file."""
    source = path.read_text()
    out = []
    for node in ast.walk(ast.parse(source, str(path))):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                    and isinstance(body[0].value.value, str):
                out.append((body[0].lineno, body[0].value.value))
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT:
            out.append((tok.start[0], tok.string))
    return out


def _module_of(path: Path) -> str | None:
    try:
        rel = path.relative_to(LIB.parent)
    except ValueError:
        return None
    parts = list(rel.with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def external(ref: str, module: str | None) -> bool:
    """Whether a role's target names another project's module (``:mod:`ast```, ``:class:`torch.Tensor```):
    its first part is no name of ours (no module of ours, no name in the citing module) and imports
    from outside this library."""
    first = ref.lstrip("~.").split(".")[0]
    if first in {"induction_heads", *SUBPACKAGES} | _module_names():
        return False
    if module is not None and hasattr(_our_modules()[module], first):
        return False
    try:
        spec = importlib.util.find_spec(first)
    except (ImportError, ValueError):
        return False
    return spec is not None and not str(spec.origin or "").startswith(str(LIB))


def dangling(path: Path) -> list[str]:
    """``file:line: reference`` of every reference in ``path``'s docstrings and comments that names
    nothing of ours."""
    module = _module_of(path)
    _our_modules()
    if module in IMPORT_ERRORS:
        return [f"{path.relative_to(REPO)}: does not import ({IMPORT_ERRORS[module]})"]
    out = []
    for line, text in _docs_and_comments(path):
        for kind, ref in references(text):
            if kind == "path":
                ok = any(f.endswith("/" + ref) for f in _repo_files())
            else:
                ok = resolves(ref, module) or external(ref, module)
            if not ok:
                broken = [m for m in IMPORT_ERRORS if m.rsplit(".", 1)[-1] in ref.lstrip("~.").split(".")]
                out.append(f"{path.relative_to(REPO)}:{line}: {ref}" + (f" (not imported: {', '.join(broken)})" if broken else ""))
    return out


SOURCES = sorted(p for p in [*LIB.rglob("*.py"), *(REPO / "tests").rglob("*.py"), *(REPO / "benchmarks").rglob("*.py")]
                 if "__pycache__" not in p.parts)


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(REPO)))
def test_every_cited_name_of_ours_exists(path):
    assert dangling(path) == []


def test_the_citation_rules():
    """What counts as a reference, and what resolves, on examples (a dangling one among them)."""
    text = ("The store (:func:`~induction_heads.engine.runs.verify_store`, ``figures.icl_curves``), "
            "engine.train.make_recorder and tests/book/test_abstract.py, ``test_ladder.py``; not book.py, ``t.lr``, "
            "``metrics.safetensors``, the book. Nor data/small/zoo. Dangling: :mod:`induction_heads.book.abstract`.")
    assert references(text) == [
        ("name", "~induction_heads.engine.runs.verify_store"), ("name", "induction_heads.book.abstract"),
        ("name", "engine.train.make_recorder"), ("name", "figures.icl_curves"),
        ("path", "tests/book/test_abstract.py"), ("path", "test_ladder.py")]
    assert resolves("~induction_heads.engine.runs.verify_store", None)
    assert resolves("verify_store", "induction_heads.engine.runs")
    assert not resolves("verify_store", "induction_heads.engine.store")
    assert not resolves("induction_heads.book.abstract", None)
    assert not resolves("induction_heads.handbuilt", None) and resolves("induction_heads.measure.handbuilt", None)
    assert resolves("Zoo.load", "induction_heads.engine.zoo") and resolves("load", "induction_heads.engine.zoo")
    assert resolves("ModelConfig.n_layers", "induction_heads.engine.config")
    assert external("ast", None) and external("torch.Tensor", None)
    assert not external("verify_store", "induction_heads.engine.store") and not external("metrics.nothing", None)


# ------------------------------------------------------------------ slow marks

# What makes a test slow: a training run (the trainer's ``train``, the live mode's
# ``watch_phase_change``) or a chapter executed by papermill (``execute_notebook``), called by the
# test, by a helper function of its module or by a fixture it uses (of its module or conftest.py),
# at any depth. A method ``x.train()`` (a torch module's mode) is no training run. Training through
# the command line in a subprocess is not seen here: such a test is marked by hand.
SLOW_CALLS = {"train", "watch_phase_change", "execute_notebook"}
SLOW_METHODS = {"watch_phase_change", "execute_notebook"}


def _called(fn: ast.AST) -> set[str]:
    out = set()
    for node in ast.walk(fn):
        if isinstance(node, ast.Call):
            if isinstance(node.func, ast.Name):
                out.add(node.func.id)
            elif isinstance(node.func, ast.Attribute):
                out.add("." + node.func.attr)
    return out


def _decorators(fn: ast.FunctionDef) -> list[str]:
    return [ast.unparse(d.func if isinstance(d, ast.Call) else d) for d in fn.decorator_list]


def _functions(path: Path) -> dict[str, ast.FunctionDef]:
    tree = ast.parse(path.read_text(), str(path))
    return {f.name: f for f in tree.body if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))}


def _module_marked_slow(path: Path) -> bool:
    tree = ast.parse(path.read_text(), str(path))
    return any(isinstance(n, ast.Assign) and any(getattr(t, "id", "") == "pytestmark" for t in n.targets)
               and "mark.slow" in ast.unparse(n.value) for n in tree.body)


def slow_tests(path: Path) -> dict[str, bool]:
    """``{test name: marked slow}`` of every test of ``path`` that trains or executes a chapter."""
    local = _functions(path)
    conftests = [c for c in (REPO / "tests").rglob("conftest.py") if path.is_relative_to(c.parent)]
    fixtures = {n: f for c in conftests for n, f in _functions(c).items()
                if any(d.startswith("pytest.fixture") for d in _decorators(f))}
    fixtures.update({n: f for n, f in local.items() if any(d.startswith("pytest.fixture") for d in _decorators(f))})

    def slow(fn: ast.FunctionDef, seen: frozenset[str]) -> bool:
        called = _called(fn)
        if called & SLOW_CALLS or {c[1:] for c in called if c.startswith(".")} & SLOW_METHODS:
            return True
        helpers = [local[c] for c in called if c in local and c not in seen]
        used = [fixtures[a.arg] for a in fn.args.args if a.arg in fixtures and a.arg not in seen]
        return any(slow(f, seen | {f.name}) for f in helpers + used)

    module_mark = _module_marked_slow(path)
    return {n: module_mark or any(d == "pytest.mark.slow" for d in _decorators(f))
            for n, f in local.items() if n.startswith("test_") and slow(f, frozenset({n}))}


TEST_FILES = sorted((REPO / "tests").rglob("test_*.py"))


def test_every_test_that_trains_or_executes_a_chapter_is_marked_slow():
    unmarked = [f"{p.relative_to(REPO)}::{n}" for p in TEST_FILES for n, marked in slow_tests(p).items() if not marked]
    assert unmarked == []


def test_the_slow_detector_sees_training_through_fixtures_and_helpers():
    """Positive controls: a fixture that trains (``store`` -> ``trained_store`` -> ``train``), a
    helper that runs papermill, the live mode; and a torch module's ``.train()`` is no training."""
    assert "test_verify_command" in slow_tests(REPO / "tests" / "engine" / "test_runs.py")
    assert "test_a_bad_live_value_stops_the_chapter_with_one_line" in slow_tests(REPO / "tests" / "book" / "test_live.py")
    assert "test_papermill_unknown_size_stops_with_one_line" in slow_tests(REPO / "tests" / "book" / "test_book.py")
    assert not any("recorder" in n for n in slow_tests(REPO / "tests" / "measure" / "test_recorder.py"))
