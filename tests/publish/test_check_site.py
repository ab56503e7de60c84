"""The reader's checks of :mod:`induction_heads.publish.check_site`: their rules on hand-made measurements, and the
browser probes on a hand-made page (where Chromium is installed: CI installs it first)."""

import base64
import zlib
import struct

import pytest
import yaml

from induction_heads.publish import check_site
from induction_heads.publish.build import ROOT


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
    assert book[0] == "chapters/00_introduction.html" and book[-2:] == ["chapters/08_decisions.html",
                                                                         "chapters/09_appendix_runs.html"]


def test_chain_problems_wants_the_toc_order_for_every_size():
    order = ["a.html", "b.html", "c.html"]
    good = {"a.html": (None, "b.html"), "b.html": ("a.html", "c.html"), "c.html": ("b.html", None),
            # another size: its own pages in the same order, the shared page c (one for every size) last
            "sizes/tiny/a.html": (None, "sizes/tiny/b.html"), "sizes/tiny/b.html": ("sizes/tiny/a.html", "c.html"),
            "search.html": (None, None)}
    assert check_site.chain_problems(good, order) == []
    # The bug this check was written for: a default page's Next is another size's page.
    bad = dict(good, **{"a.html": (None, "sizes/tiny/a.html")})
    problems = check_site.chain_problems(bad, order)
    assert len(problems) == 1 and problems[0].startswith("a.html:")
    # A size page left out of its chain (as Sphinx leaves an orphan), or chained to the default size.
    bad = dict(good, **{"sizes/tiny/b.html": (None, None)})
    assert check_site.chain_problems(bad, order) == [
        "sizes/tiny/b.html: Previous/Next are (None, None), the table of contents says ('sizes/tiny/a.html', 'c.html')"]
    bad = dict(good, **{"sizes/tiny/a.html": (None, "b.html")})
    assert check_site.chain_problems(bad, order)[0].startswith("sizes/tiny/a.html:")
    # A page in no chain must have no links.
    assert check_site.chain_problems(dict(good, **{"search.html": ("a.html", None)}), order) == [
        "search.html: outside the table of contents but chained (Previous a.html, Next None)"]
    assert check_site.chain_problems({k: v for k, v in good.items() if k != "c.html"}, order) == [
        "c.html: in the table of contents but not in the site"]


def test_size_of_names_another_sizes_page():
    assert check_site.size_of("chapters/sizes/tiny/01_a.html") == ("tiny", "chapters/01_a.html")
    assert check_site.size_of("sizes/base/a.html") == ("base", "a.html")
    assert check_site.size_of("chapters/01_a.html") is None


def _figure(width, natural=751, column=388, outside=0, clipped_by=None, zoomable=False):
    return {"src": "f.png", "width": width, "natural": natural, "column": column, "outside": outside,
            "clipped_by": clipped_by, "zoomable": zoomable}


def test_cropped_and_unzoomable_figures():
    fits, scaled = _figure(388), _figure(372, zoomable=True)
    wider, clipped, out = _figure(751), _figure(380, clipped_by="align-default"), _figure(300, outside=40)
    assert check_site.cropped([fits, scaled, wider, clipped, out]) == [wider, clipped, out]
    small_no_zoom, natural = _figure(372), _figure(751, column=784)
    assert check_site.without_zoom([scaled, small_no_zoom, natural]) == [small_no_zoom]


def _table(wide, scrolls=True, cue=True):
    return {"text": "t", "width": 900, "box": 388, "wide": wide, "scrolls": scrolls, "cue": cue}


def test_uncued_tables_are_wide_ones_without_a_visible_scroll_cue():
    fine, cued = _table(False, cue=False), _table(True)
    silent, spills = _table(True, cue=False), _table(True, scrolls=False, cue=False)
    assert check_site.uncued([fine, cued, silent, spills]) == [silent, spills]


def test_nav_problems_want_each_button_to_open_its_panel():
    dialog = {"before": False, "dialog": True, "links": 9, "after": True}
    wide_sidebar = {"before": True, "dialog": False, "links": 0, "after": False, "back": True}
    dead = {"before": False, "dialog": False, "links": 0, "after": False}
    phone = {"primary-toggle": {"buttons": 1, "sidebar_shown": False, "clicks": [dialog]},
             "secondary-toggle": {"buttons": 1, "sidebar_shown": False, "clicks": [dialog]},
             "zoom": {"open": True, "full": True}}
    assert check_site.nav_problems(phone, 420) == []
    desktop = {"primary-toggle": {"buttons": 1, "sidebar_shown": True, "clicks": [wide_sidebar]},
               "secondary-toggle": {"buttons": 0, "sidebar_shown": True}}  # the contents are on screen
    assert check_site.nav_problems(desktop, 1400) == []
    broken = dict(phone, **{"secondary-toggle": {"buttons": 1, "sidebar_shown": False, "clicks": [dead]}})
    assert check_site.nav_problems(broken, 420)[0].startswith("the contents button does not open its panel")
    empty = dict(phone, **{"primary-toggle": {"buttons": 1, "sidebar_shown": False, "clicks": [dict(dialog, links=0)]}})
    assert check_site.nav_problems(empty, 420) == ["the sidebar button opens an empty panel"]
    assert check_site.nav_problems(dict(phone, **{"primary-toggle": {"buttons": 0, "sidebar_shown": False}}), 420) == [
        "no sidebar button to click and no sidebar panel on screen"]
    assert "Open full size" in check_site.nav_problems(dict(phone, zoom={"open": True, "full": False}), 420)[0]


def test_strip_problems_want_the_verdicts_on_the_first_screen():
    card = {"href": "02.html", "badge": True, "thumbnail": True}
    strip = {"top": 400, "bottom": 620, "screen": 900, "cards": [card] * 6}
    assert check_site.strip_problems(None, 1400) is None  # no strip yet: a note, not a failure
    assert check_site.strip_problems(strip, 1400) == []
    low = dict(strip, top=800, bottom=1000)
    assert check_site.strip_problems(low, 1400) == [
        "the verdict strip ends 1000 px down, below the first screen (900 px)"]
    assert check_site.strip_problems(dict(strip, top=1700, bottom=2300), 420) == []
    assert check_site.strip_problems(dict(strip, top=1900, bottom=2300), 420) == [
        "the verdict strip starts 1900 px down, beyond two screens (1800 px)"]
    bare = dict(strip, cards=[card, dict(card, badge=False, thumbnail=False)])
    assert check_site.strip_problems(bare, 1400) == ["verdict card 2 has no badge or thumbnail"]


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


# ----------------------------------------------- the site's own script and style, in Chromium

def _wide_png(width: int, height: int = 40) -> str:
    """A grey PNG of ``width`` x ``height`` pixels as a data URI."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    raw = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))
    return "data:image/png;base64," + base64.b64encode(raw).decode()


NAMES = "".join(f"<tr><td>attn-only-2l-k-knockout-seed{i}</td><td>{'1.22M-4.16M ' * 3}</td>"
                + "".join(f"<td>{i * 1000}</td>" for _ in range(12)) + "</tr>" for i in range(3))
# The theme as far as the site's script meets it: the theme binds each button's handler to the
# *first* of its class, a hidden one in the site header, and the reader sees the second.
SITE_PAGE = f"""<!doctype html><html><head>
<link rel="stylesheet" href="_static/book.css"><script src="_static/book.js"></script>
<style> body {{ margin: 0; }} .hidden-header {{ display: none; }} article {{ padding: 0 16px; }} </style>
</head><body>
<header class="hidden-header"><button class="primary-toggle">=</button><button class="secondary-toggle">:</button></header>
<div><button class="sidebar-toggle primary-toggle">=</button><button class="sidebar-toggle secondary-toggle">:</button></div>
<dialog id="pst-primary-sidebar-modal"></dialog><dialog id="pst-secondary-sidebar-modal"></dialog>
<div id="pst-primary-sidebar" style="display: none"><a href="a.html">A chapter</a></div>
<div id="pst-secondary-sidebar" style="display: none"><a href="#x">A section</a></div>
<script>
  document.addEventListener("DOMContentLoaded", () => {{
    for (const [kind, dialog, sidebar] of [["primary-toggle", "pst-primary-sidebar-modal", "pst-primary-sidebar"],
                                           ["secondary-toggle", "pst-secondary-sidebar-modal", "pst-secondary-sidebar"]]) {{
      document.querySelector("." + kind).addEventListener("click", () => {{
        const d = document.getElementById(dialog), s = document.getElementById(sidebar);
        d.innerHTML = s.innerHTML; d.showModal();
      }});
    }}
  }});
</script>
<main><article class="bd-article">
<div class="cell_output"><figure><img src="{_wide_png(751)}"><figcaption>Figure 1. Wide.</figcaption></figure></div>
<div class="cell_output"><div class="output text_html"><table class="ih-table"><tr><th>model</th><th>window</th>
  {"<th>n</th>" * 12}</tr>{NAMES}</table></div></div>
<div class="cell_output"><pre style="width: 20ch">PARTLY (not attn-only-2l-d256)</pre></div>
<p>{"the models attn-only-2l-k-knockout-seed1 and smeared-2l-seed2 " * 6}</p>
</article></main></body></html>"""


def _site_page(tmp_path, with_script=True):
    (tmp_path / "_static").mkdir(exist_ok=True)
    for name in ("book.css", "book.js"):
        text = (ROOT / "_static" / name).read_text() if with_script or name == "book.css" else ""
        (tmp_path / "_static" / name).write_text(text)
    (tmp_path / "p.html").write_text(SITE_PAGE)
    return check_site.serve(tmp_path)


def test_the_sites_script_makes_a_phone_page_readable(browser, tmp_path):
    """At 420 px with book.js and book.css: the figure scales, says how small it is shown and opens
    full size, the wide table scrolls with its cue, no model name breaks (in the table, the printed
    line or the text), and both header buttons open their panels."""
    server, base = _site_page(tmp_path)
    try:
        browser.viewport(420)
        info = check_site.check_page(browser, f"{base}/p.html")
        hint = browser.run("return document.querySelector('.ih-zoomable > .ih-zoom-hint').textContent")
        nav = browser.run_async(check_site.NAV)
    finally:
        server.shutdown()
    [figure] = info["images"]
    assert hint == (f"Too small to read at this width (shown at {round(100 * figure['width'] / 751)}% of its size): "
                    "tap to open full size \u2922")
    assert figure["natural"] == 751 and figure["width"] < 420 and figure["zoomable"]
    assert check_site.cropped(info["images"]) == [] and check_site.without_zoom(info["images"]) == []
    [table] = info["tables"]
    assert table["wide"] and table["cue"] and check_site.uncued(info["tables"]) == []
    assert info["broken_names"] == []
    assert check_site.nav_problems(nav, 420) == [] and nav["zoom"] == {"open": True, "full": True}
    assert nav["primary-toggle"]["clicks"][0]["links"] == 1


def test_without_the_sites_script_the_checks_fail(browser, tmp_path):
    """The same page without book.js: the buttons do nothing, the table has no cue, names break."""
    server, base = _site_page(tmp_path, with_script=False)
    try:
        browser.viewport(420)
        info = check_site.check_page(browser, f"{base}/p.html")
        nav = browser.run_async(check_site.NAV)
    finally:
        server.shutdown()
    assert len(check_site.uncued(info["tables"])) == 1
    broken = set(info["broken_names"])  # in the table, the printed line and the text
    assert {"attn-only-2l-d256", "attn-only-2l-k-knockout-seed1"} <= broken
    assert check_site.without_zoom(info["images"])  # scaled by book.css, but no way to open it
    problems = check_site.nav_problems(nav, 420)
    assert any(p.startswith("the sidebar button does not open") for p in problems)
    assert any(p.startswith("the contents button does not open") for p in problems)
