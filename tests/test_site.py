"""The site as readers get it: the book build, launch buttons, and every page in a browser.

The module builds the book once (``jupyter-book build . -n -W --keep-going``; notebook
execution is cached, so a rebuild only re-runs changed pages), then opens every page of
``_build/html`` in headless Chromium, served on 127.0.0.1 with every other host
unresolvable, and checks what a reader would see. Chromium is driven over the DevTools
protocol with a small client (``websocket-client``), so no browser download is needed.

Screenshots of every page go to ``_build/screenshots/``; a JSON summary of what each
assertion found goes to ``_build/screenshots/report.json``.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "_build"
HTML = BUILD / "html"
SHOTS = BUILD / "screenshots"
sys.path.insert(0, str(ROOT / "tools"))
import offline_assets  # noqa: E402

# The fixture builds the whole book, executing every notebook on a fresh clone: far longer
# than the suite's default per-test timeout on a 2-core machine.
pytestmark = [pytest.mark.book, pytest.mark.slow, pytest.mark.timeout(3600)]

SKIP_PAGES = {"genindex.html", "search.html", "py-modindex.html"}
PAGE_TIMEOUT = 60.0  # seconds for one page to load, typeset and render


def chromium_binary() -> str | None:
    for name in (os.environ.get("CHROMIUM", ""), "chromium", "chromium-browser", "google-chrome"):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


# --------------------------------------------------------------------------- build


@pytest.fixture(scope="module")
def site() -> Path:
    """Build the book (with offline assets when npm can provide them); return _build/html."""
    subprocess.run([sys.executable, str(ROOT / "tools" / "offline_assets.py"), "install"], cwd=ROOT)
    # Re-execute every page when lib/backprop changed since the cache was filled (make book
    # does the same): the cache keys pages on their own cells, not on the library.
    subprocess.run([sys.executable, str(ROOT / "tools" / "book_cache.py"), str(BUILD)], check=True)
    jb = Path(sys.executable).with_name("jupyter-book")
    cmd = [str(jb) if jb.exists() else "jupyter-book", "build", ".", "-n", "-W", "--keep-going"]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=1800)
    log = proc.stdout + proc.stderr
    (BUILD / "book-build.log").write_text(log)
    problems = [
        line for line in log.splitlines() if re.search(r"\b(WARNING|ERROR|CRITICAL):", line)
    ]
    tail = "\n".join(log.splitlines()[-40:])
    if proc.returncode != 0 or problems:
        pytest.fail(
            f"book build failed (exit {proc.returncode}); warnings/errors:\n"
            + "\n".join(problems[:30])
            + f"\n--- log tail ---\n{tail}",
            pytrace=False,
        )
    return HTML


def test_book_builds_without_warnings(site: Path) -> None:
    assert (site / "index.html").is_file()
    assert pages(site), "the built site has no pages"


def pages(site: Path) -> list[Path]:
    """Every content page of the built site (not the search/index pages or _static)."""
    out = []
    for p in sorted(site.rglob("*.html")):
        rel = p.relative_to(site)
        if rel.parts[0].startswith("_") or rel.name in SKIP_PAGES:
            continue
        out.append(p)
    return out


def redirect_target(page: Path) -> str | None:
    m = re.search(r'http-equiv="refresh"\s+content="\d+;\s*url=([^"]+)"', page.read_text(), re.I)
    return m.group(1) if m else None


def content_pages(site: Path) -> list[Path]:
    return [p for p in pages(site) if redirect_target(p) is None]


# --------------------------------------------------------------------------- static checks


def test_offline_assets_are_used(site: Path) -> None:
    """With node_modules installed, no page loads a script or stylesheet from elsewhere."""
    missing = offline_assets.problems(ROOT)
    if missing:
        pytest.skip("site built with CDN assets: " + "; ".join(missing))
    vendor = site / "_static" / "vendor"
    for folder, entry in offline_assets.PACKAGES.values():
        assert (vendor / folder / entry).is_file(), f"{folder}/{entry} missing from the site"
    remote = re.compile(r'<(?:script|link)\b[^>]*(?:src|href)="(?:https?:)?//[^"]+"', re.I)
    offenders = {}
    for page in content_pages(site):
        hits = [m.group(0) for m in remote.finditer(page.read_text())]
        if hits:
            offenders[str(page.relative_to(site))] = hits
    assert not offenders, f"pages load remote assets: {offenders}"


def _repo_settings() -> dict[str, str]:
    text = (ROOT / "_config.yml").read_text()
    url = re.search(r"^repository:\s*\n(?:\s+.*\n)*?\s+url:\s*(\S+)", text, re.M).group(1)
    branch = re.search(r"^repository:\s*\n(?:\s+.*\n)*?\s+branch:\s*(\S+)", text, re.M).group(1)
    return {"url": url.rstrip("/"), "branch": branch}


def test_launch_and_download_buttons(site: Path) -> None:
    """Every notebook page has Binder + Live Code (Thebe) + download; every page downloads."""
    repo = _repo_settings()
    org_repo = repo["url"].split("github.com/")[-1]
    problems = []
    notebook_pages = 0
    for page in content_pages(site):
        rel = page.relative_to(site).with_suffix("").as_posix()
        html = page.read_text()
        if "btn-download-source-button" not in html:
            problems.append(f"{rel}: no download button")
        if not (ROOT / f"{rel}.ipynb").is_file():
            continue
        notebook_pages += 1
        binder = (
            f"https://mybinder.org/v2/gh/{org_repo}/{repo['branch']}?urlpath=lab/tree/{rel}.ipynb"
        )
        if binder not in html:
            problems.append(f"{rel}: no Binder link {binder}")
        if "initThebeSBT()" not in html or f'repo: "{org_repo}"' not in html:
            problems.append(f"{rel}: no Live Code (Thebe) button pointing at {org_repo}")
        if (
            f"_sources/{rel}.ipynb" not in html
            or not (site / "_sources" / f"{rel}.ipynb").is_file()
        ):
            problems.append(f"{rel}: the .ipynb download is missing")
    assert notebook_pages, "no notebook pages in the site"
    assert not problems, "\n".join(problems)


# --------------------------------------------------------------------------- browser


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    extensions_map = {  # noqa: RUF012
        **http.server.SimpleHTTPRequestHandler.extensions_map,
        ".js": "text/javascript",
        ".mjs": "text/javascript",
        ".json": "application/json",
        ".svg": "image/svg+xml",
        ".woff": "font/woff",
        ".woff2": "font/woff2",
    }

    def log_message(self, format: str, *args: Any) -> None:
        pass


class CDP:
    """A minimal Chrome DevTools Protocol client for one page target."""

    def __init__(self, ws_url: str) -> None:
        import websocket

        self._ws = websocket.create_connection(ws_url, timeout=PAGE_TIMEOUT, suppress_origin=True)
        self._timeout_exc = websocket.WebSocketTimeoutException
        self._id = 0
        self.events: list[dict] = []

    def _recv(self, timeout: float) -> dict | None:
        self._ws.settimeout(max(timeout, 0.01))
        try:
            return json.loads(self._ws.recv())
        except self._timeout_exc:
            return None

    def call(self, method: str, timeout: float = PAGE_TIMEOUT, **params: Any) -> dict:
        self._id += 1
        mid = self._id
        self._ws.send(json.dumps({"id": mid, "method": method, "params": params}))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msg = self._recv(deadline - time.monotonic())
            if msg is None:
                continue
            if msg.get("id") == mid:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            if "method" in msg:
                self.events.append(msg)
        raise TimeoutError(f"{method} got no answer in {timeout} s")

    def wait_for(self, method: str, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        seen = len(self.events)
        if any(e["method"] == method for e in self.events):
            return True
        while time.monotonic() < deadline:
            msg = self._recv(deadline - time.monotonic())
            if msg and "method" in msg:
                self.events.append(msg)
            if any(e["method"] == method for e in self.events[seen:]):
                return True
        return False

    def drain(self, quiet: float = 0.5, timeout: float = 15.0) -> None:
        """Read events until no request has been in flight for `quiet` seconds."""
        deadline = time.monotonic() + timeout
        last_busy = time.monotonic()
        while time.monotonic() < deadline:
            msg = self._recv(0.1)
            if msg and "method" in msg:
                self.events.append(msg)
            started = {
                e["params"]["requestId"]
                for e in self.events
                if e["method"] == "Network.requestWillBeSent"
            }
            done = {
                e["params"]["requestId"]
                for e in self.events
                if e["method"] in ("Network.loadingFinished", "Network.loadingFailed")
            }
            if started - done:
                last_busy = time.monotonic()
            elif time.monotonic() - last_busy >= quiet:
                return

    def evaluate(self, expression: str, timeout: float = PAGE_TIMEOUT) -> Any:
        result = self.call(
            "Runtime.evaluate",
            timeout=timeout,
            expression=expression,
            awaitPromise=True,
            returnByValue=True,
        )
        if "exceptionDetails" in result:
            raise RuntimeError(f"page script failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    def close(self) -> None:
        self._ws.close()


# Runs in the page after `load`: waits for MathJax, mermaid and the widget manager to
# finish, then reports what is on the page and steps every jshtml animation.
PAGE_PROBE = r"""
(async () => {
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  const deadline = Date.now() + %(timeout_ms)d;
  const until = async (cond) => { while (!cond() && Date.now() < deadline) await sleep(100); return cond(); };
  const out = {};

  // Maths: every .math node Sphinx wrote must hold an mjx-container, none an error.
  const math = [...document.querySelectorAll(".math")];
  if (math.length) {
    await until(() => window.MathJax && MathJax.startup && MathJax.startup.promise);
    if (window.MathJax && MathJax.startup && MathJax.startup.promise) await MathJax.startup.promise;
  }
  out.math_total = math.length;
  out.math_typeset = math.filter((n) => n.querySelector("mjx-container")).length;
  out.math_untypeset = math.filter((n) => !n.querySelector("mjx-container"))
      .map((n) => n.textContent.trim().slice(0, 80));
  out.math_errors = [...document.querySelectorAll("mjx-merror, [data-mjx-error]")]
      .map((e) => e.getAttribute("data-mjx-error") || e.textContent.slice(0, 80));

  // Mermaid: every diagram rendered as an SVG that is not mermaid's error picture.
  const mermaid = [...document.querySelectorAll(".mermaid")];
  await until(() => mermaid.every((m) => m.querySelector("svg")));
  out.mermaid_total = mermaid.length;
  out.mermaid_svg = mermaid.filter((m) => m.querySelector("svg")).length;
  out.mermaid_errors = mermaid
      .filter((m) => m.querySelector('svg[aria-roledescription="error"]') || /Syntax error/.test(m.textContent))
      .map((m) => (m.getAttribute("data-original-code") || m.textContent).trim().slice(0, 80));

  // Widgets: every saved view has a rendered widget next to it.
  const views = [...document.querySelectorAll('script[type="application/vnd.jupyter.widget-view+json"]')];
  const rendered = (s) => s.parentElement && s.parentElement.querySelector(".jupyter-widgets, .widget-subarea > *");
  await until(() => views.every(rendered));
  out.widget_views = views.length;
  out.widget_rendered = views.filter(rendered).length;
  out.widget_state = document.querySelectorAll('script[type="application/vnd.jupyter.widget-state+json"]').length;

  // Images: all decoded with a real size.
  const imgs = [...document.querySelectorAll("img")];
  for (const img of imgs) { if (img.loading === "lazy") img.loading = "eager"; }
  await Promise.all(imgs.map((img) => img.decode().catch(() => null)));
  out.images_total = imgs.length;
  out.images_broken = imgs.filter((i) => !(i.complete && i.naturalWidth > 0))
      .map((i) => i.getAttribute("src").slice(0, 120));

  // jshtml animations: pause, click "Next frame", the frame (slider and image) changes.
  out.animations = [];
  for (const anim of document.querySelectorAll("div.animation")) {
    const img = anim.querySelector("img");
    const slider = anim.querySelector("input.anim-slider, input[type=range]");
    const pause = anim.querySelector('button[title="Pause"]');
    const next = anim.querySelector('button[title="Next frame"]');
    const rec = {frames: slider ? Number(slider.max) + 1 : 0, has_button: !!next, changed: false};
    if (img && slider && next) {
      if (pause) pause.click();
      await sleep(50);
      const before = [img.src, slider.value];
      next.click();
      await sleep(100);
      rec.frame_before = Number(before[1]);
      rec.frame_after = Number(slider.value);
      rec.changed = img.src !== before[0] && slider.value !== before[1];
    }
    out.animations.push(rec);
  }

  // Raw TeX: a backslash command (\frac, \theta) or a dollar sign left in the text a reader
  // sees, outside typeset maths, code and scripts, means some maths was not recognised
  // (e.g. a line starting with "+" inside $...$ became a list item).
  const skip = "mjx-container, .math, pre, code, .highlight, script, style, noscript, textarea, template";
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  out.raw_tex = [];
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const text = node.textContent.replace(/\s+/g, " ");
    const at = text.search(/\\[A-Za-z]+|\$/);
    if (at < 0) continue;
    const parent = node.parentElement;
    if (!parent || parent.closest(skip)) continue;
    out.raw_tex.push(text.slice(Math.max(0, at - 50), at + 70).trim());
  }

  out.links = [...document.querySelectorAll("a[href]")].map((a) => a.href);
  out.title = document.title;
  return out;
})()
"""


@pytest.fixture(scope="module")
def browser_report(site: Path) -> dict[str, dict]:
    """Load every page in headless Chromium; return {page: findings}."""
    chromium = chromium_binary()
    if chromium is None:
        pytest.skip("Chromium not found (`apt-get install chromium`; .ci/run installs it)")
    pytest.importorskip("websocket", reason="websocket-client is in requirements.txt")
    missing = offline_assets.problems(ROOT)
    if missing:
        pytest.skip(
            "site built with CDN assets (npm missing?): "
            + "; ".join(missing)
            + ". The browser test runs the site with the network blocked."
        )
    if SHOTS.exists():
        shutil.rmtree(SHOTS)
    SHOTS.mkdir(parents=True)

    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(site))
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    origin = f"http://127.0.0.1:{server.server_address[1]}"
    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    proc = subprocess.Popen(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--no-default-browser-check",
            "--hide-scrollbars",
            "--mute-audio",
            f"--user-data-dir={profile}",
            "--remote-debugging-port=0",
            "--remote-debugging-address=127.0.0.1",
            # Everything but the local server is unresolvable: the site must work offline.
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
            "--window-size=1280,900",
            "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    report: dict[str, dict] = {}
    cdp = None
    try:
        port_file = Path(profile) / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not (port_file.is_file() and port_file.read_text().strip()):
            if time.monotonic() > deadline or proc.poll() is not None:
                pytest.fail(f"Chromium did not start (exit code {proc.poll()})")
            time.sleep(0.1)
        port = int(port_file.read_text().split()[0])
        import urllib.request

        targets = []
        while not targets and time.monotonic() < deadline:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list") as r:
                targets = [t for t in json.load(r) if t["type"] == "page"]
            time.sleep(0.1)
        cdp = CDP(targets[0]["webSocketDebuggerUrl"])
        for domain in ("Page", "Runtime", "Network", "Log"):
            cdp.call(f"{domain}.enable")
        cdp.call("Network.setCacheDisabled", cacheDisabled=True)
        cdp.call(
            "Emulation.setDeviceMetricsOverride",
            width=1280,
            height=900,
            deviceScaleFactor=1,
            mobile=False,
        )
        for page in content_pages(site):
            rel = page.relative_to(site).as_posix()
            t0 = time.monotonic()
            report[rel] = visit(cdp, f"{origin}/{rel}", page, site, origin)
            report[rel]["seconds"] = round(time.monotonic() - t0, 2)
    finally:
        if cdp is not None:
            cdp.close()
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        server.shutdown()
        shutil.rmtree(profile, ignore_errors=True)
    (SHOTS / "report.json").write_text(json.dumps(report, indent=1, sort_keys=True))
    return report


def visit(cdp: CDP, url: str, page: Path, site: Path, origin: str) -> dict:
    cdp.events.clear()
    cdp.call("Page.navigate", url=url)
    loaded = cdp.wait_for("Page.loadEventFired", PAGE_TIMEOUT)
    found: dict[str, Any] = {"loaded": loaded}
    if loaded:
        found.update(cdp.evaluate(PAGE_PROBE % {"timeout_ms": int(PAGE_TIMEOUT * 1000) // 2}))
    cdp.drain()
    # Screenshot of the whole page (capped: Chromium cannot capture beyond ~16k px).
    cdp.evaluate("window.scrollTo(0, 0)")
    height = int(min(cdp.call("Page.getLayoutMetrics")["cssContentSize"]["height"], 16000))
    metrics = {"width": 1280, "deviceScaleFactor": 1, "mobile": False}
    cdp.call("Emulation.setDeviceMetricsOverride", height=max(height, 900), **metrics)
    shot = cdp.call("Page.captureScreenshot", format="png")
    cdp.call("Emulation.setDeviceMetricsOverride", height=900, **metrics)
    import base64

    shot_path = SHOTS / (
        page.relative_to(site).with_suffix("").as_posix().replace("/", "__") + ".png"
    )
    shot_path.write_bytes(base64.b64decode(shot["data"]))
    found["screenshot"] = str(shot_path.relative_to(ROOT))

    # Console errors, uncaught exceptions, failed / non-local requests.
    errors, failed, external = [], [], []
    urls = {}
    # Chromium asks for /favicon.ico by itself on a page without an icon; the site never
    # references it, so its 404 is not the site's.
    favicon = f"{origin}/favicon.ico"
    for ev in cdp.events:
        m, p = ev["method"], ev["params"]
        if favicon in json.dumps(p):
            continue
        if m == "Runtime.consoleAPICalled" and p["type"] in ("error", "assert"):
            text = " ".join(str(a.get("value", a.get("description", ""))) for a in p["args"])
            errors.append(f"console.{p['type']}: {text[:300]}")
        elif m == "Runtime.exceptionThrown":
            d = p["exceptionDetails"]
            errors.append(
                f"exception: {d.get('exception', {}).get('description', d.get('text'))[:300]}"
            )
        elif m == "Log.entryAdded" and p["entry"]["level"] == "error":
            errors.append(f"log: {p['entry']['text'][:300]} {p['entry'].get('url', '')}")
        elif m == "Network.requestWillBeSent":
            u = p["request"]["url"]
            urls[p["requestId"]] = u
            if u.startswith(("http:", "https:", "ws:", "wss:")) and not u.startswith(origin):
                external.append(u)
        elif m == "Network.responseReceived" and p["response"]["status"] >= 400:
            failed.append(f"{p['response']['status']} {p['response']['url']}")
        elif m == "Network.loadingFailed":
            failed.append(f"{p['errorText']} {urls.get(p['requestId'], p['requestId'])}")
    found.update(console_errors=errors, failed_requests=failed, external_requests=external)
    found["requests"] = len(urls)

    # Internal links: the target file exists and so does the #fragment in it.
    bad_links, checked = [], set()
    for href in found.pop("links", []):
        if not href.startswith(origin + "/"):
            continue
        parsed = urllib.parse.urlsplit(href)
        if (parsed.path, parsed.fragment) in checked:
            continue
        checked.add((parsed.path, parsed.fragment))
        target = site / urllib.parse.unquote(parsed.path).lstrip("/")
        if target.is_dir():
            target = target / "index.html"
        if not target.is_file():
            bad_links.append(href)
        elif parsed.fragment and target.suffix == ".html":
            ids = _ids(target)
            if urllib.parse.unquote(parsed.fragment) not in ids:
                bad_links.append(href)
    found["links_checked"] = len(checked)
    found["links_broken"] = bad_links
    return found


@functools.cache
def _ids(path: Path) -> frozenset[str]:
    text = path.read_text(errors="replace")
    return frozenset(re.findall(r'\b(?:id|name)="([^"]+)"', text))


def _per_page(report: dict[str, dict], key: str) -> dict[str, Any]:
    return {page: r.get(key) for page, r in report.items() if r.get(key)}


def test_every_page_loads(browser_report: dict[str, dict], site: Path) -> None:
    assert set(browser_report) == {p.relative_to(site).as_posix() for p in content_pages(site)}
    assert all(r["loaded"] for r in browser_report.values()), _per_page(
        {k: {"not_loaded": not v["loaded"]} for k, v in browser_report.items()}, "not_loaded"
    )


def test_no_console_errors(browser_report: dict[str, dict]) -> None:
    assert not _per_page(browser_report, "console_errors")


def test_works_offline_no_failed_requests(browser_report: dict[str, dict]) -> None:
    assert not _per_page(browser_report, "external_requests"), "pages reach off the machine"
    assert not _per_page(browser_report, "failed_requests")


def test_every_formula_typeset(browser_report: dict[str, dict]) -> None:
    assert not _per_page(browser_report, "math_untypeset")
    assert not _per_page(browser_report, "math_errors")
    assert all(r["math_typeset"] == r["math_total"] for r in browser_report.values())


def test_no_raw_tex_in_visible_text(browser_report: dict[str, dict]) -> None:
    """No backslash command or `$` in the visible text outside maths and code."""
    raw = _per_page(browser_report, "raw_tex")
    assert not raw, "raw LaTeX / stray $ in the visible text:\n" + "\n".join(
        f"{page}: {hit!r}" for page, hits in raw.items() for hit in hits
    )


def test_every_mermaid_diagram_rendered(browser_report: dict[str, dict]) -> None:
    missing = {
        p: f"{r['mermaid_svg']}/{r['mermaid_total']} rendered"
        for p, r in browser_report.items()
        if r["mermaid_svg"] != r["mermaid_total"]
    }
    assert not missing
    assert not _per_page(browser_report, "mermaid_errors")


def test_every_animation_steps(browser_report: dict[str, dict]) -> None:
    stuck = {
        p: [a for a in r["animations"] if not (a["has_button"] and a["changed"])]
        for p, r in browser_report.items()
    }
    assert not {p: a for p, a in stuck.items() if a}, "animations whose step button does nothing"


def test_every_image_loads(browser_report: dict[str, dict]) -> None:
    assert not _per_page(browser_report, "images_broken")


def test_every_internal_link_resolves(browser_report: dict[str, dict], site: Path) -> None:
    assert not _per_page(browser_report, "links_broken")
    redirects = {p: redirect_target(p) for p in pages(site) if redirect_target(p)}
    broken = [str(p) for p, t in redirects.items() if not (p.parent / t.split("#")[0]).is_file()]
    assert not broken, f"redirect pages point nowhere: {broken}"


def test_widget_views_render(browser_report: dict[str, dict]) -> None:
    bad = {
        p: f"{r['widget_rendered']}/{r['widget_views']} widget views rendered"
        for p, r in browser_report.items()
        if r["widget_rendered"] != r["widget_views"]
        or (r["widget_views"] and not r["widget_state"])
    }
    assert not bad


def test_screenshots_written(browser_report: dict[str, dict]) -> None:
    for page, r in browser_report.items():
        path = ROOT / r["screenshot"]
        assert path.is_file() and path.stat().st_size > 1000, f"no screenshot for {page}"
