"""Labels and counts a reader can trust, read from the stored chapters (``chapters/*.ipynb``, the
outputs executed at the default size that the book shows).

Each folded check's visible line (``<details class="ih-check"><summary>``) states how many
subjects were checked and how many hold or deviate; its chapter's verdict table judges the same
registered claim (:mod:`induction_heads.book.claims`) in a row of its own. The line and the row
must agree: the same number of subjects checked, the same recorded deviations, the same word
(never PASS on a statement its verdict row calls *partly*), and where the line gives the count at
the paper's threshold, the row's count. No reader's table shows ``nan`` or a number in exponent
notation (``3.79e+03``).
"""

from __future__ import annotations

import html
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from induction_heads.book import claims

CHAPTERS = Path(__file__).resolve().parents[2] / "chapters"
NOTEBOOKS = sorted(CHAPTERS.glob("*.ipynb"))
# The argument chapters (02-07): each ends with a verdict table of its registered claims.
ARGUMENT_CHAPTERS = [p for p in NOTEBOOKS if re.match(r"0[2-7]_", p.name)]

EXPONENT = re.compile(r"\b\d+(?:\.\d+)?e[+-]?\d+\b", re.I)
NAN = re.compile(r"\bnan\b", re.I)
CHECKED = re.compile(r"^(?P<tag>.+?) (?P<held>\d+) of (?P<total>\d+) (?P<unit>.+?) hold: (?P<rest>.*)$")
REPORTED = re.compile(r"^REPORTED, not asserted \((?P<total>\d+) (?P<unit>.+?)\): (?P<rest>.*)$")
DEVIATIONS = re.compile(r"; (\d+) recorded deviations?, checked to still fail")
AT_PAPER = re.compile(r"; at the paper's [^:]+: (\d+) of (\d+)")
OURS = re.compile(r"^(?:(?P<passed>\d+)/)?(?P<total>\d+) ")
# The word of a line's tag for each verdict word (a line that fails stops its chapter: never stored).
TAG_OF = {"reproduced": "PASS", "partly": "PARTLY", "differs": "DIFFERS", "not decided": "REPORTED"}


class _Tables(HTMLParser):
    """Every ``<table>`` of an HTML output: its rows of cell texts, the header row first."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append([])
        elif tag == "tr" and self.tables:
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None and self.tables and self.tables[-1]:
            self.tables[-1][-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def _html_outputs(path: Path) -> list[tuple[str, str]]:
    """(cell id, HTML) of every HTML output of a stored chapter."""
    out = []
    for cell in json.loads(path.read_text())["cells"]:
        for o in cell.get("outputs", []):
            h = o.get("data", {}).get("text/html")
            if h:
                out.append((cell.get("id", "?"), "".join(h) if isinstance(h, list) else h))
    return out


def _tables(path: Path) -> list[tuple[str, list[list[str]]]]:
    out = []
    for cid, h in _html_outputs(path):
        p = _Tables()
        p.feed(h)
        out += [(cid, t) for t in p.tables if t]
    return out


def _check_lines(path: Path) -> list[tuple[str, str]]:
    return [(cid, html.unescape(m.group(1))) for cid, h in _html_outputs(path)
            for m in re.finditer(r'<details class="ih-check"><summary>(.*?)</summary>', h, re.S)]


def _verdict_rows(path: Path) -> dict[str, tuple[str, str]]:
    """A chapter's verdict rows: the paper's statement -> (ours, verdict)."""
    rows = {}
    for _, t in _tables(path):
        if t[0] == ["the paper", "ours", "verdict"]:
            for r in t[1:]:
                rows[r[0]] = (r[1], r[2])
    return rows


def _definition(statement: str):
    """The registered claim whose check statement opens ``statement`` (the longest such)."""
    found = [d for d in claims.registered().values()
             if statement == d.claim_text() or statement.startswith(d.claim_text() + ";")]
    return max(found, key=lambda d: len(d.claim_text()), default=None)


def test_the_stored_chapters_are_there():
    assert len(ARGUMENT_CHAPTERS) == 6, [p.name for p in NOTEBOOKS]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_table_shows_nan_or_an_exponent(path):
    bad = [(cid, cell) for cid, t in _tables(path) for row in t[1:] for cell in row
           if NAN.fullmatch(cell.strip()) or EXPONENT.search(cell)]
    assert bad == [], f"{path.name}: cells a reader cannot read (cell id, text): {bad}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_a_check_line_counts_add_up(path):
    """Within a visible line: PASS only when every subject checked holds, with no deviation, no
    failure and no shortfall at the paper's threshold; held + deviations + failures = checked."""
    for cid, line in _check_lines(path):
        m = CHECKED.match(line)
        if not m or line.startswith("not judged"):
            continue
        held, total, rest = int(m["held"]), int(m["total"]), m["rest"]
        devs = sum(int(n) for n in DEVIATIONS.findall(rest))
        fails = len(rest.split("; fails for ")[1].split(";")[0].split(", ")) if "; fails for " in rest else 0
        assert held + devs + fails == total, f"{path.name} [{cid}]: {held} + {devs} + {fails} != {total}: {line}"
        if m["tag"].split()[0] == "PASS" or m["tag"].endswith("(PASS)"):
            assert held == total and not devs and not AT_PAPER.search(rest), f"{path.name} [{cid}]: {line}"


@pytest.mark.parametrize("path", ARGUMENT_CHAPTERS, ids=lambda p: p.stem)
def test_each_check_line_agrees_with_its_verdict_row(path):
    rows = _verdict_rows(path)
    assert rows, f"{path.name} has no verdict table"
    matched = 0
    for cid, line in _check_lines(path):
        if line.startswith(("SANITY CHECK", "not judged", "NONE")):
            continue
        m = CHECKED.match(line) or REPORTED.match(line)
        assert m, f"{path.name} [{cid}]: a check line without its count: {line}"
        d = _definition(m["rest"])
        if d is None or d.paper not in rows:
            continue
        matched += 1
        ours, verdict = rows[d.paper]
        word = verdict.split(":")[0]
        o = OURS.match(ours)
        where = f"{path.name} [{cid}] {d.key}: line {line!r} vs row {ours!r} ({word})"
        assert o and int(o["total"]) == int(m["total"]), f"checked counts differ: {where}"
        tag = "REPORTED" if line.startswith("REPORTED") else m["tag"].split()[0]
        assert tag == TAG_OF[word], f"the line says {tag}, its verdict row {word}: {where}"
        if "held" in m.groupdict() and o["passed"] is not None:
            paper = AT_PAPER.search(m["rest"])
            devs = sum(int(n) for n in DEVIATIONS.findall(m["rest"]))
            shown = int(paper[1]) if paper else int(m["held"])
            assert shown == int(o["passed"]), f"the line's count of models that hold differs from the row's: {where}"
            assert devs == verdict.count("(recorded deviation)"), f"recorded deviations differ: {where}"
    assert matched, f"{path.name}: no check line matched a verdict row"
