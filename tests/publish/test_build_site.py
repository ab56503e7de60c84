"""The published site as the build finishes it (lib/induction_heads/publish/build.py): the citation
and the build's version in the footer, one inline script of each, the other sizes' pages chained
with their sidebar entry, search labelled by size, and the settings and static files it relies on."""

import datetime
import json

import yaml

from induction_heads.publish import build as bookbuild
from induction_heads.publish.build import ROOT

INFO = {"version": "abc1234", "date": "2026-03-04"}


# ------------------------------------------------------------------------ citation and footer

def test_citation_file_names_the_book_and_the_paper_it_reproduces():
    cff = bookbuild.load_citation()
    assert cff["cff-version"] == "1.2.0" and cff["title"] == "Induction Heads, reproduced"
    assert cff["authors"] == [{"name": "The Induction Heads, reproduced contributors"}]
    paper = cff["references"][0]
    assert paper["title"] == "In-context Learning and Induction Heads" and paper["year"] == 2022
    assert paper["authors"][0] == {"family-names": "Olsson", "given-names": "Catherine"}
    assert "arXiv:2209.11895" in [i["value"] for i in paper["identifiers"]]
    assert "version" not in cff and "date-released" not in cff  # the footer gives each build's


def test_build_info_is_the_commit_and_the_day(tmp_path):
    assert bookbuild.build_info(tmp_path, today=datetime.date(2026, 3, 4)) == {"version": "unknown",
                                                                                "date": "2026-03-04"}
    info = bookbuild.build_info(ROOT)
    assert info["version"].split("-")[0].isalnum() and len(info["version"].split("-")[0]) >= 7
    datetime.date.fromisoformat(info["date"])


def test_footer_says_version_date_and_how_to_cite():
    cff, config = bookbuild.load_citation(), bookbuild.load_config()
    line = bookbuild.cite_as(cff, INFO)
    assert line == ("The Induction Heads, reproduced contributors (2026). Induction Heads, reproduced "
                    "(version abc1234, built 2026-03-04). https://induction-heads-reproduced.github.io/induction-heads/")
    footer = bookbuild.footer_html(cff, INFO, config)
    assert "Version <a href=\"https://github.com/induction-heads-reproduced/induction-heads/tree/abc1234\">" in footer
    assert "built 2026-03-04" in footer and "Cite as: The Induction Heads" in footer
    assert "/blob/main/CITATION.cff" in footer
    site = bookbuild.site_config(config, cff, INFO)
    assert site["author"] == "The Induction Heads, reproduced contributors"
    assert site["html"]["extra_footer"] == footer and "extra_footer" not in config["html"]  # a copy


def test_the_config_names_the_authors_as_the_citation_does():
    assert bookbuild.load_config()["author"] == bookbuild._names(bookbuild.load_citation())


# ----------------------------------------------------------------------- the HTML, finished

def test_a_repeated_inline_script_is_written_once():
    """Sphinx 7.4 writes sphinx-thebe's `const THEBE_JS_URL` twice: a SyntaxError on every page."""
    thebe = '    <script>const THEBE_JS_URL = "x"; const thebe_selector = ".cell"</script>\n'
    page = ("<head>\n" + thebe + '    <script async="async" src="a.js"></script>\n' + thebe
            + '    <script src="a.js"></script>\n    <script>var y = 1;</script>\n</head>')
    fixed = bookbuild.dedupe_inline_scripts(page)
    assert fixed.count("THEBE_JS_URL") == 1 and fixed.count('src="a.js"') == 2 and "var y = 1" in fixed
    assert bookbuild.dedupe_inline_scripts(fixed) == fixed


def test_build_placeholders_are_filled():
    html = '<p>Version <span class="ih-build-version"></span> of <span class="ih-build-date"></span>; ' \
           '<span class="ih-cite-as"></span></p>'
    out = bookbuild.fill_build_info(html, INFO, "A & B (2026).")
    assert out == ('<p>Version <span class="ih-build-version">abc1234</span> of <span class="ih-build-date">'
                   '2026-03-04</span>; <span class="ih-cite-as">A &amp; B (2026).</span></p>')


def _page(prefix: str, current: str | None = None) -> str:
    """A page as Sphinx writes it, reduced to its sidebar and its Previous/Next area (an orphan's:
    empty); links are relative to the page's folder by ``prefix``."""
    def li(name, title):
        if name == current:
            return f'<li class="toctree-l1 current active"><a class="current reference internal" href="#">{title}</a></li>'
        return f'<li class="toctree-l1"><a class="reference internal" href="{prefix}{name}.html">{title}</a></li>'

    return (f'<nav class="bd-links bd-docs-nav" aria-label="Main">\n'
            f'<ul class="nav bd-sidenav bd-sidenav__home-link">\n<li class="toctree-l1">\n'
            f'  <a class="reference internal" href="{prefix}00_intro.html">\n   The intro\n  </a>\n</li></ul>\n'
            f'<ul class="nav bd-sidenav">\n{li("01_chapter", "A chapter")}\n{li("08_log", "The log")}\n</ul>\n</nav>\n'
            '<footer class="prev-next-footer d-print-none">\n<div class="prev-next-area">\n</div>\n</footer>')


def test_another_sizes_page_is_chained_and_its_sidebar_entry_is_marked():
    pages = {"chapters/00_intro.html": "chapters/sizes/tiny/00_intro.html",
             "chapters/01_chapter.html": "chapters/sizes/tiny/01_chapter.html"}
    order = ["chapters/00_intro.html", "chapters/01_chapter.html", "chapters/08_log.html"]
    chain = bookbuild.size_order(order, pages)
    assert chain == ["chapters/sizes/tiny/00_intro.html", "chapters/sizes/tiny/01_chapter.html", "chapters/08_log.html"]
    titles = bookbuild.sidebar_titles(_page("", current="08_log"), "chapters/08_log.html")
    assert titles == {"chapters/00_intro.html": "The intro", "chapters/01_chapter.html": "A chapter",
                      "chapters/08_log.html": "The log"}
    out = bookbuild.chain_size_page(_page("../../"), "chapters/sizes/tiny/01_chapter.html", chain, pages, titles)
    assert 'class="left-prev"\n       href="00_intro.html"' in out and "<p class=\"prev-next-title\">The intro</p>" in out
    assert 'class="right-next"\n       href="../../08_log.html"' in out and "The log</p>" in out
    assert '<li class="toctree-l1 current active"><a class="current reference internal" href="#">A chapter</a>' in out
    assert 'href="00_intro.html">\n   The intro' in out  # the sidebar leads to the same size's pages
    assert 'href="../../08_log.html">The log' in out  # and to the one page every size shares
    first = bookbuild.chain_size_page(_page("../../"), "chapters/sizes/tiny/00_intro.html", chain, pages, titles)
    assert "left-prev" not in first and 'href="01_chapter.html"' in first
    assert '<li class="toctree-l1 current active">\n  <a class="current reference internal" href="#">' in first


def test_search_labels_each_chapters_pages_with_their_size():
    index = {"docnames": ["chapters/01_a", "chapters/08_log", "chapters/sizes/tiny/01_a"],
             "titles": ["A", "The log", "A"], "terms": {}}
    js = "Search.setIndex(" + json.dumps(index) + ")"
    out = bookbuild.label_search_titles(js, ["tiny", "small"], ["chapters/01_a"], default="small")
    assert json.loads(out[len("Search.setIndex("):-1])["titles"] == ["A (size: small)", "The log", "A (size: tiny)"]
    assert bookbuild.label_search_titles(js, ["small"], ["chapters/01_a"], default="small") == js


def test_finish_site_on_a_built_site(tmp_path):
    """The whole pass on a site of two sizes: the root page and a chapter per size and a shared
    Markdown page last."""
    root, html = tmp_path, tmp_path / "_build" / "html"
    (root / "chapters").mkdir(parents=True)
    (root / "_toc.yml").write_text("format: jb-book\nroot: chapters/00_intro\n"
                                   "chapters:\n  - file: chapters/01_chapter\n  - file: chapters/08_log\n")
    (root / "chapters" / "08_log.md").write_text("# The log\n")
    for name in ("00_intro", "01_chapter"):
        (root / "chapters" / f"{name}.ipynb").write_text("{}")
    (html / "chapters" / "sizes" / "tiny").mkdir(parents=True)
    script = "<script>const THEBE_JS_URL = 1</script>\n"
    for name in ("00_intro", "01_chapter", "08_log"):
        (html / "chapters" / f"{name}.html").write_text(script * 2 + _page("", current=name))
    for name in ("00_intro", "01_chapter"):
        (html / "chapters" / "sizes" / "tiny" / f"{name}.html").write_text(
            script * 2 + _page("../../") + f'<a href="https://colab/x/chapters/sizes/tiny/{name}.ipynb">')
    index = {"docnames": ["chapters/00_intro", "chapters/sizes/tiny/00_intro"], "titles": ["I", "I"]}
    (html / "searchindex.js").write_text("Search.setIndex(" + json.dumps(index) + ")")
    bookbuild.finish_site(html, root, ["tiny", bookbuild.DEFAULT_SIZE], INFO, "cite")
    tiny = (html / "chapters" / "sizes" / "tiny" / "01_chapter.html").read_text()
    assert tiny.count("THEBE_JS_URL") == 1 and "colab/x/chapters/01_chapter.ipynb" in tiny
    assert 'href="00_intro.html"' in tiny and "right-next" in tiny and "current active" in tiny
    assert (html / "chapters" / "08_log.html").read_text().count("THEBE_JS_URL") == 1
    assert "(size: tiny)" in (html / "searchindex.js").read_text()


def test_executed_sizes_are_those_with_every_chapter(tmp_path):
    (tmp_path / "chapters").mkdir()
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: chapters/00_intro\nchapters:\n  - file: chapters/01_a\n")
    for name in ("00_intro", "01_a"):
        (tmp_path / "chapters" / f"{name}.ipynb").write_text("{}")
        for size in ("small", "tiny"):
            (tmp_path / "_build" / "executed" / size / "chapters").mkdir(parents=True, exist_ok=True)
            if (size, name) != ("tiny", "01_a"):
                (tmp_path / "_build" / "executed" / size / "chapters" / f"{name}.ipynb").write_text("{}")
    assert bookbuild.executed_sizes(tmp_path) == ["small"]


# ------------------------------------------------------------------ switcher, settings, static

def test_the_switcher_names_only_the_sizes_built_and_says_how_to_run_one_in_colab():
    ch = "chapters/02_argument1_phase_change"
    main = bookbuild.switcher_markdown(ch, "small", ["tiny", "small"], "small")
    assert main == "Model size: [tiny](sizes/tiny/02_argument1_phase_change.ipynb) · **small** (this page)"
    assert "base" not in main and "not trained" not in main
    tiny = bookbuild.switcher_markdown(ch, "tiny", ["tiny", "small"], "small")
    assert tiny.startswith("Model size: **tiny** (this page) · [small](../../02_argument1_phase_change.ipynb). ")
    assert 'this chapter opens at `small`: set `size = "tiny"` in its parameters cell' in tiny
    assert bookbuild.switcher_markdown(ch, "small", ["small"], "small") == "Model size: **small** (this page)"


def test_settings_and_static_files_the_site_relies_on():
    config = bookbuild.load_config()
    assert config["sphinx"]["config"]["html_context"]["default_mode"] == "auto"
    assert (ROOT / config["html"]["favicon"]).is_file()
    js = (ROOT / "_static" / "book.js").read_text()
    for needed in ("primary-toggle", "secondary-toggle", "ih-zoomable", "ih-wide", "ih-scroll-hint", "ih-token"):
        assert needed in js
    css = (ROOT / "_static" / "verdict-strip.css").read_text()
    for rule in (".ih-verdict-strip", "a.ih-verdict", ".ih-badge-reproduced", ".ih-badge-partly",
                 ".ih-badge-differs", "repeat(6,", "repeat(2,"):
        assert rule in css
    assert yaml.safe_load((ROOT / "CITATION.cff").read_text())["title"] == config["title"]
