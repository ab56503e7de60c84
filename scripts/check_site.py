"""Open every page of the built book in headless Chromium, offline, and check what a reader sees.

    python scripts/check_site.py _build/html --screenshots _build/screenshots

For every page: it loads, its figures are there (as many loaded images as the page's notebook has
image outputs), and every circuitsvis view has been drawn by the self-hosted script. The browser
cannot resolve any host but 127.0.0.1, so a page that needs the network shows up here. A
screenshot of each chapter page is saved for review.

It speaks the W3C WebDriver protocol to Debian's ``chromedriver`` over HTTP with the standard
library, so it needs no Python package beyond the book's pins.
"""

from __future__ import annotations

import argparse
import base64
import functools
import http.server
import json
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

SKIP_PAGES = {"genindex.html", "search.html", "py-modindex.html"}
# Console errors of the theme itself, not of the book's content (a reason for each):
KNOWN_THEME_ERRORS = (
    "THEBE_JS_URL' has already been declared",  # sphinx-thebe 0.3.1 adds its config twice under JB 1; the book uses no thebe
    "Got invalid theme mode",  # pydata-sphinx-theme's first visit, before a mode is stored
    "favicon.ico",  # the book has no favicon
)

# Run in the page: what the checks need, as one JSON-able object.
PROBE = """
const imgs = Array.from(document.querySelectorAll("article img, main img"));
const cell_imgs = imgs.filter(i => i.closest(".cell_output, .output"));
const views = Array.from(document.querySelectorAll(".ih-circuitsvis"));
return {
  title: document.title,
  ready: document.readyState,
  height: Math.max(document.body.scrollHeight, document.documentElement.scrollHeight),
  broken: imgs.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.getAttribute("src")),
  figures: cell_imgs.filter(i => i.complete && i.naturalWidth > 0).length,
  views: views.length,
  drawn: views.filter(v => v.children.length > 0 && v.getBoundingClientRect().height > 20).length,
  external: performance.getEntriesByType("resource").map(e => e.name)
            .filter(n => !n.startsWith(location.origin) && !n.startsWith("data:")),
};
"""


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
        args = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1280,900", "--hide-scrollbars",
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

    def console_errors(self) -> list[str]:
        try:  # chromedriver's (non-W3C) log endpoint; absent in some versions
            logs = self.cmd("POST", "/se/log", {"type": "browser"})
        except Exception:
            return []
        return [e["message"] for e in logs if e.get("level") == "SEVERE"
                and not any(k in e["message"] for k in KNOWN_THEME_ERRORS)]

    def screenshot(self, path: Path, height: int) -> None:
        self.cmd("POST", "/window/rect", {"width": 1280, "height": max(900, min(height, 12000))})
        path.write_bytes(base64.b64decode(self.cmd("GET", "/screenshot")))
        self.cmd("POST", "/window/rect", {"width": 1280, "height": 900})

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
    wd.get(url)
    deadline = time.time() + timeout
    while True:
        info = wd.run(PROBE)
        if info["ready"] == "complete" and info["drawn"] == info["views"] or time.time() > deadline:
            return info
        time.sleep(0.25)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("site", type=Path, help="the built book, e.g. _build/html")
    p.add_argument("--screenshots", type=Path, default=None, help="folder for one PNG per chapter")
    args = p.parse_args(argv)
    site = args.site.resolve()
    if not (site / "index.html").exists():
        print(f"no book at {site}: run `make book` first", file=sys.stderr)
        return 2
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if not (browser and driver):
        print("needs Debian's chromium and chromium-driver (`apt-get install chromium chromium-driver`)",
              file=sys.stderr)
        return 2
    if args.screenshots:
        args.screenshots.mkdir(parents=True, exist_ok=True)

    pages = sorted(p for p in site.rglob("*.html")
                   if p.name not in SKIP_PAGES and "_static" not in p.parts and "_sources" not in p.parts
                   and p.name != "index.html")  # index.html only redirects to the first chapter
    server, base = serve(site)
    wd = WebDriver(driver, browser)
    problems, n_views = [], 0
    try:
        for page in pages:
            rel = page.relative_to(site).as_posix()
            info = check_page(wd, f"{base}/{rel}")
            want = expected_figures(site, page)
            errors = wd.console_errors()
            n_views += info["drawn"]
            status = []
            if info["broken"]:
                status.append(f"broken images {info['broken']}")
            if want is not None and info["figures"] != want:
                status.append(f"{info['figures']} figures shown, its notebook has {want}")
            if info["drawn"] != info["views"]:
                status.append(f"{info['views'] - info['drawn']} of {info['views']} circuitsvis views not drawn")
            if errors:
                status.append(f"console errors {errors}")
            print(f"{'FAIL' if status else 'ok  '} {rel}: {info['figures']} figures, "
                  f"{info['drawn']}/{info['views']} circuitsvis views"
                  + (f", offline requests blocked: {info['external']}" if info["external"] else "")
                  + ("".join(f"\n     {s}" for s in status)))
            problems += [f"{rel}: {s}" for s in status]
            if args.screenshots and want is not None:
                wd.screenshot(args.screenshots / (rel.replace("/", "__")[:-5] + ".png"), info["height"])
    finally:
        wd.quit()
        server.shutdown()
    if n_views == 0:
        problems.append("no circuitsvis view was drawn anywhere in the site")
    print(f"{len(pages)} pages, {n_views} circuitsvis views drawn offline"
          + (f", screenshots in {args.screenshots}" if args.screenshots else ""))
    if problems:
        print("check-site FAILED:\n  " + "\n  ".join(problems), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
