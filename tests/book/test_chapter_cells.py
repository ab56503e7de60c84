"""Chapter cells stay short: a code cell calls library functions and draws. Every code cell of
``chapters/*.ipynb`` over ``MAX_LINES`` lines of source is listed in ``LONG_CELLS``, keyed
by its readable cell id, with the reason it needs its length; a new long cell fails with one line
naming it, and so does an entry whose cell is gone or no longer long (the list only shrinks as
cells move into tested functions). The Colab set-up cell is exempt by its tag: its code is written
by ``make sync`` (:func:`induction_heads.publish.build.colab_cell_source`) and checked against it
by ``test_book.py``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHAPTERS = sorted((ROOT / "chapters").glob("*.ipynb"))
MAX_LINES = 12
GENERATED_TAGS = {"colab-setup"}  # cells whose code the build writes, not an author

# (chapter file, cell id) -> why the cell needs more than MAX_LINES lines. "to thin" marks a cell
# whose logic belongs in a tested library function (issue 33, item 4), kept here until it moves.
LONG_CELLS: dict[tuple[str, str], str] = {
    ("02_argument1_phase_change.ipynb", "arg1-setup"):
        "the chapter's set-up: its imports, the zoo, windows and vanilla models, and the table of every "
        "model's window and final ICL that the chapter's text reads",
    ("02_argument1_phase_change.ipynb", "arg1-onset-seeds"):
        "the onset figure, one line per model of the seeds' spread, and the per-run window table; "
        "to thin: the spread line into argument1",
    ("02_argument1_phase_change.ipynb", "arg1-classes-numbers"):
        "the class split's numbers over training, then the natural-code models' split table; to thin: "
        "the split rows into a library function",
    ("03_argument2_smeared_keys.ipynb", "arg2-setup"):
        "the chapter's set-up: its imports, the smeared and control runs with their seeds, and the table "
        "of their windows, final ICL and prefix matching",
    ("03_argument2_smeared_keys.ipynb", "arg2-knockout-prefix-matching"):
        "the knockout figure, the intervention-against-control table, the registered knockout claims "
        "and one line per intervention; to thin: the line into argument2",
    ("04_argument3_ablation.ipynb", "arg3-setup"):
        "the chapter's set-up: its imports, the models the claims and figures cover, the zoo, windows, "
        "head classes and the head-class table",
    ("04_argument3_ablation.ipynb", "arg3-ablation-readings"):
        "the summary rows (with where each came from) and the ablation table, one row per model over "
        "six columns of the kept readings; to thin: the rows into argument3",
    ("05_argument4_abstract.ipynb", "arg4-setup"):
        "the chapter's set-up: its imports, tokenizer, evaluation set, zoo, and each model's bridge, "
        "induction heads and head classes, with the table of the heads it follows",
    ("05_argument4_abstract.ipynb", "arg4-fuzzy"):
        "fuzzy matching: the scores per model and kind with their intervals, the figure and the table; "
        "to thin: the scores' loop into argument4",
    ("05_argument4_abstract.ipynb", "arg4-translation"):
        "the translation model's analysis, figure and table, or one line saying it is not trained yet",
    ("05_argument4_abstract.ipynb", "arg4-pattern"):
        "the pattern task on exact and novel items for every model, its figure and table, or one line "
        "saying why it is skipped; to thin: the rows into argument4",
    ("06_argument5_mechanism.ipynb", "arg5-setup"):
        "the chapter's set-up: its imports, attn-only-2l's final scores, head classes, induction and "
        "previous-token heads and the followed head (the hero and the heads' table read them)",
    ("06_argument5_mechanism.ipynb", "arg5-qk-ov-plane"):
        "the QK/OV plane and the table of each last-layer head's entry into the corner and its points at "
        "the window's edges; to thin: the marks and points into argument5",
    ("07_argument6_continuity.ipynb", "arg6-setup"):
        "the chapter's set-up: its imports, the zoo, windows, the ladder's rungs, the summary rows and "
        "the table of every rung (family, size, window, final ICL, wall time)",
    ("07_argument6_continuity.ipynb", "arg6-onset-law-claim"):
        "the onset law's fit, its registered claim, one line per sweep point and the missing points",
}


def _code_cells(path: Path):
    for cell in json.loads(path.read_text())["cells"]:
        if cell["cell_type"] == "code" and not GENERATED_TAGS & set(cell.get("metadata", {}).get("tags", [])):
            yield cell["id"], len("".join(cell["source"]).splitlines())


def _long_cells() -> dict[tuple[str, str], int]:
    return {(p.name, cid): n for p in CHAPTERS for cid, n in _code_cells(p) if n > MAX_LINES}


def test_the_chapters_are_read():
    assert len(CHAPTERS) >= 8 and all(any(True for _ in _code_cells(p)) for p in CHAPTERS)


@pytest.mark.parametrize("chapter", [p.name for p in CHAPTERS])
def test_every_long_cell_is_listed_with_its_reason(chapter):
    new = [f"{c} cell {cid}: {n} lines (over {MAX_LINES}); move its logic into a tested function, or list it in "
           f"LONG_CELLS with the reason it needs its length"
           for (c, cid), n in _long_cells().items() if c == chapter and (c, cid) not in LONG_CELLS]
    assert not new, new[0]


def test_every_listed_cell_is_still_long():
    long = _long_cells()
    stale = [f"{c} cell {cid}: " + (f"{long_n} lines" if (long_n := _lines(c, cid)) is not None else "no such cell")
             + f", listed in LONG_CELLS; remove its entry" for c, cid in LONG_CELLS if (c, cid) not in long]
    assert not stale, stale[0]


def test_every_listed_reason_says_why():
    assert all(len(reason.split()) >= 5 for reason in LONG_CELLS.values())


def _lines(chapter: str, cell_id: str) -> int | None:
    path = ROOT / "chapters" / chapter
    return dict(_code_cells(path)).get(cell_id) if path.is_file() else None
