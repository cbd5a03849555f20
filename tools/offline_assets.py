"""Serve MathJax, mermaid and the Jupyter widgets manager from the book itself.

By default the HTML that Sphinx, sphinxcontrib-mermaid and myst-nb write loads these three
libraries from CDNs, so maths, diagrams and widgets break for readers behind slow or
blocked CDNs and in offline classrooms. This file pins them in ``package.json`` /
``package-lock.json`` and puts them into the site. It has two roles:

``python tools/offline_assets.py install`` (run by ``make book`` and by the site test)
    Runs ``npm ci`` when npm is available and ``node_modules`` is missing or older than
    ``package-lock.json``. Without npm (or when npm fails) it prints one line and exits 0:
    the book still builds, with CDN assets.

Sphinx extension ``offline_assets`` (``sphinx.local_extensions`` in ``_config.yml``)
    If ``node_modules`` holds the pinned versions, copies the files the pages need into
    ``_build/offline_assets/vendor/`` (git-ignored, refreshed when the lock file changes),
    adds that folder to ``html_static_path`` (so the site gets ``_static/vendor/...``) and
    points ``mathjax_path``, ``mermaid_use_local`` and ``nb_ipywidgets_js`` at the copies.
    Otherwise it points them at the *same pinned versions* on jsDelivr and logs one line.

``python tools/offline_assets.py status`` prints which mode a build would use.

The extension also fixes what the browser test (tests/test_site.py) found broken in the
stock pages, in either mode:

- ipywidgets' HTML manager typesets widget labels with the MathJax 2 API
  (``MathJax.Hub.Queue``) and throws under the book's MathJax 3: a small bridge script
  (``_static/vendor/widgets-mathjax3.js``) is loaded before it on widget pages;
- sphinx-thebe registers its inline configuration script twice, a ``SyntaxError`` on every
  page: identical inline scripts are de-duplicated;
- pydata-sphinx-theme logs "Got invalid theme mode" on a first visit unless
  ``html_context['default_mode']`` is set: it is set to ``auto`` (follow the reader's system), which is
  what the theme falls back to anyway;
- matplotlib's ``to_jshtml()`` output links Font Awesome 4 from a retired CDN: the link is
  dropped, the theme's Font Awesome 6 draws the same button icons.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
NODE_MODULES = ROOT / "node_modules"
STAGING = ROOT / "_build" / "offline_assets"  # contains vendor/...; added to html_static_path
CDN = "https://cdn.jsdelivr.net/npm"

# npm package -> (folder under _static/vendor, entry file relative to that folder)
PACKAGES = {
    "mathjax": ("mathjax", "tex-mml-chtml.js"),
    "mermaid": ("mermaid", "mermaid.esm.min.mjs"),
    "@jupyter-widgets/html-manager": ("jupyter-widgets", "embed.js"),
}


def pinned_versions(root: Path = ROOT) -> dict[str, str]:
    """The exact versions ``package.json`` pins for the vendored packages."""
    deps = json.loads((root / "package.json").read_text(encoding="utf-8"))["dependencies"]
    return {name: deps[name] for name in PACKAGES}


def installed_version(name: str, node_modules: Path = NODE_MODULES) -> str | None:
    manifest = node_modules / name / "package.json"
    if not manifest.is_file():
        return None
    return json.loads(manifest.read_text(encoding="utf-8")).get("version")


def problems(root: Path = ROOT) -> list[str]:
    """Why node_modules cannot serve the pinned assets (empty list: it can)."""
    out = []
    for name, version in pinned_versions(root).items():
        have = installed_version(name, root / "node_modules")
        if have is None:
            out.append(f"{name} is not installed")
        elif have != version:
            out.append(f"{name} {have} is installed but package.json pins {version}")
    return out


def _files(name: str, node_modules: Path) -> Iterator[tuple[Path, str]]:
    """(source file, destination relative to the package's vendor folder) to copy."""
    pkg = node_modules / name
    for lic in ("LICENSE", "LICENSE.txt", "LICENSE.md"):
        if (pkg / lic).is_file():
            yield pkg / lic, lic
    if name == "mathjax":
        # The combined component Sphinx uses, plus everything it may load on demand:
        # TeX extensions (autoload), the CHTML fonts, the menu, accessibility + speech.
        es5 = pkg / "es5"
        yield es5 / "tex-mml-chtml.js", "tex-mml-chtml.js"
        for sub in ("a11y", "adaptors", "input", "output", "sre", "ui"):
            for f in sorted((es5 / sub).rglob("*")):
                if f.is_file():
                    yield f, f.relative_to(es5).as_posix()
    elif name == "mermaid":
        # The ES module and the chunks it imports; no source maps.
        dist = pkg / "dist"
        yield dist / "mermaid.esm.min.mjs", "mermaid.esm.min.mjs"
        for f in sorted((dist / "chunks" / "mermaid.esm.min").glob("*.mjs")):
            yield f, f.relative_to(dist).as_posix()
    else:
        # embed.js is the self-contained (non-AMD) build: no require.js needed. Its fonts
        # (Font Awesome) are resolved relative to the script, so they sit next to it.
        dist = pkg / "dist"
        for f in sorted(dist.iterdir()):
            if f.is_file() and not f.name.endswith(".map") and "amd" not in f.name:
                yield f, f.name


def stage(root: Path = ROOT, staging: Path | None = None) -> Path:
    """Copy the pinned assets from node_modules into ``staging/vendor``; return staging.

    Skips the copy when a stamp says the same lock file was staged before.
    """
    staging = staging or root / "_build" / "offline_assets"
    lock = root / "package-lock.json"
    stamp_text = json.dumps(
        {"versions": pinned_versions(root), "lock_mtime_ns": lock.stat().st_mtime_ns}
    )
    stamp = staging / ".stamp"
    if stamp.is_file() and stamp.read_text() == stamp_text:
        return staging
    vendor = staging / "vendor"
    for folder, _entry in PACKAGES.values():
        if (vendor / folder).exists():
            shutil.rmtree(vendor / folder)
    for name, (folder, _entry) in PACKAGES.items():
        for src, rel in _files(name, root / "node_modules"):
            dst = vendor / folder / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)
    stamp.write_text(stamp_text)
    return staging


def cdn_urls(root: Path = ROOT) -> dict[str, str]:
    v = pinned_versions(root)
    return {
        "mathjax": f"{CDN}/mathjax@{v['mathjax']}/es5/tex-mml-chtml.js",
        "mermaid": f"{CDN}/mermaid@{v['mermaid']}/dist/mermaid.esm.min.mjs",
        "@jupyter-widgets/html-manager": (
            f"{CDN}/@jupyter-widgets/html-manager@{v['@jupyter-widgets/html-manager']}"
            "/dist/embed.js"
        ),
    }


# --------------------------------------------------------------------------- Sphinx


WIDGETS_MATHJAX3 = """\
// Written by tools/offline_assets.py. ipywidgets' HTML manager typesets widget labels
// with the MathJax 2 API, MathJax.Hub.Queue(["Typeset", MathJax.Hub, element]); the book
// loads MathJax 3. Bridge that one call once the deferred MathJax script has run.
document.addEventListener("DOMContentLoaded", function () {
  var MJ = window.MathJax;
  if (!MJ || MJ.Hub || !MJ.startup) return;
  MJ.Hub = {
    Queue: function () {
      Array.prototype.forEach.call(arguments, function (job) {
        if (Array.isArray(job) && job[0] === "Typeset") {
          MJ.startup.promise
            .then(function () { return MJ.typesetPromise(job[2] ? [job[2]] : undefined); })
            .catch(function (err) { console.warn("MathJax typeset of a widget failed", err); });
        }
      });
    },
  };
});
"""


def _configure(app: Any, config: Any) -> None:
    from sphinx.util import logging

    log = logging.getLogger(__name__)
    root = Path(app.srcdir)
    context = dict(config.html_context or {})
    context.setdefault("default_mode", "auto")  # pydata-sphinx-theme reads it from here
    config.html_context = context
    missing = problems(root)
    staging = root / "_build" / "offline_assets"
    (staging / "vendor").mkdir(parents=True, exist_ok=True)
    (staging / "vendor" / "widgets-mathjax3.js").write_text(WIDGETS_MATHJAX3)
    config.html_static_path = [*config.html_static_path, str(staging)]
    shim = {"vendor/widgets-mathjax3.js": {}}
    if missing:
        for folder, _entry in PACKAGES.values():  # no stale copies from an earlier build
            shutil.rmtree(staging / "vendor" / folder, ignore_errors=True)
        (staging / ".stamp").unlink(missing_ok=True)
        urls = cdn_urls(root)
        config.mathjax_path = urls["mathjax"]
        config.mermaid_use_local = urls["mermaid"]
        config.nb_ipywidgets_js = {
            **shim,
            urls["@jupyter-widgets/html-manager"]: {"crossorigin": "anonymous"},
        }
        log.info(
            "offline assets: not available (%s); the site loads MathJax, mermaid and "
            "the widget manager from cdn.jsdelivr.net. Run `make book` with npm installed "
            "for a site that works offline.",
            "; ".join(missing),
        )
        return
    stage(root, staging)
    entry = {name: f"vendor/{folder}/{file}" for name, (folder, file) in PACKAGES.items()}
    config.mathjax_path = entry["mathjax"]  # relative to _static/
    config.mermaid_use_local = entry["mermaid"]  # relative to _static/
    # myst-nb adds these with app.add_js_file, which resolves relative names in _static/.
    config.nb_ipywidgets_js = {**shim, entry["@jupyter-widgets/html-manager"]: {}}
    log.info("offline assets: MathJax, mermaid and the widget manager served from _static/vendor")


# matplotlib's Animation.to_jshtml() output links Font Awesome 4 from a retired CDN for its
# button icons. The theme already ships Font Awesome 6, whose `fa fa-play`-style legacy
# names render the same icons, so the link is dropped from every page (it is only
# a failed request offline and a redirect online).
JSHTML_FONT_AWESOME = re.compile(
    r'<link rel="stylesheet"\s+href="https://maxcdn\.bootstrapcdn\.com/font-awesome/'
    r'[0-9.]+/css/font-awesome\.min\.css">\s*'
)


def _fix_page(app: Any, pagename: str, templatename: str, context: dict, doctree: Any) -> None:
    body = context.get("body")
    if body and "maxcdn.bootstrapcdn.com" in body:
        context["body"] = JSHTML_FONT_AWESOME.sub("", body)
    scripts = context.get("script_files")
    if scripts:
        seen, unique = set(), []
        for js in scripts:
            # sphinx-thebe's script arrives once with filename None, once with "".
            attrs = getattr(js, "attributes", {}) or {}
            filename = str(getattr(js, "filename", js) or "")
            key = (filename, json.dumps(attrs, sort_keys=True, default=str))
            if key not in seen:
                seen.add(key)
                unique.append(js)
        context["script_files"] = unique


def setup(app: Any) -> dict[str, Any]:
    # Run before the extensions that read these values (they read them later, at
    # builder-inited / html-page-context), so setting them at config-inited is enough.
    app.connect("config-inited", _configure, priority=100)
    app.connect("html-page-context", _fix_page, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}


# --------------------------------------------------------------------------- CLI


def install(root: Path = ROOT) -> int:
    """Bring node_modules up to date with package-lock.json when npm is available."""
    lock = root / "package-lock.json"
    marker = root / "node_modules" / ".package-lock.json"  # written by npm
    fresh = marker.is_file() and marker.stat().st_mtime >= lock.stat().st_mtime
    if fresh and not problems(root):
        return 0
    npm = shutil.which("npm")
    if npm is None:
        print(
            "npm not found: building the site with MathJax, mermaid and widgets from CDNs "
            "(install Node.js + npm for a site that works offline)"
        )
        return 0
    cmd = [npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error"]
    result = subprocess.run(cmd, cwd=root, capture_output=True, text=True)
    if result.returncode != 0:
        tail = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["?"]
        print(f"npm ci failed ({tail[0]}): building the site with CDN assets")
        return 0
    return 0


def main(argv: list[str]) -> int:
    cmd = argv[1] if len(argv) > 1 else "install"
    if cmd == "install":
        return install()
    if cmd == "status":
        missing = problems()
        print("offline" if not missing else "cdn: " + "; ".join(missing))
        return 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
