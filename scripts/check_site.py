"""Open every page of the built book in headless Chromium, offline, and check what a reader sees.

    python scripts/check_site.py _build/html --screenshots _build/screenshots

Every page is opened at two window widths, 1400 px (a desktop) and 420 px (a phone). On each:

- it loads, its figures are there (as many loaded images as the page's notebook has image
  outputs), and every circuitsvis view has been drawn by the self-hosted script;
- no output block's text overflows its box unwrapped: with every folded block opened, no printed
  line (``.cell_output pre``) is wider than its box, and no HTML output (a table) spills out of a
  box that does not scroll (:func:`overflowing`);
- Previous/Next follow the table of contents (``_toc.yml``) through the default size's pages, and
  the other sizes' pages, reached from the size switcher, are in no chain (:func:`chain_problems`).

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
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SKIP_PAGES = {"genindex.html", "search.html", "py-modindex.html"}
# Console errors of the theme itself, not of the book's content (a reason for each):
KNOWN_THEME_ERRORS = (
    "THEBE_JS_URL' has already been declared",  # sphinx-thebe 0.3.1 adds its config twice under JB 1; the book uses no thebe
    "Got invalid theme mode",  # pydata-sphinx-theme's first visit, before a mode is stored
    "favicon.ico",  # the book has no favicon
)
WIDTHS = (1400, 420)  # px: a desktop window and a phone
MAX_PASS_LINES = 12  # PASS lines one unfolded output block may show a reader
SCREENSHOT_MAX_HEIGHT = 12000  # px
_PASS_LINE = re.compile(r"^\s*PASS\b", re.M)

# Run in the page: what the checks need, as one JSON-able object. Blocks are measured as the page
# opens (what a reader sees: `visible`), and their widths again after OPEN_ALL.
PROBE = """
const imgs = Array.from(document.querySelectorAll("article img, main img"));
const cell_imgs = imgs.filter(i => i.closest(".cell_output, .output"));
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
    of ``order`` must link to its neighbours in it (the first has no Previous, the last no Next)
    and every other page (another size's) must have neither."""
    problems = []
    for i, page in enumerate(order):
        want = (order[i - 1] if i else None, order[i + 1] if i + 1 < len(order) else None)
        if page not in links:
            problems.append(f"{page}: in the table of contents but not in the site")
        elif links[page] != want:
            problems.append(f"{page}: Previous/Next are {links[page]}, the table of contents says {want}")
    for page, (prev, nxt) in sorted(links.items()):
        if page not in order and (prev or nxt):
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
    with ``blocks``, every output block as the page opens, and ``opened``, every output block
    once every folded block is open; the page is left folded as it opened."""
    wd.get(url)
    deadline = time.time() + timeout
    while True:
        info = wd.run(PROBE)
        if info["ready"] == "complete" and info["drawn"] == info["views"] or time.time() > deadline:
            break
        time.sleep(0.25)
    info["blocks"] = wd.run(BLOCKS)
    wd.run(OPEN_ALL)
    info["opened"] = wd.run(BLOCKS)
    info["height"] = wd.run(RESTORE)
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
        status = tally.page(rel, width, info, want, wd.console_errors())
        links[rel] = (_relative(info["prev"], base), _relative(info["next"], base))
        print(f"{'FAIL' if status else 'ok  '} {rel} @{width}: {info['figures']} figures, "
              f"{info['drawn']}/{info['views']} circuitsvis views, {len(info['opened'])} output blocks"
              + (f", offline requests blocked: {info['external']}" if info["external"] else "")
              + ("".join(f"\n     {s}" for s in status)))
        if screenshots:
            wd.screenshot(screenshots / f"{rel.replace('/', '__')[:-5]}@{width}.png", info["height"])
    chain = chain_problems(links, order)
    print(f"Previous/Next @{width}: "
          + ("FAIL" if chain else f"follow the table of contents ({len(order)} pages)"))
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
    import yaml

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
