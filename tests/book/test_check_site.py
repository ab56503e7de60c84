"""The reader's checks of scripts/check_site.py: their rules on hand-made measurements, and the
browser probes on a hand-made page (where Chromium is installed: CI installs it first)."""

import base64
import importlib.util
import zlib
import struct

import pytest
import yaml

from induction_heads.book.build import ROOT

_spec = importlib.util.spec_from_file_location("check_site", ROOT / "scripts" / "check_site.py")
check_site = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(check_site)


def _block(scroll, client, kind="text", overflow_x="auto", visible=True, text="x"):
    return {"kind": kind, "scroll": scroll, "client": client, "white_space": "pre",
            "overflow_x": overflow_x, "visible": visible, "text": text}


# ---------------------------------------------------------------------------------- the rules

def test_overflowing_flags_text_wider_than_its_box_and_html_that_spills():
    fits, wrapped_edge = _block(600, 600), _block(601, 600)  # one px of rounding is not overflow
    clipped = _block(900, 600)  # a printed line behind a scroll bar is hidden all the same
    table_scrolls = _block(900, 600, kind="html", overflow_x="auto")
    table_spills = _block(900, 600, kind="html", overflow_x="visible")
    blocks = [fits, wrapped_edge, clipped, table_scrolls, table_spills]
    assert check_site.overflowing(blocks) == [clipped, table_spills]


def test_pass_lines_counts_lines_that_start_with_pass():
    text = "PASS a\n  PASS b\nFAIL c\nnot PASS d\nPASSED e\nPASS"
    assert check_site.pass_lines(text) == 3


def test_crowded_counts_only_unfolded_blocks_over_the_limit():
    many = "\n".join(["PASS x"] * (check_site.MAX_PASS_LINES + 1))
    enough = "\n".join(["PASS x"] * check_site.MAX_PASS_LINES)
    shown, folded, fine = _block(1, 1, text=many), _block(1, 1, text=many, visible=False), _block(1, 1, text=enough)
    assert check_site.crowded([shown, folded, fine]) == [shown]


def test_uncaptioned_lists_figures_without_caption_text():
    captions = [{"src": "a.png", "caption": "Figure 1. Loss."}, {"src": "b.png", "caption": ""}]
    assert check_site.uncaptioned(captions) == ["b.png"]


def test_toc_pages_reads_the_reading_order():
    toc = yaml.safe_load("format: jb-book\nroot: chapters/00_intro\nchapters:\n  - file: chapters/01_a\n"
                         "    sections:\n      - file: chapters/01_a_more\n  - file: chapters/02_b\n")
    assert check_site.toc_pages(toc) == ["chapters/00_intro.html", "chapters/01_a.html",
                                         "chapters/01_a_more.html", "chapters/02_b.html"]
    book = check_site.toc_pages(yaml.safe_load((ROOT / "_toc.yml").read_text()))
    assert book[0] == "chapters/00_introduction.html" and book[-1] == "chapters/08_decisions.html"


def test_chain_problems_wants_the_toc_order_and_no_size_page_in_the_chain():
    order = ["a.html", "b.html", "c.html"]
    good = {"a.html": (None, "b.html"), "b.html": ("a.html", "c.html"), "c.html": ("b.html", None),
            "sizes/tiny/a.html": (None, None)}
    assert check_site.chain_problems(good, order) == []
    # The bug this check was written for: a default page's Next is another size's page.
    bad = dict(good, **{"a.html": (None, "sizes/tiny/a.html"), "sizes/tiny/a.html": ("a.html", "b.html")})
    problems = check_site.chain_problems(bad, order)
    assert len(problems) == 2 and problems[0].startswith("a.html:") and "sizes/tiny/a.html" in problems[1]
    assert check_site.chain_problems({k: v for k, v in good.items() if k != "c.html"}, order) == [
        "c.html: in the table of contents but not in the site"]


# ------------------------------------------------------------------- the probes, in Chromium

def _png() -> str:
    """A 1x1 PNG as a data URI (an image that loads without a server)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    raw = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(b"\x00\x00")) + chunk(b"IEND", b""))
    return "data:image/png;base64," + base64.b64encode(raw).decode()


LONG = "PASS " + "a-long-number-line " * 40
PAGE = f"""<!doctype html><html><head><style>
  body {{ margin: 0; }} article {{ width: 300px; }}
  pre {{ overflow: auto; white-space: pre; }} .wrap pre {{ white-space: pre-wrap; overflow-wrap: anywhere; }}
</style></head><body><main><article>
<div class="cell_output"><div class="output stream wrap"><pre>{LONG}</pre></div></div>
<div class="cell_output"><div class="output stream"><pre>UNWRAPPED {LONG}</pre></div></div>
<div class="cell_output"><div class="output stream wrap"><pre>{chr(10).join(["PASS check"] * 13)}</pre></div></div>
<details><summary>checks</summary><div class="cell_output"><div class="output stream wrap">
  <pre>{chr(10).join(["PASS folded"] * 20)}</pre></div></div></details>
<div class="cell_output"><figure><img src="{_png()}"><figcaption>Figure 1. A dot.</figcaption></figure>
  <img src="{_png()}"></div>
<div class="prev-next-area"><a class="left-prev" href="a.html">a</a><a class="right-next" href="c.html">c</a></div>
</article></main></body></html>"""


@pytest.fixture(scope="module")
def browser():
    chromium, driver = check_site.find_browser()
    if not (chromium and driver):
        pytest.skip("needs Debian's chromium and chromium-driver (CI installs them)")
    wd = check_site.WebDriver(driver, chromium)
    yield wd
    wd.quit()


def test_probes_measure_a_hand_made_page(browser, tmp_path):
    (tmp_path / "b.html").write_text(PAGE)
    server, base = check_site.serve(tmp_path)
    try:
        browser.viewport(420)
        info = check_site.check_page(browser, f"{base}/b.html")
    finally:
        server.shutdown()
    assert info["width"] == 420
    bad = check_site.overflowing(info["opened"])
    assert len(info["opened"]) == 4 and len(bad) == 1 and bad[0]["text"].startswith("UNWRAPPED")
    assert bad[0]["scroll"] > bad[0]["client"] > 0  # the unwrapped line, and only it
    assert [check_site.pass_lines(b["text"]) for b in check_site.crowded(info["blocks"])] == [13]
    assert [b["visible"] for b in info["blocks"]] == [True, True, True, False]  # folded until opened
    assert [c["caption"] for c in info["captions"]] == ["Figure 1. A dot.", ""]
    assert info["figures"] == 2
    assert (check_site._relative(info["prev"], base), check_site._relative(info["next"], base)) == (
        "a.html", "c.html")


def test_folded_blocks_fold_again_after_measuring(browser, tmp_path):
    """The screenshot shows the page as a reader opens it, not with every block opened."""
    (tmp_path / "b.html").write_text(PAGE)
    server, base = check_site.serve(tmp_path)
    try:
        browser.viewport(1400)
        check_site.check_page(browser, f"{base}/b.html")
        assert browser.run('return document.querySelector("details").open') is False
        assert browser.run("return window.innerWidth") == 1400
    finally:
        server.shutdown()


def _info(blocks=(), captions=(), width=1400):
    return {"width": width, "broken": [], "figures": len(captions), "views": 0, "drawn": 0,
            "captions": list(captions), "blocks": list(blocks), "opened": list(blocks)}


def test_switched_off_checks_count_but_do_not_fail_until_switched_on():
    many = _block(1, 1, text="\n".join(["PASS x"] * 20))
    no_caption = {"src": "a.png", "caption": ""}
    off = check_site.Tally(require_captions=False, limit_pass_lines=False)
    assert off.page("p.html", 1400, _info([many], [no_caption]), 1, []) == []
    assert off.summary()[0].startswith("figures without a caption: 1 on 1 pages")
    assert "1 on 1 pages, 20 lines in the largest; 20 PASS lines" in off.summary()[1]
    on = check_site.Tally(require_captions=True, limit_pass_lines=True)
    assert len(on.page("p.html", 1400, _info([many], [no_caption]), 1, [])) == 2 and len(on.problems) == 2


def test_a_page_fails_on_overflow_and_on_the_wrong_width():
    tally = check_site.Tally(False, False)
    assert tally.page("p.html", 420, _info([_block(900, 380)], width=420), 0, [])[0].startswith(
        "text output 900 px wide in a 380 px box")
    assert tally.page("p.html", 420, _info(width=500), 0, []) == ["laid out 500 px wide"]
