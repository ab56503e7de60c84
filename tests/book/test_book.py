"""The book's machinery: chapter setup, the chapters' shape, the execution cache, size pages."""

import json
import shutil

import nbformat
import pytest

from induction_heads import book
from induction_heads.engine.config import SIZES, SizeError
from induction_heads.publish import build as bookbuild

ROOT = bookbuild.ROOT
CHAPTERS = bookbuild.toc_chapters()


def _nb(chapter):
    return nbformat.read(ROOT / f"{chapter}.ipynb", as_version=4)


# ------------------------------------------------------------------------------ setup_chapter

def test_unknown_size_is_a_one_line_error_naming_the_valid_sizes():
    with pytest.raises(SizeError) as e:
        book.setup_chapter("huge")
    assert str(e.value) == "unknown size 'huge'; choose one of: tiny, small, base"
    assert isinstance(e.value, ValueError)
    assert e.value._render_traceback_() == ["SizeError: unknown size 'huge'; choose one of: tiny, small, base"]


def test_setup_chapter_returns_the_size_spec_and_uses_one_thread():
    import torch

    before = torch.get_num_threads()
    try:
        assert book.setup_chapter("tiny").name == "tiny"
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_table_text_and_html():
    t = book.Table(["model", "loss"], [["a<b", 1.23456], ["c", 2.0]])
    assert repr(t).splitlines() == ["model   loss", "-----  -----", "a<b    1.235", "c      2.000"]
    assert '<td class="ih-text">a&lt;b</td>' in t._repr_html_() and "<td>1.235</td>" in t._repr_html_()


def test_check_prints_the_numbers_and_raises_when_false(capsys):
    book.check("loss fell", True, first=6.2, final=4.1)
    assert capsys.readouterr().out == "PASS loss fell (first=6.200, final=4.100)\n"
    with pytest.raises(AssertionError, match=r"loss fell \(first=1.000\)"):
        book.check("loss fell", False, first=1.0)


def test_check_deviation_asserts_that_the_claim_still_fails(capsys):
    book.check_deviation("small", "heads in the last layer", False, per_layer="0 1 2 0")
    assert capsys.readouterr().out == "DEVIATION heads in the last layer (per_layer=0 1 2 0)\n"
    with pytest.raises(AssertionError, match="recorded as a deviation but now met"):
        book.check_deviation("small", "heads in the last layer", True)
    book.check_deviation("tiny", "heads in the last layer", True)  # a smoke size prints only
    assert capsys.readouterr().out.splitlines()[-1].startswith("not judged at size 'tiny'")


def test_check_claim_at_a_smoke_size_prints_one_line_that_judges_nothing(capsys):
    book.check_claim("tiny", "loss fell", False, first=1.0)  # does not raise
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "tests the pipeline, not the science" in out
    assert "would not hold at this size" in out and "loss fell (first=1.000)" in out and "FAIL" not in out
    book.check_claim("tiny", "loss fell", True, first=1.0)
    assert "(would hold)" in capsys.readouterr().out


# ----------------------------------------------------------------------------- the chapters

def test_toc_lists_every_chapter_notebook_and_nothing_else():
    on_disk = sorted(p.relative_to(ROOT).with_suffix("").as_posix() for p in (ROOT / "chapters").glob("*.ipynb"))
    assert sorted(CHAPTERS) == on_disk
    assert len(CHAPTERS) == 9  # introduction, methods, six arguments, the appendix of runs


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapter_shape(chapter):
    """Title first; then the Colab cell, the parameters cell and setup_chapter, in that order."""
    nb = _nb(chapter)
    assert nb.metadata.kernelspec.name == "python3" and nb.metadata.language_info.name == "python"
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# ")
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert bookbuild.COLAB_TAG in code[0].metadata.get("tags", [])
    assert "parameters" in code[1].metadata.get("tags", [])
    assert bookbuild.default_size_of(nb) == book.DEFAULT_SIZE
    assert "book.setup_chapter(size)" in code[2].source


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_colab_cell_is_synced_with_config(chapter):
    nb = _nb(chapter)
    assert not bookbuild.sync_chapter(nb, bookbuild.load_config()), "run `make sync`"


def test_sync_offers_the_published_sizes_in_the_parameters_cell():
    nb = _nb(CHAPTERS[0])
    params = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    published = book.chapter.published_sizes()
    assert book.DEFAULT_SIZE in published and params.source == bookbuild.size_line(book.DEFAULT_SIZE, published)
    assert bookbuild.sync_chapter(nb, bookbuild.load_config(), sizes=["tiny"])  # a size stops being published
    assert params.source.startswith('size = "small"  # model size: tiny (') and "small or" not in params.source
    assert bookbuild.default_size_of(nb) == book.DEFAULT_SIZE
    assert [book.chapter.size_choices(s) for s in (["a"], ["a", "b"], ["a", "b", "c"])] == ["a", "a or b", "a, b or c"]


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_stored_chapter_has_reference_outputs_and_no_run_metadata(chapter):
    nb = _nb(chapter)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count for c in code), "run `make chapters`: nbval skips unexecuted cells"
    assert list(range(1, len(code) + 1)) == [c.execution_count for c in code]
    assert "papermill" not in nb.metadata
    assert not any("papermill" in c.metadata or "execution" in c.metadata for c in nb.cells)
    errors = [o for c in code for o in c.outputs if o.output_type == "error"]
    assert not errors


def test_colab_cell_does_nothing_outside_colab(monkeypatch):
    import os
    import sys

    src = bookbuild.colab_cell_source(bookbuild.load_config())
    path, env = list(sys.path), dict(os.environ)
    exec(compile(src, "<colab cell>", "exec"), {})
    assert sys.path == path and dict(os.environ) == env


def test_colab_cell_reads_the_repository_from_config():
    cfg = {"repository": {"url": "https://github.com/someone/book/", "branch": "v1.2.0"}}
    src = bookbuild.colab_cell_source(cfg)
    assert 'REPO, REF = "https://github.com/someone/book", "v1.2.0"' in src
    compile(src, "<colab cell>", "exec")  # plain Python: no magics


def test_config_turns_sphinx_execution_off_and_sets_colab():
    cfg = bookbuild.load_config()
    assert cfg["execute"]["execute_notebooks"] == "off"
    assert cfg["launch_buttons"]["colab_url"].startswith("https://colab.research.google.com")
    assert cfg["repository"]["url"].startswith("https://github.com/")


# ---------------------------------------------------------------------------- execution key

def _fake_root(tmp_path):
    root = tmp_path / "book"
    (root / "lib" / "pkg").mkdir(parents=True)
    (root / "lib" / "pkg" / "m.py").write_text("x = 1\n")
    (root / "data" / "tiny" / "runs").mkdir(parents=True)
    (root / "data" / "tiny" / "runs" / "m.json").write_text("{}")
    (root / "requirements.txt").write_text("torch==2.13.0\n")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print(1)")])
    nbformat.write(nb, root / "c.ipynb")
    return root


def _rename_first_cell(path):
    nb = nbformat.read(path, as_version=4)
    nb.cells[0].id = "renamed-cell"
    nbformat.write(nb, path)


def test_execution_key_watches_lib_data_pins_and_cells_but_not_outputs(tmp_path):
    root = _fake_root(tmp_path)
    key = lambda size="tiny": bookbuild.execution_key(root / "c.ipynb", size, root)  # noqa: E731
    k0 = key()
    assert key() == k0 and key("small") != k0

    nb = nbformat.read(root / "c.ipynb", as_version=4)
    nb.cells[0].outputs = [nbformat.v4.new_output("stream", text="1\n")]
    nb.cells[0].execution_count = 1
    nbformat.write(nb, root / "c.ipynb")
    assert key() == k0, "outputs are not inputs"

    (root / "data" / "tiny" / "cache").mkdir()
    (root / "data" / "tiny" / "cache" / "tokens.npy").write_bytes(b"scratch")
    assert key() == k0, "data/<size>/cache is scratch space"

    for change in (
        lambda: (root / "lib" / "pkg" / "m.py").write_text("x = 2\n"),
        lambda: (root / "data" / "tiny" / "runs" / "m.json").write_text('{"a": 1}'),
        lambda: (root / "requirements.txt").write_text("torch==2.14.0\n"),
        lambda: _rename_first_cell(root / "c.ipynb"),  # figures are captioned by cell id
        lambda: nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print(2)")]),
                               root / "c.ipynb"),
    ):
        before = key()
        change()
        assert key() != before


# ------------------------------------------------------------------------------- size pages

def test_size_pages_and_switcher_links():
    ch = "chapters/02_argument1_phase_change"
    assert bookbuild.size_page(ch, "tiny", "tiny") == ch
    assert bookbuild.size_page(ch, "small", "tiny") == "chapters/sizes/small/02_argument1_phase_change"
    main = bookbuild.switcher_markdown(ch, "tiny", ["tiny", "small"], "tiny")
    assert main == "Model size: **tiny** (this page) · [small](sizes/small/02_argument1_phase_change.ipynb)"
    sub = bookbuild.switcher_markdown(ch, "small", ["tiny", "small"], "tiny")
    assert "[tiny](../../02_argument1_phase_change.ipynb)" in sub and "**small** (this page)" in sub


def _code(source, tags=None):
    cell = nbformat.v4.new_code_cell(source)
    if tags:
        cell.metadata["tags"] = tags
    return cell


def test_hide_code_folds_code_but_not_the_colab_and_parameters_cells():
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# Title"),
        _code("colab", [bookbuild.COLAB_TAG, "hide-cell"]),
        _code('size = "small"', ["parameters"]),
        _code('size = "tiny"', ["injected-parameters"]),
        _code("plot()"),
        _code("check()", ["hide-output"]),
        _code("secret()", ["remove-input"]),
    ])
    tags = [c.metadata.get("tags", []) for c in bookbuild.hide_code(nb).cells]
    assert tags == [[], [bookbuild.COLAB_TAG, "hide-cell"], ["parameters"], ["injected-parameters"],
                    ["hide-input"], ["hide-output", "hide-input"], ["remove-input"]]
    assert [c.metadata.get("tags", []) for c in bookbuild.hide_code(nb).cells] == tags  # once only


def test_stored_chapters_leave_their_code_cells_untagged():
    """The build folds the code; the stored notebooks stay as their authors wrote them."""
    for chapter in CHAPTERS:
        for cell in _nb(chapter).cells:
            assert "hide-input" not in cell.metadata.get("tags", []), chapter


def _book_root(tmp_path, sizes=("tiny", "small")):
    """A book with one notebook chapter after its root page and a Markdown page last, its
    chapters executed for ``sizes``."""
    root = tmp_path / "book"
    (root / "chapters").mkdir(parents=True)
    shutil.copy(ROOT / "_config.yml", root / "_config.yml")
    (root / "_toc.yml").write_text("format: jb-book\nroot: chapters/00_intro\n"
                                   "chapters:\n  - file: chapters/01_chapter\n  - file: chapters/08_log\n")
    for name, title in (("00_intro", "Intro"), ("01_chapter", "A chapter")):
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(f"# {title}\n\ntext")])
        nbformat.write(nb, root / "chapters" / f"{name}.ipynb")
        for size in sizes:
            (root / "_build" / "executed" / size / "chapters").mkdir(parents=True, exist_ok=True)
            nbformat.write(nb, root / "_build" / "executed" / size / "chapters" / f"{name}.ipynb")
    (root / "chapters" / "08_log.md").write_text("# The log\n\nNo code here.\n")
    return root


def test_a_markdown_page_is_copied_once_and_gets_no_size_pages(tmp_path):
    root = _book_root(tmp_path)
    assert bookbuild.toc_chapters(root) == ["chapters/00_intro", "chapters/01_chapter"]
    assert bookbuild.markdown_pages(root) == ["chapters/08_log"]
    src = bookbuild.assemble(root, ["tiny", "small"])
    assert (src / "chapters" / "08_log.md").read_text() == "# The log\n\nNo code here.\n"
    assert not list(src.rglob("sizes/*/08_log*"))
    assert (src / "chapters" / "sizes" / "tiny" / "01_chapter.ipynb").exists()


def test_other_sizes_are_outside_the_toc_the_same_way_for_every_chapter(tmp_path):
    """Previous/Next chain the default size's pages only: the toc is the repository's, and every
    other size's page, the root page's included, is an orphan reached from its switcher."""
    import yaml

    root = _book_root(tmp_path)
    src = bookbuild.assemble(root, ["tiny", "small"])
    assert yaml.safe_load((src / "_toc.yml").read_text()) == yaml.safe_load((root / "_toc.yml").read_text())
    for name in ("00_intro", "01_chapter"):
        other = nbformat.read(src / "chapters" / "sizes" / "tiny" / f"{name}.ipynb", as_version=4)
        default = nbformat.read(src / "chapters" / f"{name}.ipynb", as_version=4)
        assert other.metadata.get("orphan") is True and "orphan" not in default.metadata
        assert f"[tiny](sizes/tiny/{name}.ipynb)" in default.cells[0].source
        assert f"[small](../../{name}.ipynb)" in other.cells[0].source
    assert bookbuild.load_config(src)["only_build_toc_files"] is False  # orphans are built too


# ------------------------------------------------------------------ papermill, end to end

def _papermill_error(tmp_path, size: str):
    """The one error output of chapter 02 executed by papermill at ``size`` (which must stop it)."""
    import papermill as pm

    src = ROOT / "chapters" / "02_argument1_phase_change.ipynb"
    shutil.copy(src, tmp_path / "c.ipynb")
    with pytest.raises(pm.PapermillExecutionError):
        pm.execute_notebook(str(tmp_path / "c.ipynb"), str(tmp_path / "out.ipynb"),
                            parameters={"size": size}, kernel_name="python3", progress_bar=False,
                            cwd=str(src.parent))
    out = nbformat.read(tmp_path / "out.ipynb", as_version=4)
    errors = [o for c in out.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]
    assert len(errors) == 1
    return errors[0]


@pytest.mark.slow
def test_papermill_unknown_size_stops_with_one_line(tmp_path):
    """What a reader sees after `papermill ... -p size huge`: one line naming the valid sizes."""
    error = _papermill_error(tmp_path, "huge")
    assert error.ename == "SizeError"
    assert error.traceback == ["SizeError: unknown size 'huge'; choose one of: tiny, small, base"]
    assert json.dumps(error.traceback).count("\\n") == 0


@pytest.mark.slow
def test_papermill_size_without_a_run_store_stops_with_one_line(tmp_path):
    """A size that is offered nowhere here (no data/base): one line, no traceback, with the build command."""
    size = next(s for s in SIZES if s not in book.chapter.chapter_sizes())
    error = _papermill_error(tmp_path, size)
    assert error.ename == "SizeError" and len(error.traceback) == 1 and "\n" not in error.traceback[0]
    assert "not published" in error.evalue and f"`{book.chapter.build_command(size)}`" in error.evalue


def test_make_chapters_only_re_executes_the_chapters_named_by_prefix(capsys):
    chapters = ["chapters/00_introduction", "chapters/03_argument2_smeared_keys", "chapters/05_argument4_abstract"]
    assert bookbuild.select_chapters(chapters) == chapters
    assert bookbuild.select_chapters(chapters, ["05", "03"]) == chapters[1:]
    with pytest.raises(ValueError, match="no chapter starts with '9'.*00_introduction"):
        bookbuild.select_chapters(chapters, ["03", "9"])
    assert bookbuild.main(["chapters", "99_nothing"]) == 2  # before executing anything
    assert capsys.readouterr().err.startswith("error: no chapter starts with '99_nothing'")
