"""The Colab path's fast parts: the Colab cell's step lines and one-line failures (against a local
stand-in repository, pip replaced by a script), ensure_data's, the sizes a chapter offers, and the
pieces of :mod:`induction_heads.publish.check_colab` that judge a run (the site's links, the set-up cells and their
step lines, the unpublished size's line, the claims). The path itself runs end to end in
`make check-colab` (minutes; not in `pytest tests`)."""

from __future__ import annotations

import subprocess
import sys
import types
from pathlib import Path

import nbformat
import pytest

from induction_heads import book
from induction_heads.publish import build as bookbuild
from induction_heads.publish import check_colab as cc
from induction_heads.publish.build import ROOT, load_config, size_page, toc_chapters
from induction_heads.engine.config import OneLineError, SizeError



@pytest.fixture
def in_colab(monkeypatch):
    """What the Colab-like kernel has: a module named google.colab (the chapters look at nothing else)."""
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))


# --------------------------------------------------------------------------- the Colab cell

def _git(*args: str, cwd: Path) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=cwd, check=True, capture_output=True)


def _served_repo(tmp_path: Path, sizes: tuple[str, ...] = ("tiny",)) -> Path:
    """A repository shaped like the book's: a pin file, lib/, and data/<size> for ``sizes``
    (data/base lies in the folder, uncommitted), on branch main, serving partial clones."""
    repo = tmp_path / "served"
    for rel, text in [("requirements.txt", "transformer-lens==4.3.0\nnumpy==2.4.0\n"),
                      ("lib/pkg/__init__.py", ""), *((f"data/{s}/eval.txt", s) for s in sizes)]:
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_text(text)
    _git("init", "-q", "-b", "main", cwd=repo)
    _git("add", ".", cwd=repo)
    _git("commit", "-q", "-m", "book", cwd=repo)
    _git("config", "uploadpack.allowFilter", "true", cwd=repo)
    (repo / "data" / "base").mkdir()
    (repo / "data" / "base" / "eval.txt").write_text("not committed")
    return repo


def _fake_pip(tmp_path: Path) -> Path:
    """Stands in for ``python -m pip install ... --report FILE ...``: writes a report of two
    installed packages, warns on stderr, succeeds."""
    fake = tmp_path / "fake-python"
    fake.write_text('#!/bin/sh\nwhile [ $# -gt 0 ]; do [ "$1" = --report ] && echo \'{"install": [{}, {}]}\' > "$2"; '
                    'shift; done\necho "WARNING: pip says something worth seeing" >&2\n')
    fake.chmod(0o755)
    return fake


def _run_colab_cell(config: dict | None = None) -> None:
    exec(compile(bookbuild.colab_cell_source(config or load_config()), "<colab cell>", "exec"), {})


def test_colab_cell_prints_each_step_with_its_time_and_size_and_shows_pips_warnings(in_colab, monkeypatch, tmp_path,
                                                                                    capsys):
    monkeypatch.setenv("INDUCTION_HEADS_REPO", _served_repo(tmp_path).as_uri())
    monkeypatch.setenv("INDUCTION_HEADS_CHECKOUT", str(tmp_path / "checkout"))
    monkeypatch.setattr(sys, "executable", str(_fake_pip(tmp_path)))
    monkeypatch.setattr(sys, "path", list(sys.path))
    _run_colab_cell()
    out = capsys.readouterr()
    steps = cc.step_lines(out.out)
    assert list(steps) == ["clone", "install"] and all(s["started"] and s["s"] >= 0 for s in steps.values())
    assert steps["clone"]["size"].endswith("MB fetched") and steps["install"]["size"] == "2 packages installed"
    assert "WARNING: pip says something worth seeing" in out.err  # shown although pip succeeded
    assert (tmp_path / "checkout" / "lib" / "pkg").is_dir() and sys.path[0] == str(tmp_path / "checkout" / "lib")
    _run_colab_cell()  # run again: the set-up is done, and the cell says so
    again = capsys.readouterr().out
    assert not cc.step_lines(again) and "done earlier" in again


def test_colab_cell_fails_at_clone_with_one_line(in_colab, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("INDUCTION_HEADS_REPO", (tmp_path / "no-such-repo.git").as_uri())
    monkeypatch.setenv("INDUCTION_HEADS_CHECKOUT", str(tmp_path / "checkout"))
    path = list(sys.path)
    with pytest.raises(Exception) as err:
        _run_colab_cell()
    assert type(err.value).__name__ == "ColabSetupError"
    assert str(err.value).startswith("Colab set-up failed at step 'clone': git could not clone file://")
    assert err.value._render_traceback_() == [f"ColabSetupError: {err.value}"]  # one line in a notebook
    out = capsys.readouterr()
    assert "does not appear to be a git repository" in out.err  # git's own lines, above it
    assert cc.step_lines(out.out) == {"clone": {"started": True}}  # started, never ended
    assert sys.path == path and not (tmp_path / "checkout" / ".git" / "colab-ready").exists()


def test_a_failed_clone_gives_gits_reason_then_the_likely_causes_in_order(in_colab, monkeypatch, tmp_path):
    monkeypatch.setenv("INDUCTION_HEADS_REPO", _served_repo(tmp_path).as_uri())
    monkeypatch.setenv("INDUCTION_HEADS_CHECKOUT", str(tmp_path / "checkout"))
    config = {"repository": {"url": "https://github.com/someone/book", "branch": "no-such-branch"}}
    with pytest.raises(Exception) as err:
        _run_colab_cell(config)
    line = str(err.value)
    assert "\n" not in line
    reason, causes = line.index("no-such-branch not found"), line.index("likely causes, in order:")  # git's words first
    network, address, branch = (line.index(w, causes) for w in ("network", "address", "branch"))
    assert reason < causes < network < address < branch


def test_ensure_data_prints_the_data_step_with_its_time_and_size(in_colab, monkeypatch, tmp_path, capsys):
    checkout = tmp_path / "checkout"
    subprocess.run(["git", "clone", "-q", "--depth=1", "--filter=blob:none", "--sparse",
                    _served_repo(tmp_path).as_uri(), str(checkout)], check=True)
    monkeypatch.setenv(book.chapter.CHECKOUT_ENV, str(checkout))
    monkeypatch.setattr(book.chapter, "check_store", lambda size: None)  # the stand-in repository has no manifests
    book.ensure_data("tiny")
    assert (checkout / "data" / "tiny" / "eval.txt").read_text() == "tiny"
    steps = cc.step_lines(capsys.readouterr().out)
    assert list(steps) == ["data"] and steps["data"]["started"] and "MB fetched" in steps["data"]["size"]


# ------------------------------------------------------------------------------ the sizes

def test_published_sizes_are_read_from_the_repository_not_the_folder(tmp_path):
    repo = _served_repo(tmp_path, sizes=("tiny", "small"))
    assert (repo / "data" / "base").is_dir() and book.chapter.published_sizes(repo) == ["tiny", "small"]
    clone = tmp_path / "clone"  # a sparse clone without data/ knows them too
    subprocess.run(["git", "clone", "-q", "--filter=blob:none", "--sparse", repo.as_uri(), str(clone)], check=True)
    assert not (clone / "data").exists() and book.chapter.published_sizes(clone) == ["tiny", "small"]
    plain = tmp_path / "unpacked"  # not a git repository: the data/<size> folders there
    (plain / "data" / "small").mkdir(parents=True)
    assert book.chapter.published_sizes(plain) == ["small"]


def test_an_unpublished_size_stops_the_chapter_with_one_line(monkeypatch, tmp_path):
    monkeypatch.setenv("INDUCTION_HEADS_DATA", str(tmp_path / "data"))  # no run store here
    with pytest.raises(SizeError) as err:
        book.setup_chapter("base")
    line = str(err.value)
    assert err.value._render_traceback_() == [f"SizeError: {line}"] and "\n" not in line
    assert "GPU zoo" in line and "not published" in line and line.endswith("`make zoo SIZE=base DEVICE=cuda`")
    assert str(book.chapter.unpublished_size_error("small", ["tiny"])).endswith("`make zoo SIZE=small`, or choose tiny")
    assert not book.chapter.size_here("tiny") and book.chapter.chapter_sizes() == []


def test_in_colab_the_sizes_are_those_the_clone_publishes(in_colab, monkeypatch, tmp_path):
    checkout = tmp_path / "checkout"
    subprocess.run(["git", "clone", "-q", "--filter=blob:none", "--sparse", _served_repo(tmp_path).as_uri(),
                    str(checkout)], check=True)
    monkeypatch.setenv(book.chapter.CHECKOUT_ENV, str(checkout))
    assert book.chapter.chapter_sizes() == ["tiny"]
    with pytest.raises(SizeError, match="not published.*choose tiny$"):
        book.setup_chapter("small")
    assert not (checkout / "data").exists()  # stopped before any fetch


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
                  book.chapter.smoke_line("tiny", "would hold", "x (a=1)"), "  would not hold at this size: b (a=1)")
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


def _setup_run(colab_lines: list[str], setup_lines: list[str]) -> nbformat.NotebookNode:
    """An executed set-up: the Colab cell and the setup_chapter cell with what they printed."""
    nb = nbformat.v4.new_notebook()
    colab = nbformat.v4.new_code_cell("# colab")
    colab.metadata["tags"] = [bookbuild.COLAB_TAG]
    setup = nbformat.v4.new_code_cell(f"spec = {cc.SETUP_CALL}")
    for cell, lines in ((colab, colab_lines), (setup, setup_lines)):
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="".join(f"{ln}\n" for ln in lines))]
    nb.cells = [colab, setup]
    return nb


def _step(name: str, seconds: float | None = None, size: str = "1.0 MB fetched") -> str:
    if seconds is None:
        return book.chapter.STEP_START.format(step=name, what="doing it")
    return book.chapter.STEP_DONE.format(step=name, seconds=seconds, size=size)


def test_check_steps_needs_a_start_and_an_end_line_for_every_step():
    lines = [_step("clone"), _step("clone", 1.25), _step("install"), _step("install", 20.0, "9 packages installed")]
    run = cc.Run("chapters/x", "tiny", "set-up")
    cc.check_steps(run, _setup_run(lines, [_step("data"), _step("data", 2.0, "14.7 MB fetched, 16.5 MB on disk")]))
    assert run.steps == {"clone": {"s": 1.2, "size": "1.0 MB fetched"}, "install": {"s": 20.0, "size": "9 packages installed"},
                         "data": {"s": 2.0, "size": "14.7 MB fetched, 16.5 MB on disk"}}
    with pytest.raises(cc.CheckFailed, match="step 'install' printed no end line"):
        cc.check_steps(run, _setup_run(lines[:3], [_step("data"), _step("data", 2.0)]))
    with pytest.raises(cc.CheckFailed, match="step 'data' printed no start line") as err:
        cc.check_steps(run, _setup_run(lines, []))
    assert err.value.step == "setup"


def _stopped(ename: str, evalue: str, traceback: list[str]) -> nbformat.NotebookNode:
    nb = _setup_run([], [])
    nb.cells[1].outputs.append(nbformat.v4.new_output("error", ename=ename, evalue=evalue, traceback=traceback))
    return nb


def test_check_unpublished_wants_one_size_error_line_naming_the_build(tmp_path):
    run, log = cc.Run("chapters/00_introduction", "base", "set-up"), tmp_path / "x.log"
    e = book.chapter.unpublished_size_error("base", ["tiny", "small"])
    good = _stopped("SizeError", str(e), e._render_traceback_())
    assert cc.check_unpublished(run, 1, good, log).startswith("SizeError: size 'base'")
    with pytest.raises(cc.CheckFailed, match="did not stop"):
        cc.check_unpublished(run, 0, _setup_run([], []), log)
    long = _stopped("RunStoreError", "no run store at data/base", ["Traceback", "...", "RunStoreError: no run store"])
    with pytest.raises(cc.CheckFailed, match="expected one SizeError line"):
        cc.check_unpublished(run, 1, long, log)


def test_the_unpublished_size_is_read_from_the_served_repository(tmp_path):
    assert cc.unpublished_size(_served_repo(tmp_path, sizes=("tiny", "small"))) == "base"
