"""Repository hygiene: what CI and learners meet on a fresh clone."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def tracked_notebooks() -> list[Path]:
    """Every notebook tracked by git (falls back to a glob outside a git checkout)."""
    try:
        out = subprocess.run(
            ["git", "ls-files", "*.ipynb"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout
        paths = [ROOT / line for line in out.splitlines() if line]
    except (OSError, subprocess.CalledProcessError):
        paths = [p for p in ROOT.rglob("*.ipynb") if ".venv" not in p.parts]
    return [p for p in paths if "_build" not in p.parts and p.exists()]


NOTEBOOKS = tracked_notebooks()


def test_there_are_notebooks() -> None:
    assert any(p.parts[-2] == "chapters" for p in NOTEBOOKS), "no chapter notebooks found"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_notebook_stores_no_outputs(path: Path) -> None:
    nb = json.loads(path.read_text(encoding="utf-8"))
    dirty = [
        i
        for i, cell in enumerate(nb["cells"])
        if cell["cell_type"] == "code" and (cell.get("outputs") or cell.get("execution_count"))
    ]
    assert not dirty, f"{path.name}: cells {dirty} store outputs; clear them before committing"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_notebook_uses_explicit_rng(path: Path) -> None:
    """The global NumPy seed is never used: every draw takes an explicit Generator."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    source = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
    assert not re.search(r"np\.random\.(seed|rand|randn|randint|normal|uniform)\(", source), (
        f"{path.name} uses NumPy's global random state; use rng = np.random.default_rng(SEED)"
    )


def test_requirements_are_pinned() -> None:
    lines = [
        line.strip()
        for line in (ROOT / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    unpinned = [line for line in lines if "==" not in line]
    assert not unpinned, f"unpinned requirements: {unpinned}"
    assert "torch==2.13.0" in lines, "torch must stay pinned to the CPU build 2.13.0"


def test_library_has_no_global_seeding() -> None:
    offenders = [
        str(p.relative_to(ROOT))
        for p in (ROOT / "lib" / "backprop").glob("*.py")
        if re.search(
            r"np\.random\.(seed|rand|randn|randint|normal|uniform|choice)\(", p.read_text()
        )
    ]
    assert not offenders, f"global NumPy random state used in {offenders}"


def _markdown_sources() -> list[tuple[str, str]]:
    texts = [(str(p.relative_to(ROOT)), p.read_text()) for p in ROOT.glob("*.md")]
    texts += [
        (str(p.relative_to(ROOT)), p.read_text())
        for folder in ("appendix", "chapters", "exercises")
        for p in (ROOT / folder).rglob("*.md")
    ]
    for path in NOTEBOOKS:
        nb = json.loads(path.read_text(encoding="utf-8"))
        md = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
        texts.append((str(path.relative_to(ROOT)), md))
    return texts


def test_no_escaped_underscore_inside_text_in_math() -> None:
    r"""MathJax prints ``\text{fan\_in}`` with a visible backslash; write ``\text{fan}_{\text{in}}``."""
    bad = [name for name, text in _markdown_sources() if re.search(r"\\text\{[^}]*\\_", text)]
    assert not bad, f"\\text{{...\\_...}} in {bad}"
