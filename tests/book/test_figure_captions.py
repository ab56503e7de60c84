"""Every figure of the book has a number, a caption and alt text: chapters/figures.yml names each
figure-drawing cell of the stored chapters, no entry names a cell that is gone, and the build
turns each entry into MyST-NB's figure metadata on a cell of its own."""

import re

import nbformat
import pytest

from induction_heads.publish import build as bookbuild

ROOT = bookbuild.ROOT
NOTES = bookbuild.load_figure_notes(ROOT)
CHAPTERS = {f"{c.rsplit('/', 1)[-1]}.ipynb": c for c in bookbuild.toc_chapters(ROOT)}


def _stored(name: str):
    return nbformat.read(ROOT / f"{CHAPTERS[name]}.ipynb", as_version=4)


def _figure_cells(nb) -> dict[str, int]:
    """Cell id -> number of figure outputs, for the cells that draw one."""
    return {c.id: len(bookbuild.figure_outputs(c)) for c in nb.cells if bookbuild.figure_outputs(c)}


@pytest.mark.parametrize("name", sorted(CHAPTERS))
def test_every_stored_figure_has_a_caption_entry(name):
    drawn = _figure_cells(_stored(name))
    notes = NOTES.get(name, {})
    missing = sorted(set(drawn) - set(notes))
    assert not missing, f"{name}: cells drawing a figure without an entry in {bookbuild.FIGURES_FILE}: {missing}"
    counts = {cid: (len(notes[cid]), n) for cid, n in drawn.items() if len(notes[cid]) != n}
    assert not counts, f"{name}: entries vs figures drawn per cell: {counts}"


def test_no_entry_names_a_chapter_or_cell_that_does_not_exist():
    assert set(NOTES) <= set(CHAPTERS), set(NOTES) - set(CHAPTERS)
    for name, cells in NOTES.items():
        ids = {c.id for c in _stored(name).cells}
        assert set(cells) <= ids, f"{name}: entries for cells that are gone: {sorted(set(cells) - ids)}"
        drawing = set(_figure_cells(_stored(name)))
        assert set(cells) <= drawing, f"{name}: entries for cells that draw no figure: {sorted(set(cells) - drawing)}"


# A figure cell's id names its chapter, then what it draws (``arg1-icl-curves``): the number on
# the page leads to its cell without a JSON search.
ID_PREFIX = {"00": "intro", "01": "methods", **{f"0{k + 1}": f"arg{k}" for k in range(1, 7)}, "09": "appx"}


def test_every_captioned_cell_has_a_readable_id():
    for name, cells in NOTES.items():
        prefix = ID_PREFIX[name[:2]]
        unreadable = sorted(cid for cid in cells if not re.fullmatch(rf"{prefix}-[a-z][a-z0-9]*(-[a-z0-9]+)*", cid))
        assert not unreadable, f"{name}: caption keys that are not readable '{prefix}-<what it draws>' cell ids: {unreadable}"


def test_captions_quote_no_measured_numbers():
    """A caption outlives its data: no decimals (``0.42``) and no thousands (``1,200``)."""
    for name, cells in NOTES.items():
        for cid, entries in cells.items():
            for e in entries:
                for key in ("caption", "alt"):
                    assert not re.search(r"\d[.,]\d", e[key]), f"{name} {cid} {key}: {e[key]!r}"


def test_an_entry_without_alt_text_is_an_error(tmp_path):
    (tmp_path / "chapters").mkdir()
    (tmp_path / bookbuild.FIGURES_FILE).write_text("01_x.ipynb:\n  abc:\n    caption: only a caption\n")
    with pytest.raises(ValueError, match="caption and an alt"):
        bookbuild.load_figure_notes(tmp_path)
    assert bookbuild.load_figure_notes(tmp_path / "nowhere") == {}


# ------------------------------------------------------------------- caption_figures itself

def _png(label: str):
    return nbformat.v4.new_output("display_data", data={"image/png": "iVBORw0KGgo=", "text/plain": label})


def _table(label: str):
    return nbformat.v4.new_output("display_data", data={"text/html": "<table></table>", "text/plain": label})


def _view():
    return nbformat.v4.new_output("display_data", data={"text/html": '<div id="x" class="ih-circuitsvis"></div>',
                                                         "text/plain": "view"})


def _notebook():
    cell = nbformat.v4.new_code_cell("draw()", outputs=[
        _table("before"), _view(), _png("first"), nbformat.v4.new_output("stream", name="stdout", text="printed\n"),
        _table("between"), _png("second"), _png("third")])
    cell.metadata["tags"] = ["hide-input"]
    cell.id = "c1"
    other = nbformat.v4.new_code_cell("table()", outputs=[_table("alone")])
    other.id = "c2"
    return nbformat.v4.new_notebook(cells=[cell, other])


def test_caption_figures_gives_each_figure_its_own_captioned_cell_in_order():
    notes = {"c1": [{"caption": "the view", "alt": "a view"}, {"caption": "cap A", "alt": "alt A"},
                    {"caption": "cap B", "alt": "alt B"}]}
    nb = bookbuild.caption_figures(_notebook(), notes)
    cells = nb.cells
    named = bookbuild.caption_figures(_notebook(), notes, page="tiny-01_x").cells
    assert named[2].metadata["mystnb"]["figure"]["name"] == "fig-tiny-01_x-c1-2"  # Sphinx labels are global
    # the outputs keep their order, spread over consecutive cells
    flat = [o.get("data", {}).get("text/plain", o.get("text")) for c in cells for o in c.outputs]
    assert flat == ["before", "view", "first", "printed\n", "between", "second", "third", "alone"]
    head, view, first, between, second, third, other = cells
    assert head.source == "draw()" and head.metadata["tags"] == ["hide-input"] and "mystnb" not in head.metadata
    for c in (view, first, between, second, third):
        assert c.metadata["tags"] == ["remove-input"] and c.source.strip()  # MyST-NB skips an empty cell
    assert view.metadata["mystnb"]["figure"] == {"caption": "the view", "name": "fig-c1-1"}
    assert first.metadata["mystnb"] == {"figure": {"caption": "cap A", "name": "fig-c1-2"}, "image": {"alt": "alt A"}}
    assert "mystnb" not in between.metadata and len(between.outputs) == 2  # a table is no figure
    # more figures than entries (a size with more models): the last entry again, its own name
    assert second.metadata["mystnb"]["figure"] == {"caption": "cap B", "name": "fig-c1-3"}
    assert third.metadata["mystnb"]["figure"] == {"caption": "cap B", "name": "fig-c1-4"}
    assert other.metadata == {} and other.source == "table()"
    assert len({c.id for c in cells}) == len(cells)


def test_caption_figures_leaves_cells_without_an_entry_alone():
    nb = _notebook()
    before = nbformat.writes(nb)
    assert nbformat.writes(bookbuild.caption_figures(nb, {})) == before


def test_two_size_pages_of_one_chapter_get_distinct_figure_names(tmp_path):
    """Sphinx's labels are global: the same cell on the tiny and the small page needs two names."""
    import shutil

    root = tmp_path / "book"
    (root / "chapters").mkdir(parents=True)
    shutil.copy(ROOT / "_config.yml", root / "_config.yml")
    (root / "_toc.yml").write_text("format: jb-book\nroot: chapters/00_intro\n")
    nb = _notebook()
    nb.cells.insert(0, nbformat.v4.new_markdown_cell("# Intro\n\ntext"))
    for size in ("tiny", "small"):
        (root / "_build" / "executed" / size / "chapters").mkdir(parents=True)
        nbformat.write(nb, root / "_build" / "executed" / size / "chapters" / "00_intro.ipynb")
    (root / bookbuild.FIGURES_FILE).write_text("00_intro.ipynb:\n  c1:\n    caption: c\n    alt: a\n")
    src = bookbuild.assemble(root, ["tiny", "small"])
    names = set()
    for page in (src / "chapters" / "00_intro.ipynb", src / "chapters" / "sizes" / "tiny" / "00_intro.ipynb"):
        for c in nbformat.read(page, as_version=4).cells:
            if "mystnb" in c.metadata:
                names.add(c.metadata["mystnb"]["figure"]["name"])
    assert len(names) == 8  # four figures (view, three images) on each of two pages


def test_the_build_numbers_figures():
    config = bookbuild.load_config(ROOT)["sphinx"]["config"]
    assert config["numfig"] is True and "%s" in config["numfig_format"]["figure"]
