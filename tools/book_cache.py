"""Keep the book's execution cache in step with the library.

``execute_notebooks: cache`` (``_config.yml``) stores each page's outputs in
``_build/.jupyter_cache``, keyed by the page's own code cells. A page whose cells did not
change keeps its old outputs even when ``lib/backprop`` changed, so figures, numbers and
asserts would come from the old library. This tool stores a hash of the library's sources
(and of ``requirements.txt``, the pinned packages) beside the cache; when it differs, it
removes the cache, the executed notebooks and Sphinx's saved environment, so the next
build re-reads and re-executes every page. When nothing changed, the cache is kept.

Usage (``make book`` and the site test run it before ``jupyter-book build``)::

    python tools/book_cache.py [BUILD_DIR]      # default: _build next to this repository
"""

from __future__ import annotations

import hashlib
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STAMP = ".jupyter_cache.library-sha256"
"""The file, inside the build folder, that records the hash the cache was made with."""
STALE = (".jupyter_cache", "jupyter_execute", ".doctrees")
"""What a library change invalidates: the outputs, the executed copies, Sphinx's record
of which pages are up to date (without it Sphinx re-reads every page)."""


def library_hash(root: Path = ROOT) -> str:
    """SHA-256 of every ``lib/backprop`` Python source and ``requirements.txt``, by path."""
    files = sorted((root / "lib" / "backprop").rglob("*.py"))
    files.append(root / "requirements.txt")
    digest = hashlib.sha256()
    for path in files:
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(path.relative_to(root).as_posix().encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def sync(build: Path, root: Path = ROOT) -> bool:
    """Clear the stale parts of ``build`` if the library changed; return whether it did.

    No recorded hash counts as a change when a cache exists (it may predate this tool).
    """
    stamp = build / STAMP
    current = library_hash(root)
    recorded = stamp.read_text().strip() if stamp.is_file() else None
    if recorded == current:
        return False
    cleared = False
    for name in STALE:
        path = build / name
        if path.exists():
            shutil.rmtree(path)
            cleared = True
    build.mkdir(parents=True, exist_ok=True)
    stamp.write_text(current + "\n")
    return cleared


def main(argv: list[str]) -> int:
    build = Path(argv[1]) if len(argv) > 1 else ROOT / "_build"
    if sync(build):
        print(f"book_cache: lib/backprop changed; cleared the page cache in {build}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
