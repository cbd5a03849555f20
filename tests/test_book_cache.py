"""tools/book_cache.py: the page cache is cleared when the library changes, kept otherwise."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("book_cache", ROOT / "tools" / "book_cache.py")
assert _spec is not None and _spec.loader is not None
book_cache = importlib.util.module_from_spec(_spec)
sys.modules["book_cache"] = book_cache
_spec.loader.exec_module(book_cache)


def _repo(tmp_path: Path) -> tuple[Path, Path]:
    lib = tmp_path / "lib" / "backprop"
    lib.mkdir(parents=True)
    (lib / "nn.py").write_text("A = 1\n")
    (tmp_path / "requirements.txt").write_text("numpy==2.0\n")
    return tmp_path, tmp_path / "_build"


def _fill_cache(build: Path) -> None:
    for name in book_cache.STALE:
        (build / name).mkdir(parents=True, exist_ok=True)
        (build / name / "entry").write_text("old output")


def test_cache_kept_while_the_library_is_unchanged(tmp_path: Path) -> None:
    root, build = _repo(tmp_path)
    book_cache.sync(build, root)
    _fill_cache(build)
    assert book_cache.sync(build, root) is False
    assert all((build / name / "entry").is_file() for name in book_cache.STALE)


def test_cache_cleared_when_a_library_file_changes(tmp_path: Path) -> None:
    root, build = _repo(tmp_path)
    book_cache.sync(build, root)
    _fill_cache(build)
    (root / "lib" / "backprop" / "nn.py").write_text("A = 2\n")
    assert book_cache.sync(build, root) is True
    assert not any((build / name).exists() for name in book_cache.STALE)
    _fill_cache(build)  # the next build refills it: kept from now on
    assert book_cache.sync(build, root) is False


def test_cache_cleared_when_a_library_file_is_added_or_pins_change(tmp_path: Path) -> None:
    root, build = _repo(tmp_path)
    book_cache.sync(build, root)
    _fill_cache(build)
    (root / "lib" / "backprop" / "new.py").write_text("")
    assert book_cache.sync(build, root) is True
    _fill_cache(build)
    (root / "requirements.txt").write_text("numpy==2.1\n")
    assert book_cache.sync(build, root) is True


def test_cache_without_a_recorded_hash_is_cleared(tmp_path: Path) -> None:
    root, build = _repo(tmp_path)
    _fill_cache(build)  # made before this tool existed
    assert book_cache.sync(build, root) is True
    assert (build / book_cache.STAMP).read_text().strip() == book_cache.library_hash(root)


def test_hash_ignores_bytecode(tmp_path: Path) -> None:
    root, _ = _repo(tmp_path)
    before = book_cache.library_hash(root)
    cache = root / "lib" / "backprop" / "__pycache__"
    cache.mkdir()
    (cache / "nn.cpython-311.py").write_text("compiled")
    assert book_cache.library_hash(root) == before
