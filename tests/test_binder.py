"""Binder gets the same pinned packages as requirements.txt, with a CPU-only torch."""

from __future__ import annotations

import os
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BINDER = ROOT / "binder"
CPU_INDEX = "https://download.pytorch.org/whl/cpu"


def pins(path: Path) -> dict[str, str]:
    """{normalised name: version} of every `name==version` line; options are skipped."""
    out = {}
    for raw in path.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        name, sep, version = line.partition("==")
        assert sep, f"{path.name}: unpinned requirement {line!r}"
        out[re.sub(r"[-_.]+", "-", name.strip().lower())] = version.strip()
    return out


def test_binder_pins_match_requirements() -> None:
    root, binder = pins(ROOT / "requirements.txt"), pins(BINDER / "requirements.txt")
    assert set(binder) == set(root), (
        f"only in requirements.txt: {sorted(set(root) - set(binder))}; "
        f"only in binder/requirements.txt: {sorted(set(binder) - set(root))}"
    )
    drift = {
        name: (root[name], binder[name])
        for name in root
        if binder[name].split("+")[0] != root[name].split("+")[0]
    }
    assert not drift, f"versions differ (requirements.txt, binder/requirements.txt): {drift}"


def test_binder_torch_is_the_cpu_build() -> None:
    text = (BINDER / "requirements.txt").read_text()
    assert pins(BINDER / "requirements.txt")["torch"].endswith("+cpu")
    assert re.search(rf"^--(extra-)?index-url\s+{re.escape(CPU_INDEX)}\s*$", text, re.M), (
        "binder/requirements.txt must name the PyTorch CPU index"
    )


def test_binder_python_and_postbuild() -> None:
    assert (BINDER / "runtime.txt").read_text().strip() == "python-3.11"
    post = BINDER / "postBuild"
    assert os.access(post, os.X_OK), "binder/postBuild must be executable"
    assert re.search(r"pip install .*--no-deps -e \.", post.read_text())
