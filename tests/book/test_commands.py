"""Every command the book tells a reader to run exists: each ``python -m induction_heads <command>``
and each ``make <target>`` named in the library's messages (and docstrings), the chapters (their
cells and stored outputs) and the README."""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import pytest

from induction_heads.publish.build import ROOT
from induction_heads.cli import _parser

CLI = re.compile(r"python -m induction_heads (?P<command>[a-z][\w-]*)")
# `make` is also an English word: a target counts only inside code (a `...` span or a fenced block).
MAKE = re.compile(r"(?:^|[\s;&|(])make (?P<target>[a-z][\w-]*)")
FENCED = re.compile(r"^```.*?^```", re.M | re.S)
SPAN = re.compile(r"`([^`\n]+)`")
TARGET = re.compile(r"^(?P<target>[A-Za-z][\w-]*)\s*:(?!=)", re.M)


def named_commands(text: str) -> tuple[set[str], set[str]]:
    """``(CLI commands, make targets)`` that ``text`` names: every ``python -m induction_heads
    <command>``, and every ``make <target>`` written as code (in backticks or a fenced block)."""
    fenced = FENCED.findall(text)
    code = [*fenced, *SPAN.findall(FENCED.sub("", text))]
    return ({m["command"] for m in CLI.finditer(text)},
            {m["target"] for piece in code for line in piece.splitlines() for m in MAKE.finditer(line)})


def notebook_text(path: Path) -> str:
    """A notebook's cell sources and the text of its stored outputs."""
    texts = []
    for cell in json.loads(path.read_text())["cells"]:
        texts.append("".join(cell["source"]))
        for out in cell.get("outputs", []):
            texts.append("".join(out.get("text", "")) + "".join(out.get("data", {}).get("text/plain", "")))
    return "\n".join(texts)


def book_texts(root: Path = ROOT) -> dict[str, str]:
    """``{path: text}`` of what names commands to a reader: lib/, the chapters, the README."""
    paths = [*sorted((root / "lib").rglob("*.py")), *sorted((root / "chapters").glob("*.md")), root / "README.md"]
    texts = {p.relative_to(root).as_posix(): p.read_text() for p in paths}
    texts.update({p.relative_to(root).as_posix(): notebook_text(p) for p in sorted((root / "chapters").glob("*.ipynb"))})
    return texts


def cli_commands() -> set[str]:
    """The subcommands of ``python -m induction_heads``, from its parser."""
    return {name for action in _parser()._actions if isinstance(action, argparse._SubParsersAction)
            for name in action.choices}


def make_targets(makefile: Path = ROOT / "Makefile") -> set[str]:
    return {m["target"] for m in TARGET.finditer(makefile.read_text())}


def test_the_collector_finds_commands_in_code_and_leaves_prose_alone():
    text = ("Run `python -m induction_heads found --size tiny`, then `make zooo SIZE=base`; these make the heads "
            "copy.\n```bash\nmake book   # then open\ncd x && make chapters\n```\nmake sense of it")
    assert named_commands(text) == ({"found"}, {"zooo", "book", "chapters"})
    assert named_commands("``make zoo``: trains; f\"`python -m induction_heads {cmd} --size`\"") == (set(), {"zoo"})


def test_the_cli_and_the_makefile_are_read():
    assert {"data", "train", "zoo", "summary", "verify"} <= cli_commands()
    assert {"book", "test", "zoo", "check-colab", "sync"} <= make_targets()


@pytest.mark.parametrize("path", sorted(book_texts()))
def test_every_command_named_exists(path):
    commands, targets = named_commands(book_texts()[path])
    unknown = sorted(f"python -m induction_heads {c}" for c in commands - cli_commands())
    unknown += sorted(f"make {t}" for t in targets - make_targets())
    assert not unknown, f"{path} names commands that do not exist: {', '.join(unknown)}"


def test_the_book_names_commands_at_all():
    """The collector reads the book (a pattern that matched nothing would pass every file)."""
    found = [named_commands(text) for text in book_texts().values()]
    assert {"zoo", "data"} <= set().union(*(c for c, _ in found)) and {"zoo", "book"} <= set().union(*(t for _, t in found))
