"""The measurement package imports nothing from the engine or the book: models, evaluation sets
and pools come in as arguments (the layout the README's table describes)."""

import ast
from pathlib import Path

import induction_heads.measure as measure


def _imports(path: Path) -> list[str]:
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            out.append("." * node.level + (node.module or ""))
        elif isinstance(node, ast.Import):
            out.extend(alias.name for alias in node.names)
    return out


def test_measure_imports_neither_engine_nor_book():
    modules = sorted(Path(measure.__file__).parent.glob("*.py"))
    assert len(modules) > 10
    for path in modules:
        for name in _imports(path):
            assert not name.startswith(("..", "induction_heads.engine", "induction_heads.book")), (path.name, name)
