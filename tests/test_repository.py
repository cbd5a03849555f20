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


# --------------------------------------------------------------------------- page consistency
# Machine-checkable rules that keep the book's pages consistent (DESIGN.md section 4 and the
# notation appendix). They run on every chapter and appendix page, notebooks and Markdown.

PAGE_FOLDERS = ("chapters", "appendix")
HIDDEN_TAGS = {"remove-input", "hide-input", "remove-cell"}
MAX_VISIBLE_LINE = 80


def _page_notebooks() -> list[Path]:
    return [p for p in NOTEBOOKS if p.relative_to(ROOT).parts[0] in PAGE_FOLDERS]


def _page_markdown() -> list[tuple[str, str]]:
    """(page, markdown text) for every chapter/appendix page; notebooks give their md cells."""
    texts = [
        (str(p.relative_to(ROOT)), p.read_text(encoding="utf-8"))
        for folder in PAGE_FOLDERS
        for p in sorted((ROOT / folder).rglob("*.md"))
    ]
    for path in _page_notebooks():
        nb = json.loads(path.read_text(encoding="utf-8"))
        cells = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown"]
        texts.append((str(path.relative_to(ROOT)), "\n\n".join(cells)))
    return texts


def _strip_fences(text: str) -> str:
    """Blank out fenced code blocks (``` or ~~~), keeping line numbers."""
    out, fence = [], None
    for line in text.splitlines():
        m = re.match(r"\s*(`{3,}|~{3,})", line)
        if fence is None and m:
            fence = m.group(1)
            # MyST directives ({admonition}, {note}, ...) hold Markdown: keep their body.
            out.append("")
            if "{" in line and "{code" not in line and "{mermaid" not in line:
                fence = "directive:" + m.group(1)
            continue
        if fence is not None and line.strip().startswith(fence.removeprefix("directive:")):
            fence = None
            out.append("")
            continue
        if fence is not None and not fence.startswith("directive:"):
            out.append("")
            continue
        out.append(line)
    return "\n".join(out)


def _strip_display_math(text: str) -> str:
    """Blank out $$ ... $$ blocks (they may span lines and contain anything)."""
    return re.sub(r"\$\$.*?\$\$", lambda m: "\n" * m.group(0).count("\n"), text, flags=re.S)


def list_breaks_in_inline_math(text: str) -> list[str]:
    """Lines inside an open inline ``$...$`` that start like a list item (``+ ``, ``- ``...).

    Markdown ends the paragraph there and starts a list, so the maths never closes and the
    page shows raw LaTeX and a stray bullet (chapter 1 once did).
    """
    bad = []
    text = _strip_display_math(_strip_fences(text))
    for para in re.split(r"\n\s*\n", text):
        open_math = False
        for line in para.splitlines():
            if open_math and re.match(r"\s{0,3}([-+*]|\d+[.)])(\s|$)", line):
                bad.append(line.strip()[:80])
            # count unescaped single dollars, skipping `code spans`
            plain = re.sub(r"`[^`]*`", "", line.replace(r"\$", ""))
            open_math ^= plain.count("$") % 2 == 1
    return bad


def test_list_breaks_in_inline_math_detector() -> None:
    broken = "Then $f(a) \\le f(b)\n+ \\frac{L}{2}\\|a-b\\|^2$, and so on."
    fine = "Then $f(a) \\le f(b) +\n\\frac{L}{2}\\|a-b\\|^2$, and so on.\n\n- a list item $x$"
    assert list_breaks_in_inline_math(broken) == ["+ \\frac{L}{2}\\|a-b\\|^2$, and so on."]
    assert list_breaks_in_inline_math(fine) == []


def test_no_list_item_inside_inline_math() -> None:
    bad = {
        name: hits for name, text in _page_markdown() if (hits := list_breaks_in_inline_math(text))
    }
    assert not bad, (
        "a line inside inline maths starts with +/-/* or '1.': Markdown turns it into a list "
        f"item and the maths shows as raw LaTeX; move the sign to the end of the previous line: {bad}"
    )


LAYER_SUBSCRIPT = re.compile(
    r"(?<![A-Za-z\\])(?:[Wbzaδ]|\\delta)_\{?\s*l\s*(?:[+-]\s*\d+\s*)?\}?(?![A-Za-z0-9])"
)


def test_layer_subscript_detector() -> None:
    for s in ("W_l", "W_{l}", "a_{l-1}", "z_{l+1}", r"\delta_l", "b_l"):
        assert LAYER_SUBSCRIPT.search(s), s
    for s in ("W^{[l]}", r"\ell_n", "x_n", "W_1", "data_l", "W_{lr}", "a_{ln}"):
        assert not LAYER_SUBSCRIPT.search(s), s


def _notation_texts() -> list[tuple[str, str]]:
    """The pages' markdown plus the exercise sources' (learners read both)."""
    texts = _page_markdown()
    for path in sorted((ROOT / "exercises" / "source").glob("*.ipynb")):
        nb = json.loads(path.read_text(encoding="utf-8"))
        cells = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown"]
        texts.append((str(path.relative_to(ROOT)), "\n\n".join(cells)))
    return texts


def test_layer_indices_are_superscripts() -> None:
    """The notation appendix writes layer l as a superscript [l], never a subscript."""
    bad = {
        name: sorted(set(LAYER_SUBSCRIPT.findall(text)))
        for name, text in _notation_texts()
        if LAYER_SUBSCRIPT.search(text)
    }
    assert not bad, f"subscript layer indices (write W^{{[l]}}, a^{{[l-1]}}): {bad}"


PLAIN_L_LOSS = re.compile(
    r"\\partial\s*L(?![A-Za-z_])|(?<![A-Za-z\\])L\s*=\s*-?\s*\\frac\{?1\}?\{?N"
)


def test_plain_l_loss_detector() -> None:
    for s in (
        r"\partial L/\partial a",
        r"\frac{\partial L}{\partial z}",
        r"L = \frac{1}{N}\sum",
        r"L = -\frac1N \sum",
    ):
        assert PLAIN_L_LOSS.search(s), s
    for s in (
        r"\partial \mathcal{L}/\partial a",
        r"\mathcal{L} = \frac{1}{N}",
        r"2/L",
        r"\partial L_\text{x}",
    ):
        assert not PLAIN_L_LOSS.search(s), s


def test_the_loss_is_calligraphic() -> None:
    """The loss is \\mathcal{L}; plain L is only the smoothness constant of chapter 1."""
    bad = {
        name: sorted(set(PLAIN_L_LOSS.findall(text)))
        for name, text in _notation_texts()
        if PLAIN_L_LOSS.search(text)
    }
    assert not bad, f"plain L used as the loss (write \\mathcal{{L}}): {bad}"


def _code_cells(path: Path) -> list[tuple[int, set[str], str]]:
    nb = json.loads(path.read_text(encoding="utf-8"))
    return [
        (i, set(c.get("metadata", {}).get("tags", [])), "".join(c["source"]))
        for i, c in enumerate(nb["cells"])
        if c["cell_type"] == "code"
    ]


@pytest.mark.parametrize("path", _page_notebooks(), ids=lambda p: str(p.relative_to(ROOT)))
def test_visible_code_fits_the_column(path: Path) -> None:
    long = [
        f"cell {i}: {len(line)} chars: {line.strip()[:60]}"
        for i, tags, src in _code_cells(path)
        if not tags & HIDDEN_TAGS
        for line in src.splitlines()
        if len(line) > MAX_VISIBLE_LINE
    ]
    assert not long, (
        f"visible code lines over {MAX_VISIBLE_LINE} characters (reformat, or hide plotting "
        "code with a hide-input tag):\n" + "\n".join(long)
    )


@pytest.mark.parametrize("path", _page_notebooks(), ids=lambda p: str(p.relative_to(ROOT)))
def test_asserts_and_glue_are_hidden(path: Path) -> None:
    shown = [
        i
        for i, tags, src in _code_cells(path)
        if not tags & HIDDEN_TAGS and (re.search(r"\bassert", src) or "glue(" in src)
    ]
    assert not shown, (
        f"cells {shown} show `assert`/`glue(` to readers: move those lines into a cell "
        "tagged remove-input (or hide-input)"
    )


def _headings(text: str) -> list[tuple[int, str]]:
    return [
        (len(m.group(1)), m.group(2).strip())
        for m in re.finditer(r"^(#{1,6})\s+(.*)$", _strip_fences(text), re.M)
    ]


def heading_problems(rel: str, text: str) -> list[str]:
    """The numbering scheme of common.md / DESIGN.md.

    A chapter page (chapters/NN_name) is titled ``# N. Title`` and its sections are
    ``## N.1 Title``, ``## N.2 Title``, ... in order; deeper headings are unnumbered. A
    chapter split into pages (a folder) has an index titled ``# N. Title`` whose own
    headings are unnumbered, and section pages (NN_name inside the folder) titled
    ``# N.k Title`` whose own headings are unnumbered. Appendix pages are unnumbered.
    """
    parts = Path(rel).parts
    heads = _headings(text)
    problems = []
    number = re.compile(r"^\d+(\.\d+)*\.?\s")
    titles = [h for lvl, h in heads if lvl == 1]
    if len(titles) != 1:
        problems.append(f"{len(titles)} level-1 titles, expected 1")
    title = titles[0] if titles else ""
    rest = [(lvl, h) for lvl, h in heads if lvl > 1]
    if parts[0] == "chapters" and len(parts) == 2:  # a chapter page
        n = int(re.match(r"(\d+)_", parts[1]).group(1))
        if not re.match(rf"^{n}\. \S", title):
            problems.append(f"title {title!r} should read '# {n}. Title'")
        expected = 1
        for lvl, h in rest:
            if lvl == 2:
                if not h.startswith(f"{n}.{expected} "):
                    problems.append(f"section {h!r} should be numbered '## {n}.{expected} ...'")
                expected += 1
            elif number.match(h):
                problems.append(f"deeper heading {h!r} should be unnumbered")
    elif parts[0] == "chapters":  # a chapter split into section pages
        n = int(re.match(r"(\d+)_", parts[1]).group(1))
        if parts[-1].startswith("index"):
            if not re.match(rf"^{n}\. \S", title):
                problems.append(f"title {title!r} should read '# {n}. Title'")
        else:
            k = int(re.match(r"(\d+)_", parts[-1]).group(1))
            if not re.match(rf"^{n}\.{k} \S", title):
                problems.append(f"title {title!r} should read '# {n}.{k} Title'")
        problems += [f"heading {h!r} should be unnumbered" for _, h in rest if number.match(h)]
    else:  # appendix
        problems += [f"heading {h!r} should be unnumbered" for _, h in heads if number.match(h)]
    return problems


def test_heading_problems_detector() -> None:
    ok = "# 5. Title\n\n## 5.1 One\n\n### deeper\n\n## 5.2 Two\n"
    assert heading_problems("chapters/05_x.ipynb", ok) == []
    assert heading_problems("chapters/05_x.ipynb", "# Title\n## 5.1 A\n")
    assert heading_problems("chapters/05_x.ipynb", "# 5. T\n## 5.1 A\n## 5.3 B\n")
    assert heading_problems("chapters/05_x.ipynb", "# 5. T\n## 5.1 A\n### 5.1.1 B\n")
    assert heading_problems("chapters/05_x.ipynb", "# 5. T\n## Summary\n")
    assert heading_problems("chapters/04_x/01_a.ipynb", "# 4.1 T\n## Part\n") == []
    assert heading_problems("chapters/04_x/01_a.ipynb", "# 4.1 T\n## 4.1.1 Part\n")
    assert heading_problems("chapters/04_x/index.md", "# 4. T\n## Sections\n") == []


def test_heading_numbering_follows_the_scheme() -> None:
    bad = {
        name: probs for name, text in _page_markdown() if (probs := heading_problems(name, text))
    }
    assert not bad, f"heading numbering (see heading_problems' docstring): {bad}"
