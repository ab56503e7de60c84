"""The Colab path's fast parts: the Colab cell's and ensure_data's one-line failures, and the
pieces of scripts/check_colab.py that judge a run (the site's links, the set-up cells, the
claims). The path itself runs end to end in `make check-colab` (minutes; not in `pytest tests`)."""

from __future__ import annotations

import importlib.util
import sys
import types

import nbformat
import pytest

from induction_heads import book
from induction_heads.book import build as bookbuild
from induction_heads.book.build import ROOT, load_config, size_page, toc_chapters
from induction_heads.engine.config import OneLineError


def _load_check_colab():
    spec = importlib.util.spec_from_file_location("check_colab", ROOT / "scripts" / "check_colab.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


cc = _load_check_colab()


@pytest.fixture
def in_colab(monkeypatch):
    """What the Colab-like kernel has: a module named google.colab (the chapters look at nothing else)."""
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))


# --------------------------------------------------------------------------- the Colab cell

def test_colab_cell_fails_at_clone_with_one_line(in_colab, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("INDUCTION_HEADS_REPO", (tmp_path / "no-such-repo.git").as_uri())
    monkeypatch.setenv("INDUCTION_HEADS_CHECKOUT", str(tmp_path / "checkout"))
    path = list(sys.path)
    with pytest.raises(Exception) as err:
        exec(compile(bookbuild.colab_cell_source(load_config()), "<colab cell>", "exec"), {})
    assert type(err.value).__name__ == "ColabSetupError"
    assert str(err.value).startswith("Colab set-up failed at step 'clone': git could not clone file://")
    assert err.value._render_traceback_() == [f"ColabSetupError: {err.value}"]  # one line in a notebook
    assert "does not appear to be a git repository" in capsys.readouterr().err  # git's own lines, above it
    assert sys.path == path and not (tmp_path / "checkout" / ".git" / "colab-ready").exists()


def test_ensure_data_fails_at_data_with_one_line(monkeypatch, tmp_path):
    monkeypatch.setenv("INDUCTION_HEADS_DATA", str(tmp_path / "data"))  # data/<size> not there yet
    monkeypatch.setenv(book.chapter.CHECKOUT_ENV, str(tmp_path / "not-a-clone"))
    (tmp_path / "not-a-clone").mkdir()
    with pytest.raises(OneLineError, match=r"^Colab set-up failed at step 'data': git could not fetch data/tiny \("):
        book.ensure_data("tiny")


def test_ensure_data_fetches_into_the_clone_whatever_the_working_folder_holds(monkeypatch, tmp_path):
    (tmp_path / "data" / "tiny" / "zoo").mkdir(parents=True)  # ./data: where data_dir() falls back
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("INDUCTION_HEADS_DATA", raising=False)
    monkeypatch.setenv(book.chapter.CHECKOUT_ENV, str(tmp_path / "not-a-clone"))
    (tmp_path / "not-a-clone").mkdir()
    with pytest.raises(OneLineError, match="step 'data'"):  # it tried to fetch
        book.ensure_data("tiny")


def test_ensure_data_does_nothing_without_a_clone(monkeypatch, tmp_path):
    monkeypatch.delenv(book.chapter.CHECKOUT_ENV, raising=False)
    monkeypatch.setenv("INDUCTION_HEADS_DATA", str(tmp_path / "data"))
    book.ensure_data("tiny")
    assert not (tmp_path / "data").exists()


# ------------------------------------------------------------------------------ the site

def _site(tmp_path, link_of):
    """A built site's shape: every chapter page at every size, a Markdown page and the index."""
    config = load_config()
    chapters, sizes = toc_chapters(), ["small", "tiny"]
    for chapter in chapters:
        for size in sizes:
            page = tmp_path / f"{size_page(chapter, size)}.html"
            page.parent.mkdir(parents=True, exist_ok=True)
            page.write_text(f'<a href="{link_of(config, chapter, size)}" class="btn">Colab</a>')
    (tmp_path / "index.html").write_text("<p>no launch button</p>")
    (tmp_path / "chapters" / "08_decisions.html").write_text("<p>Markdown: no launch button</p>")
    return config, chapters, sizes


def test_expected_colab_link_points_at_the_chapter_on_the_branch():
    cfg = {"repository": {"url": "https://github.com/someone/book/", "branch": "v1.2.0", "path_to_book": ""},
           "launch_buttons": {"colab_url": "https://colab.research.google.com"}}
    assert (cc.expected_colab_link(cfg, "chapters/01_methods")
            == "https://colab.research.google.com/github/someone/book/blob/v1.2.0/chapters/01_methods.ipynb")


def test_site_links_pass_when_every_chapter_page_opens_its_notebook(tmp_path):
    config, chapters, sizes = _site(tmp_path, lambda cfg, c, s: cc.expected_colab_link(cfg, c))
    assert cc.check_site_links(tmp_path, config, chapters, sizes) == len(chapters) * len(sizes)


def test_site_links_fail_on_a_size_page_opening_its_own_notebook(tmp_path):
    def link(cfg, chapter, size):
        return cc.expected_colab_link(cfg, size_page(chapter, size))  # what _fix_colab_links mends

    config, chapters, sizes = _site(tmp_path, link)
    with pytest.raises(cc.CheckFailed, match=r"sizes/tiny/\w+\.html links Colab to .*sizes/tiny") as err:
        cc.check_site_links(tmp_path, config, chapters, sizes)
    assert err.value.step == "site"


def test_site_links_fail_on_another_branch_and_on_a_page_that_is_no_chapter(tmp_path):
    config, chapters, sizes = _site(tmp_path, lambda cfg, c, s: cc.expected_colab_link(cfg, c).replace("/main/", "/dev/"))
    with pytest.raises(cc.CheckFailed, match="/blob/dev/"):
        cc.check_site_links(tmp_path, config, chapters, sizes)
    config, chapters, sizes = _site(tmp_path, lambda cfg, c, s: cc.expected_colab_link(cfg, c))
    (tmp_path / "index.html").write_text(f'<a href="{cc.expected_colab_link(config, chapters[1])}">x</a>')
    with pytest.raises(cc.CheckFailed, match="^index.html links Colab"):
        cc.check_site_links(tmp_path, config, chapters, sizes)


def test_site_check_needs_a_built_site(tmp_path):
    with pytest.raises(cc.CheckFailed, match="run `make book` first"):
        cc.check_site_links(tmp_path, load_config(), toc_chapters(), ["small"])


# ------------------------------------------------------------------------ the chapter runs

@pytest.mark.parametrize("chapter", toc_chapters())
def test_setup_cells_end_at_setup_chapter_then_probe(chapter):
    nb = nbformat.read(ROOT / f"{chapter}.ipynb", as_version=4)
    cut = cc.setup_cells(nb)
    code = [c for c in cut.cells if c.cell_type == "code"]
    assert bookbuild.COLAB_TAG in code[0].metadata.tags and "parameters" in code[1].metadata.tags
    assert cc.SETUP_CALL in code[-2].source and cc.PROBE_TAG.strip() in code[-1].source
    compile(code[-1].source, "<probe>", "exec")


def _printed(*lines: str) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("")
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="\n".join(lines) + "\n")]
    nb.cells = [cell]
    return nb


def test_claim_lines_keep_verdict_claim_and_numbers():
    nb = _printed("a table", "PASS loss fell (first=6.238, final=4.101)", "DEVIATION heads (in layer 2) (n=3)",
                  "NOT ASSERTED at size 'tiny' (a pipeline smoke size): x (a=1)")
    assert cc.claim_lines(nb) == [("PASS", "loss fell", "first=6.238, final=4.101"),
                                  ("DEVIATION", "heads (in layer 2)", "n=3")]


def test_claim_lines_read_a_displayed_claim_on_many_models():
    """book.claim displays its verdict line and the per-model lines (indented) as text/plain."""
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("")
    cell.outputs = [nbformat.v4.new_output("display_data", data={
        "text/plain": "PASS 2/2 models: x\n  PASS a (s=1.000)\n  PASS b (s=2.000)", "text/html": "<details>"})]
    nb.cells = [cell]
    assert cc.claim_lines(nb) == [("PASS", "2/2 models: x", ""), ("PASS", "a", "s=1.000"), ("PASS", "b", "s=2.000")]


def test_compare_claims_counts_same_numbers_and_fails_on_another_verdict():
    run = cc.Run("chapters/x", "small", "whole")
    book_nb = _printed("PASS a (x=1.000)", "DEVIATION b (y=2.000)")
    cc.compare_claims(run, _printed("PASS a (x=1.001)", "DEVIATION b (y=2.000)"), book_nb)
    assert run.claims == {"lines": 2, "passed": 1, "deviations": 1, "same_numbers": 1}
    with pytest.raises(cc.CheckFailed, match=r"\('PASS', 'a'\) -> \('FAIL', 'a'\)"):
        cc.compare_claims(run, _printed("FAIL a (x=0.100)", "DEVIATION b (y=2.000)"), book_nb)
    with pytest.raises(cc.CheckFailed, match="prints no claim line"):
        cc.compare_claims(run, book_nb, _printed("no claims here"))


def test_a_failed_run_names_the_colab_cells_step(tmp_path):
    log = tmp_path / "logs" / "x.log"
    log.parent.mkdir()
    log.write_text("papermill's output\n")
    nb = _printed("Collecting transformer-lens==4.3.0")
    nb.cells[0].outputs.append(nbformat.v4.new_output(
        "error", ename="ColabSetupError", traceback=[],
        evalue="Colab set-up failed at step 'install': pip could not install x; run this cell again"))
    failed = cc.failure_line(cc.Run("chapters/01_methods", "tiny", "set-up"), nb, log)
    assert failed.step == "install"
    assert str(failed).startswith("chapters/01_methods at tiny: Colab set-up failed at step 'install': pip could not")
    nb.cells[0].outputs[-1].update(ename="KeyError", evalue="'attn-only-2l'")
    failed = cc.failure_line(cc.Run("chapters/01_methods", "small", "whole"), nb, log)
    assert failed.step == "chapter" and "KeyError: 'attn-only-2l'" in str(failed)
    failed = cc.failure_line(cc.Run("chapters/01_methods", "tiny", "set-up"), None, log)
    assert failed.step == "setup" and "papermill's output" in str(failed)
