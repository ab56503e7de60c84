"""Where imports sit: at the top of every module but the slow or noisy ones. What each package may
import (``measure`` nothing of ours outside itself, ``engine`` nothing of ``book``) is checked in
tests/test_guards.py."""

import ast
from pathlib import Path

import induction_heads.measure as measure


# Imported inside a function on purpose: TransformerLens and Hugging Face (slow to import, and
# only some paths need them), tqdm.auto (it warns in every kernel without ipywidgets).
LAZY_IMPORTS = ("transformer_lens", "transformers", "tokenizers", "datasets", "tqdm.auto")


def _function_imports(path: Path) -> list[tuple[int, str]]:
    """``(line, module)`` of every import written inside a function of ``path``."""
    out = []
    for fn in ast.walk(ast.parse(path.read_text())):
        if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for node in ast.walk(fn):
                if isinstance(node, ast.ImportFrom):
                    out.append((node.lineno, "." * node.level + (node.module or "")))
                elif isinstance(node, ast.Import):
                    out.extend((node.lineno, alias.name) for alias in node.names)
    return out


def test_imports_sit_at_the_top_of_every_module_but_the_lazy_ones():
    package = Path(measure.__file__).parent.parent
    hidden = [(str(path.relative_to(package)), line, name)
              for path in sorted(package.rglob("*.py")) for line, name in _function_imports(path)
              if not name.startswith(LAZY_IMPORTS)]
    assert hidden == []


def test_function_imports_are_found(tmp_path):
    """The check above sees an import hidden in a function (and not one at the top)."""
    f = tmp_path / "m.py"
    f.write_text("import os\n\ndef f():\n    import yaml\n    from .x import y\n")
    assert _function_imports(f) == [(4, "yaml"), (5, ".x")]
