"""Open every page of the built book in headless Chromium, offline, and check what a reader sees.

    python -m induction_heads.publish.check_site _build/html --screenshots _build/screenshots

Every page is opened at two window widths, 1400 px (a desktop) and 420 px (a phone). On each:

- it loads, its figures are there (as many loaded images as the page's notebook has image
  outputs), and every circuitsvis view has been drawn by the self-hosted script;
- no output block's text overflows its box unwrapped: with every folded block opened, no printed
  line (``.cell_output pre``) is wider than its box, and no HTML output (a table) spills out of a
  box that does not scroll (:func:`overflowing`);
- Previous/Next follow the table of contents (``_toc.yml``) through the default size's pages, and
  through each other size's pages in the same order (a page with one size only, such as the
  decisions log, stands in its place) (:func:`chain_problems`); every page's sidebar marks its entry;
- nothing a reader sees is cut off at either width: no figure image is wider than its column or
  clipped by a box (:func:`cropped`), and one shown smaller than drawn (on a phone) opens full size
  on tap (:func:`without_zoom`); every table wider than its box scrolls with a visible cue
  (:func:`uncued`); no hyphenated name (a model's: ``attn-only-2l-d64``) breaks across lines, in a
  table, a printed line, a caption or the text (``attn-/only-2l``);
- the header's sidebar and contents buttons open their panels (:func:`nav_problems`): each button
  a reader sees is clicked, and the panel it controls must appear (a dialog, on narrow screens)
  or, for the sidebar on a wide screen where it is already open, close and open again;
- no console error (level SEVERE) on any page, the theme's included;
- the introduction's first screen at 1400 px holds its verdict strip (``.ih-verdict-strip``, one
  card a verdict, linking its chapter), and at 420 px it starts within two screens
  (:func:`strip_problems`). While the introduction has no strip yet this prints
  "verdict strip: not on the introduction yet" and does not fail.

Two more checks are switched on by a flag; off, the script prints their counts:

- ``--require-captions``: every figure (an image in a cell output) has a caption, a
  ``<figcaption>`` of the ``<figure>`` around it (:func:`uncaptioned`). On in
  ``make check-site``: the captions live in ``chapters/figures.yml``.
- ``--limit-pass-lines``: no output block a reader sees when the page opens (not folded) holds
  more than :data:`MAX_PASS_LINES` lines starting with ``PASS`` (:func:`crowded`). On in
  ``make check-site`` since a claim checked on many models folds its models' lines.

The browser cannot resolve any host but 127.0.0.1, so a page that needs the network shows up
here. A screenshot of each chapter page at each width is saved for review
(``<page>@1400.png``, ``<page>@420.png``).

It speaks the W3C WebDriver protocol to Debian's ``chromedriver`` over HTTP with the standard
library, so it needs no Python package beyond the book's pins.
"""

from __future__ import annotations

import argparse
import base64
import functools
import http.server
import json
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import yaml
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]  # the repository: lib/induction_heads/publish/ is three below
SKIP_PAGES = {"genindex.html", "search.html", "py-modindex.html"}
# Console errors to let pass, each with its reason. None now: the three the theme caused are fixed
# ("THEBE_JS_URL has already been declared": build.dedupe_inline_scripts; "Got invalid theme
# mode": html_context.default_mode in _config.yml; favicon.ico: the book has a favicon).
KNOWN_THEME_ERRORS: tuple[str, ...] = ()
WIDTHS = (1400, 420)  # px: a desktop window and a phone
MAX_PASS_LINES = 12  # PASS lines one unfolded output block may show a reader
SCREENSHOT_MAX_HEIGHT = 12000  # px
SCREEN_HEIGHT = 900  # px: the window's height, one "screen"
ZOOM_BELOW = 0.9  # a figure shown at less than this share of its drawn width must open full size
NAME_MAX = 48  # characters: a hyphenated name up to this long never breaks across lines (book.js's TOKEN_MAX)
INTRODUCTION = "chapters/00_introduction.html"  # the page whose first screen holds the verdict strip
_PASS_LINE = re.compile(r"^\s*PASS\b", re.M)

# Run in the page: what the checks need, as one JSON-able object. Blocks are measured as the page
# opens (what a reader sees: `visible`), and their widths again after OPEN_ALL.
PROBE = """
const imgs = Array.from(document.querySelectorAll("article img, main img"));
// the front page's verdict thumbnails belong to their cards (badge, title, alt text), not figures
const cell_imgs = imgs.filter(i => i.closest(".cell_output, .output") && !i.closest(".ih-verdict-strip"));
const views = Array.from(document.querySelectorAll(".ih-circuitsvis"));
const link = sel => { const a = document.querySelector(sel); return a ? a.href : null; };
return {
  title: document.title,
  ready: document.readyState,
  width: window.innerWidth,
  height: Math.max(document.body.scrollHeight, document.documentElement.scrollHeight),
  broken: imgs.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.getAttribute("src")),
  figures: cell_imgs.filter(i => i.complete && i.naturalWidth > 0).length,
  captions: cell_imgs.map(i => {
    const f = i.closest("figure"), c = f ? f.querySelector("figcaption") : null;
    return {src: i.getAttribute("src"), caption: c ? c.innerText.trim() : ""};
  }),
  views: views.length,
  drawn: views.filter(v => v.children.length > 0 && v.getBoundingClientRect().height > 20).length,
  prev: link(".prev-next-area a.left-prev"),
  next: link(".prev-next-area a.right-next"),
  active: !!document.querySelector("nav.bd-docs-nav li.current > a, nav.bd-docs-nav a.current"),
  external: performance.getEntriesByType("resource").map(e => e.name)
            .filter(n => !n.startsWith(location.origin) && !n.startsWith("data:")),
};
"""
# Open every folded block (<details>, sphinx-togglebutton), so that their widths can be measured,
# and fold them again (RESTORE), so that the screenshot shows the page as a reader opens it.
OPEN_ALL = """
document.querySelectorAll("details:not([open])").forEach(d => { d.open = true; d.dataset.ihFolded = "1"; });
document.querySelectorAll(".toggle-hidden").forEach(e => {
  e.classList.remove("toggle-hidden"); e.dataset.ihHidden = "1"; });
return true;
"""
RESTORE = """
document.querySelectorAll("details[data-ih-folded]").forEach(d => { d.open = false; delete d.dataset.ihFolded; });
document.querySelectorAll("[data-ih-hidden]").forEach(e => {
  e.classList.add("toggle-hidden"); delete e.dataset.ihHidden; });
return Math.max(document.body.scrollHeight, document.documentElement.scrollHeight);
"""
# Every output block: printed text (`pre`) and HTML outputs (tables).
BLOCKS = """
return Array.from(document.querySelectorAll(".cell_output pre, .cell_output .output.text_html")).map(b => {
  const cs = getComputedStyle(b);
  return {kind: b.tagName === "PRE" ? "text" : "html", scroll: b.scrollWidth, client: b.clientWidth,
          white_space: cs.whiteSpace, overflow_x: cs.overflowX,
          visible: b.getClientRects().length > 0 && !b.closest("details:not([open])"),
          text: b.innerText};
});
"""

# What a reader sees of figures, tables and names, measured with every folded block open.
LAYOUT = f"const NAME_MAX = {NAME_MAX};\n" + """
const vis = e => e.getClientRects().length > 0;
const article = document.querySelector("article.bd-article") || document.querySelector("main") || document.body;
const col = article.getBoundingClientRect();
const figures = Array.from(article.querySelectorAll(".cell_output img:not(.ih-verdict-thumb)")).filter(vis).map(i => {
  const r = i.getBoundingClientRect();
  let clip = null;
  for (let e = i.parentElement; e && e !== article; e = e.parentElement) {
    if (getComputedStyle(e).overflowX !== "visible" && e.clientWidth + 1 < r.width) { clip = e.className || e.tagName; break; }
  }
  const holder = i.closest("figure") || i.parentElement;
  return {src: i.getAttribute("src"), width: Math.round(r.width), natural: i.naturalWidth,
          column: Math.round(col.width), outside: Math.round(Math.max(col.left - r.left, r.right - col.right, 0)),
          clipped_by: clip, zoomable: holder.classList.contains("ih-zoomable")};
});
const scroller = t => {
  for (let e = t.parentElement; e && e !== article.parentElement; e = e.parentElement) {
    if (["auto", "scroll"].includes(getComputedStyle(e).overflowX)) return e;
  }
  return null;
};
const tables = Array.from(article.querySelectorAll("table")).filter(vis).map(t => {
  const box = scroller(t);
  const hint = box && box.previousElementSibling;
  const wide = box ? box.scrollWidth > box.clientWidth + 1 : t.getBoundingClientRect().width > col.width + 1;
  return {text: t.innerText.trim().slice(0, 60), width: t.scrollWidth, box: box ? box.clientWidth : Math.round(col.width),
          wide: wide, scrolls: !!box, cue: !!box && box.classList.contains("ih-wide")
            && !!hint && hint.classList.contains("ih-scroll-hint") && vis(hint)};
});
// A hyphenated word (a model name: "attn-only-2l-d64") anywhere in the article's text: a table
// cell, a printed line, a check's summary, a caption, a paragraph; not the circuitsvis views
// (their own script draws them) nor a word longer than NAME_MAX characters.
const broken = [];
const word = /[A-Za-z0-9_.]+(?:-[A-Za-z0-9_.]+)+/g;
const walker = document.createTreeWalker(article, NodeFilter.SHOW_TEXT);
while (walker.nextNode()) {
  const node = walker.currentNode;
  if (node.nodeValue.indexOf("-") < 0 || node.parentElement.closest("script, style, textarea, svg, .ih-circuitsvis")) continue;
  for (const m of node.nodeValue.matchAll(word)) {
    if (m[0].length > NAME_MAX) continue;
    const range = document.createRange();
    range.setStart(node, m.index); range.setEnd(node, m.index + m[0].length);
    const tops = new Set(Array.from(range.getClientRects()).filter(r => r.width > 0).map(r => Math.round(r.top)));
    if (tops.size > 1) broken.push(m[0]);
  }
}
return {images: figures, tables: tables, broken_names: broken};
"""
# Let the page's scripts react to the blocks just opened (a ResizeObserver runs before a frame).
SETTLE = """
const done = arguments[arguments.length - 1];
requestAnimationFrame(() => requestAnimationFrame(() => done(true)));
"""
# The header's buttons: click each one a reader sees, and see whether its panel shows. On a wide
# screen the sidebar is open already: its button must close it and open it again.
NAV = """
const done = arguments[arguments.length - 1];
const wait = ms => new Promise(r => setTimeout(r, ms));
const shown = e => !!e && e.getClientRects().length > 0 && e.getBoundingClientRect().width > 20
                   && getComputedStyle(e).visibility !== "hidden";
const panels = [["primary-toggle", "pst-primary-sidebar-modal", "pst-primary-sidebar"],
                ["secondary-toggle", "pst-secondary-sidebar-modal", "pst-secondary-sidebar"]];
(async () => {
  const out = {};
  try {
  for (const [kind, dialog_id, sidebar_id] of panels) {
    const buttons = Array.from(document.querySelectorAll("button." + kind)).filter(b => b.getClientRects().length > 0);
    const dialog = document.getElementById(dialog_id), sidebar = document.getElementById(sidebar_id);
    if (!buttons.length) { out[kind] = {buttons: 0, sidebar_shown: shown(sidebar)}; continue; }
    const results = [];
    for (const button of buttons) {
      const before = shown(sidebar);
      button.click();
      await wait(400);
      const r = {before: before, dialog: !!dialog && dialog.open && shown(dialog),
                 links: dialog && dialog.open ? dialog.querySelectorAll("a").length : 0, after: shown(sidebar)};
      if (dialog && dialog.open) { dialog.close(); await wait(100); }
      else if (r.after !== before) { button.click(); await wait(400); r.back = shown(sidebar); }
      results.push(r);
    }
    out[kind] = {buttons: buttons.length, sidebar_shown: shown(sidebar), clicks: results};
  }
  // A figure shown smaller than drawn: its "Open full size" shows it at its drawn width.
  const hint = document.querySelector(".ih-zoomable > .ih-zoom-hint");
  if (hint) {
    hint.click();
    await wait(400);
    const viewer = document.querySelector("dialog.ih-zoom");
    const img = viewer && viewer.querySelector("img");
    out.zoom = {open: !!viewer && viewer.open && shown(viewer),
                full: !!img && img.naturalWidth > 0 && Math.round(img.getBoundingClientRect().width) >= img.naturalWidth - 1};
    if (viewer && viewer.open) viewer.close();
  }
  } catch (e) { out.error = String(e); }
  done(out);
})();
"""
# The introduction's verdict strip, where it is on the page.
STRIP = """
const strip = document.querySelector(".ih-verdict-strip");
if (!strip) return null;
const r = strip.getBoundingClientRect();
const cards = Array.from(strip.querySelectorAll("a.ih-verdict")).map(a => {
  const img = a.querySelector("img");
  return {href: a.getAttribute("href"), badge: !!a.querySelector(".ih-badge"),
          thumbnail: !!img && img.complete && img.naturalWidth > 0};
});
return {top: Math.round(r.top + window.scrollY), bottom: Math.round(r.bottom + window.scrollY),
        screen: window.innerHeight, cards: cards};
"""


# ------------------------------------------------------------------------- the checks' rules

def overflowing(blocks: list[dict], slack: int = 1) -> list[dict]:
    """Output blocks whose content is wider than their box (by more than ``slack`` px) and not
    wrapped: a printed line (``text``) clipped or hidden behind a scroll bar, or an HTML output that
    spills out of a box that does not scroll. A wide table in a box that scrolls sideways is fine:
    its lines are whole."""
    bad = []
    for b in blocks:
        if b["scroll"] <= b["client"] + slack:
            continue
        if b["kind"] == "html" and b["overflow_x"] in ("auto", "scroll"):
            continue
        bad.append(b)
    return bad


def pass_lines(text: str) -> int:
    """Lines of ``text`` that start with ``PASS`` (a check that passed)."""
    return len(_PASS_LINE.findall(text))


def crowded(blocks: list[dict], limit: int = MAX_PASS_LINES) -> list[dict]:
    """Output blocks a reader sees when the page opens that hold more than ``limit`` PASS lines."""
    return [b for b in blocks if b["visible"] and pass_lines(b["text"]) > limit]


def uncaptioned(captions: list[dict]) -> list[str]:
    """The ``src`` of every figure (image in a cell output) without a caption."""
    return [c["src"] for c in captions if not c["caption"]]


def cropped(figures: list[dict], slack: int = 1) -> list[dict]:
    """Figure images a reader sees only in part: wider than the column, reaching out of it, or
    wider than a box around them that clips or scrolls."""
    return [f for f in figures if f["width"] > f["column"] + slack or f["outside"] > slack or f["clipped_by"]]


def without_zoom(figures: list[dict], below: float = ZOOM_BELOW) -> list[dict]:
    """Figures shown at less than ``below`` of their drawn width (a dense figure on a phone) that
    do not open full size on tap (book.js marks those that do ``ih-zoomable``)."""
    return [f for f in figures if f["natural"] and f["width"] < below * f["natural"] and not f["zoomable"]]


def uncued(tables: list[dict]) -> list[dict]:
    """Tables wider than their box without a visible cue that they scroll (or in no box that
    scrolls at all)."""
    return [t for t in tables if t["wide"] and not (t["scrolls"] and t["cue"])]


def nav_problems(nav: dict, width: int) -> list[str]:
    """What is wrong with the header's buttons (:data:`NAV`'s measurements): the sidebar button
    must be there at every width; each button clicked must open its panel as a dialog with links
    in it, or (a sidebar already open on a wide screen) close it and open it again. The contents
    button may be missing where its panel is on screen already. Where a figure is shown smaller
    than drawn, its "Open full size" must show it at its drawn width (``zoom``)."""
    problems = [f"the buttons' check stopped: {nav['error']}"] if nav.get("error") else []
    for kind, name in (("primary-toggle", "sidebar"), ("secondary-toggle", "contents")):
        state = nav.get(kind, {})
        if not state.get("buttons"):
            if kind == "primary-toggle" or not state.get("sidebar_shown"):
                problems.append(f"no {name} button to click and no {name} panel on screen")
            continue
        for click in state["clicks"]:
            if click["dialog"]:
                if not click["links"]:
                    problems.append(f"the {name} button opens an empty panel")
            elif click["before"] and not click["after"] and click.get("back"):
                pass  # a wide screen's open sidebar: closed, and opened again
            else:
                problems.append(f"the {name} button does not open its panel ({click})")
    zoom = nav.get("zoom")
    if zoom is not None and not (zoom["open"] and zoom["full"]):
        problems.append(f"a figure's 'Open full size' does not show it at full size ({zoom})")
    return problems


def strip_problems(strip: dict | None, width: int, screen: int = SCREEN_HEIGHT) -> list[str] | None:
    """What is wrong with the introduction's verdict strip (:data:`STRIP`'s measurements) at
    ``width``: at 1400 px it must lie in the first screen, at 420 px start within two; each card
    has a link, a badge and a thumbnail that loaded. None where there is no strip yet."""
    if strip is None:
        return None
    problems = []
    if not strip["cards"]:
        problems.append("the verdict strip has no card (a.ih-verdict)")
    for i, card in enumerate(strip["cards"], 1):
        missing = [k for k in ("href", "badge", "thumbnail") if not card[k]]
        if missing:
            problems.append(f"verdict card {i} has no {' or '.join(missing)}")
    if width >= 1000 and strip["bottom"] > screen:
        problems.append(f"the verdict strip ends {strip['bottom']} px down, below the first screen ({screen} px)")
    if width < 1000 and strip["top"] > 2 * screen:
        problems.append(f"the verdict strip starts {strip['top']} px down, beyond two screens ({2 * screen} px)")
    return problems


def size_of(page: str) -> tuple[str, str] | None:
    """``(size, default page)`` of another size's page (``chapters/sizes/tiny/01_a.html`` ->
    ``("tiny", "chapters/01_a.html")``), None for any other page."""
    m = re.match(r"^(?:(.*)/)?sizes/([^/]+)/([^/]+)$", page)
    if not m:
        return None
    return m.group(2), "/".join(p for p in (m.group(1), m.group(3)) if p)


def toc_pages(toc: dict) -> list[str]:
    """The pages of a jb-book ``_toc.yml`` (parsed) in reading order, as ``.html`` paths."""
    def walk(entries):
        for e in entries:
            if "file" in e:
                yield e["file"]
            yield from walk(e.get("sections", []))

    files = [toc["root"], *walk(toc.get("chapters", []))]
    for part in toc.get("parts", []):
        files.extend(walk(part["chapters"]))
    return [f + ".html" for f in files]


def chain_problems(links: dict[str, tuple[str | None, str | None]], order: list[str]) -> list[str]:
    """Where Previous/Next leave the reading order. ``links`` maps each page (``.html`` path
    relative to the site) to its (previous, next) pages; ``order`` is :func:`toc_pages`. Every page
    of ``order`` must link to its neighbours in it (the first has no Previous, the last no Next).
    Another size's pages (``.../sizes/<size>/<page>``, :func:`size_of`) follow the same order
    through that size's pages, a page that has no page for the size standing in its place (a
    Markdown page: one for every size); any other page must have neither link."""
    problems = []

    def follow(chain: list[str], only: set[str] | None = None) -> None:
        for i, page in enumerate(chain):
            if only is not None and page not in only:
                continue
            want = (chain[i - 1] if i else None, chain[i + 1] if i + 1 < len(chain) else None)
            if page not in links:
                problems.append(f"{page}: in the table of contents but not in the site")
            elif links[page] != want:
                problems.append(f"{page}: Previous/Next are {links[page]}, the table of contents says {want}")

    follow(order)
    sized: dict[str, dict[str, str]] = {}  # size -> {default page: size page}
    for page in links:
        found = size_of(page)
        if found and found[1] in order:
            sized.setdefault(found[0], {})[found[1]] = page
    for pages in sized.values():
        follow([pages.get(p, p) for p in order], only=set(pages.values()))
    in_a_chain = set(order) | {p for pages in sized.values() for p in pages.values()}
    for page, (prev, nxt) in sorted(links.items()):
        if page not in in_a_chain and (prev or nxt):
            problems.append(f"{page}: outside the table of contents but chained (Previous {prev}, Next {nxt})")
    return problems


# ------------------------------------------------------------------------------ the browser

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(root: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


def find_browser() -> tuple[str | None, str | None]:
    """Debian's Chromium and its WebDriver, or None where missing."""
    return shutil.which("chromium") or shutil.which("chromium-browser"), shutil.which("chromedriver")


class WebDriver:
    """The few WebDriver commands this check needs."""

    def __init__(self, driver: str, browser: str):
        self.port = free_port()
        self.proc = subprocess.Popen([driver, f"--port={self.port}"], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        self.base = f"http://127.0.0.1:{self.port}"
        for _ in range(100):
            try:
                self._call("GET", "/status")
                break
            except OSError:
                time.sleep(0.1)
        self.width = WIDTHS[0]
        args = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                f"--window-size={self.width},900", "--hide-scrollbars",
                # Offline: no host but the local server resolves.
                "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"]
        caps = {"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": {
            "binary": browser, "args": args}, "goog:loggingPrefs": {"browser": "ALL"}}}}
        self.session = self._call("POST", "/session", caps)["sessionId"]
        # An async script (SETTLE, NAV) may wait on a page still busy laying out a tall screenshot.
        self.cmd("POST", "/timeouts", {"script": 90_000})

    def _call(self, method: str, path: str, body: dict | None = None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=120) as r:
            return json.loads(r.read())["value"]

    def cmd(self, method: str, path: str, body: dict | None = None):
        return self._call(method, f"/session/{self.session}{path}", body)

    def get(self, url: str) -> None:
        self.cmd("POST", "/url", {"url": url})

    def run(self, script: str):
        return self.cmd("POST", "/execute/sync", {"script": script, "args": []})

    def run_async(self, script: str):
        """A script that ends by calling its last argument with the result."""
        return self.cmd("POST", "/execute/async", {"script": script, "args": []})

    def viewport(self, width: int, height: int = 900) -> None:
        """Lay pages out ``width`` CSS px wide (Chromium's device emulation: a window cannot be
        made narrower than about 500 px)."""
        self.width = width
        self.cmd("POST", "/goog/cdp/execute", {"cmd": "Emulation.setDeviceMetricsOverride", "params": {
            "width": width, "height": height, "deviceScaleFactor": 1, "mobile": False}})

    def console_errors(self) -> list[str]:
        try:  # chromedriver's (non-W3C) log endpoint; absent in some versions
            logs = self.cmd("POST", "/se/log", {"type": "browser"})
        except Exception:
            return []
        return [e["message"] for e in logs if e.get("level") == "SEVERE"
                and not any(k in e["message"] for k in KNOWN_THEME_ERRORS)]

    def screenshot(self, path: Path, height: int) -> None:
        """The page from its top, at the current width, up to SCREENSHOT_MAX_HEIGHT px tall."""
        width = self.width
        self.viewport(width, max(900, min(height, SCREENSHOT_MAX_HEIGHT)))
        path.write_bytes(base64.b64decode(self.cmd("GET", "/screenshot")))
        self.viewport(width)

    def quit(self) -> None:
        try:
            self.cmd("DELETE", "")
        finally:
            self.proc.terminate()
            self.proc.wait(timeout=10)


def expected_figures(site: Path, page: Path) -> int | None:
    """Image outputs of the page's notebook (the site keeps it under ``_sources``)."""
    src = site / "_sources" / page.relative_to(site).with_suffix(".ipynb")
    if not src.exists():
        return None
    nb = json.loads(src.read_text())
    return sum(1 for c in nb["cells"] if c["cell_type"] == "code" for o in c.get("outputs", [])
               if any(k.startswith("image/") for k in o.get("data", {})))


def check_page(wd: WebDriver, url: str, timeout: float = 20.0) -> dict:
    """Load ``url``, wait for it and its circuitsvis views, and probe it: :data:`PROBE`'s object,
    with ``blocks``, every output block as the page opens, ``opened``, every output block once
    every folded block is open, and :data:`LAYOUT`'s figures, tables and broken names measured
    then, and :data:`STRIP`'s verdict strip; the page is left folded as it opened."""
    wd.get(url)
    deadline = time.time() + timeout
    while True:
        info = wd.run(PROBE)
        if info["ready"] == "complete" and info["drawn"] == info["views"] or time.time() > deadline:
            break
        time.sleep(0.25)
    info["blocks"] = wd.run(BLOCKS)
    wd.run(OPEN_ALL)
    wd.run_async(SETTLE)
    info["opened"] = wd.run(BLOCKS)
    info.update(wd.run(LAYOUT))
    info["height"] = wd.run(RESTORE)
    info["strip"] = wd.run(STRIP)
    return info


def _relative(url: str | None, base: str) -> str | None:
    return url[len(base) + 1:].split("#")[0] if url and url.startswith(base + "/") else url


def page_problems(info: dict, want: int | None, errors: list[str]) -> list[str]:
    """What is wrong with one page at one width (the checks that are switched on)."""
    status = []
    if info["broken"]:
        status.append(f"broken images {info['broken']}")
    if want is not None and info["figures"] != want:
        status.append(f"{info['figures']} figures shown, its notebook has {want}")
    if info["drawn"] != info["views"]:
        status.append(f"{info['views'] - info['drawn']} of {info['views']} circuitsvis views not drawn")
    for b in overflowing(info["opened"]):
        first = next((line for line in b["text"].splitlines() if line.strip()), "")[:80]
        status.append(f"{b['kind']} output {b['scroll']} px wide in a {b['client']} px box: {first!r}")
    for f in cropped(info.get("images", [])):
        status.append(f"figure {f['src']} cropped: {f['width']} px wide in a {f['column']} px column"
                      + (f", clipped by {f['clipped_by']}" if f["clipped_by"] else ""))
    for f in without_zoom(info.get("images", [])):
        status.append(f"figure {f['src']} shown at {f['width']} of {f['natural']} px and does not open full size")
    for t in uncued(info.get("tables", [])):
        status.append(f"table {t['width']} px wide in a {t['box']} px box "
                      + ("with no scroll cue" if t["scrolls"] else "that does not scroll") + f": {t['text']!r}")
    if info.get("broken_names"):
        names = sorted(set(info["broken_names"]))
        status.append(f"{len(info['broken_names'])} hyphenated names broken across lines: {names[:5]}")
    if "active" in info and not info["active"]:
        status.append("no sidebar entry marks this page")
    if errors:
        status.append(f"console errors {errors}")
    return status


class Tally:
    """What the whole site adds up to: the problems of the checks that are on, and the counts of
    the two that may be off (captions, PASS lines)."""

    def __init__(self, require_captions: bool, limit_pass_lines: bool):
        self.require_captions, self.limit_pass_lines = require_captions, limit_pass_lines
        self.problems: list[str] = []
        self.views = 0  # circuitsvis views drawn, at the first width
        self.no_caption: set[tuple[str, str]] = set()  # (page, image)
        self.crowded: dict[str, list[int]] = {}  # page -> PASS lines of each crowded unfolded block
        self.shown_pass = 0  # PASS lines in unfolded blocks, at the first width

    def page(self, rel: str, width: int, info: dict, want: int | None, errors: list[str]) -> list[str]:
        """Add one page at one width; its problems."""
        status = page_problems(info, want, errors)
        if info["width"] != width:
            status.append(f"laid out {info['width']} px wide")
        missing = uncaptioned(info["captions"])
        self.no_caption.update((rel, src) for src in missing)
        busy = crowded(info["blocks"])
        if busy:
            self.crowded[rel] = [pass_lines(b["text"]) for b in busy]
        if width == WIDTHS[0]:
            self.views += info["drawn"]
            self.shown_pass += sum(pass_lines(b["text"]) for b in info["blocks"] if b["visible"])
        if self.require_captions and missing:
            status.append(f"{len(missing)} figures without a caption")
        if self.limit_pass_lines and busy:
            status.append(f"{len(busy)} unfolded output blocks with more than {MAX_PASS_LINES} PASS lines")
        self.problems += [f"{rel} @{width}: {s}" for s in status]
        return status

    def add(self, rel: str, width: int, status: list[str]) -> list[str]:
        """Add problems found outside :meth:`page` (the buttons, the verdict strip)."""
        self.problems += [f"{rel} @{width}: {s}" for s in status]
        return status

    def summary(self) -> list[str]:
        """The switched-off checks' counts (and the switched-on ones' when they are on)."""
        counts = [n for ns in self.crowded.values() for n in ns]
        return [
            f"figures without a caption: {len(self.no_caption)} on {len({p for p, _ in self.no_caption})} pages"
            + ("" if self.require_captions else " (not checked yet: --require-captions)"),
            f"unfolded output blocks with more than {MAX_PASS_LINES} PASS lines: {len(counts)} on "
            f"{len(self.crowded)} pages" + (f", {max(counts)} lines in the largest" if counts else "")
            + f"; {self.shown_pass} PASS lines shown unfolded in all"
            + ("" if self.limit_pass_lines else " (not checked yet: --limit-pass-lines)"),
        ]


def check_width(wd: WebDriver, site: Path, base: str, pages: list[Path], width: int, order: list[str],
                tally: Tally, screenshots: Path | None) -> None:
    """Every page at one width, then the Previous/Next chain they make."""
    wd.viewport(width)
    links: dict[str, tuple[str | None, str | None]] = {}
    for page in pages:
        rel = page.relative_to(site).as_posix()
        info = check_page(wd, f"{base}/{rel}")
        want = expected_figures(site, page)
        errors = wd.console_errors()
        if screenshots:
            wd.screenshot(screenshots / f"{rel.replace('/', '__')[:-5]}@{width}.png", info["height"])
        nav = wd.run_async(NAV)  # after the screenshot: it leaves the sidebar as it found it
        errors += wd.console_errors()
        status = tally.page(rel, width, info, want, errors)
        status += tally.add(rel, width, [f"navigation: {n}" for n in nav_problems(nav, width)])
        if rel == INTRODUCTION:
            strip = strip_problems(info["strip"], width)
            if strip is None:
                print(f"verdict strip: not on the introduction yet (@{width})")
            else:
                status += tally.add(rel, width, strip)
                print(f"verdict strip @{width}: {len(info['strip']['cards'])} cards, "
                      f"{info['strip']['top']}-{info['strip']['bottom']} px down")
        links[rel] = (_relative(info["prev"], base), _relative(info["next"], base))
        wide = [t for t in info["tables"] if t["wide"]]
        print(f"{'FAIL' if status else 'ok  '} {rel} @{width}: {info['figures']} figures "
              f"({sum(1 for f in info['images'] if f['zoomable'])} open full size on tap), "
              f"{info['drawn']}/{info['views']} circuitsvis views, {len(info['opened'])} output blocks, "
              f"{len(info['tables'])} tables ({len(wide)} scroll)"
              + (f", offline requests blocked: {info['external']}" if info["external"] else "")
              + ("".join(f"\n     {s}" for s in status)))
    chain = chain_problems(links, order)
    print(f"Previous/Next @{width}: "
          + ("FAIL" if chain else f"follow the table of contents ({len(order)} pages, each size's in that order)"))
    tally.problems += [f"@{width}: {c}" for c in chain]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("site", type=Path, help="the built book, e.g. _build/html")
    p.add_argument("--screenshots", type=Path, default=None, help="folder for PNGs of each chapter at each width")
    p.add_argument("--toc", type=Path, default=REPO / "_toc.yml", help="the book's table of contents")
    p.add_argument("--require-captions", action="store_true",
                   help="fail on a figure without a caption (off: the count is printed)")
    p.add_argument("--limit-pass-lines", action="store_true",
                   help=f"fail on an unfolded output block with more than {MAX_PASS_LINES} PASS lines "
                        "(off: the count is printed)")
    args = p.parse_args(argv)
    site = args.site.resolve()
    if not (site / "index.html").exists():
        print(f"no book at {site}: run `make book` first", file=sys.stderr)
        return 2
    browser, driver = find_browser()
    if not (browser and driver):
        print("needs Debian's chromium and chromium-driver (`apt-get install chromium chromium-driver`)",
              file=sys.stderr)
        return 2
    if args.screenshots:
        args.screenshots.mkdir(parents=True, exist_ok=True)
    order = toc_pages(yaml.safe_load(args.toc.read_text()))
    pages = sorted(p for p in site.rglob("*.html")
                   if p.name not in SKIP_PAGES and "_static" not in p.parts and "_sources" not in p.parts
                   and p.name != "index.html")  # index.html only redirects to the first chapter
    tally = Tally(args.require_captions, args.limit_pass_lines)
    server, base = serve(site)
    wd = WebDriver(driver, browser)
    try:
        for width in WIDTHS:
            check_width(wd, site, base, pages, width, order, tally, args.screenshots)
    finally:
        wd.quit()
        server.shutdown()
    if tally.views == 0:
        tally.problems.append("no circuitsvis view was drawn anywhere in the site")
    print(f"{len(pages)} pages at {' and '.join(map(str, WIDTHS))} px, {tally.views} circuitsvis views drawn offline"
          + (f", screenshots in {args.screenshots}" if args.screenshots else ""))
    print("\n".join(tally.summary()))
    if tally.problems:
        print("check-site FAILED:\n  " + "\n  ".join(tally.problems), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
