"""Each chapter notebook's execution time (fresh kernel) and each built HTML page's size.

The course promises that every page runs top to bottom in under 30 s on a 2-core machine
and weighs under 2 MB. A page's weight is its HTML plus the images it references from
``_images/`` (notebook figures; animations are inlined in the HTML already); the shared
theme files under ``_static/`` are cached by the browser and are not counted.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

TIME_LIMIT_S = 30.0
SIZE_LIMIT_B = 2_000_000
_SKIP_HTML = {"genindex.html", "search.html", "py-modindex.html"}


@contextmanager
def original_thread_env():
    """Run notebooks with the thread settings the user had, not the benchmark's pinning."""
    saved = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        orig = os.environ.get(f"BENCH_ORIG_{var}")
        if orig is None:
            os.environ.pop(var, None)
        else:
            os.environ[var] = orig
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def notebooks(root: Path) -> list[Path]:
    """Every notebook the book executes (chapters and appendix; exercises are not run)."""
    return sorted(
        p
        for folder in ("chapters", "appendix")
        for p in (root / folder).rglob("*.ipynb")
        if ".ipynb_checkpoints" not in p.parts
    )


def build_if_stale(root: Path, nbs: list[Path]) -> str:
    """Build the book when ``_build/html`` is missing or older than a notebook."""
    html = root / "_build" / "html"
    index = html / "index.html"
    newest = max((p.stat().st_mtime for p in nbs), default=0.0)
    if index.exists() and index.stat().st_mtime >= newest:
        return "up to date"
    jb = Path(sys.executable).with_name("jupyter-book")
    print(f"building the book ({jb.name} build . -n -W --keep-going) ...", flush=True)
    t0 = time.perf_counter()
    with original_thread_env():
        proc = subprocess.run(
            [str(jb), "build", ".", "-n", "-W", "--keep-going"],
            cwd=root,
            capture_output=True,
            text=True,
        )
    took = time.perf_counter() - t0
    status = "built" if proc.returncode == 0 else f"build exited with {proc.returncode}"
    if proc.returncode:
        print(proc.stdout[-3000:], proc.stderr[-3000:], sep="\n")
    return f"{status} in {took:.0f} s"


_CPU_CELL = (
    "import resource as _r; _u = _r.getrusage(_r.RUSAGE_SELF); print(_u.ru_utime + _u.ru_stime)"
)
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def execute(nb_path: Path, timeout: int = 600) -> tuple[float | None, float | None, str]:
    """Run a notebook top to bottom in a fresh kernel: (wall s, kernel CPU s, "ok" or error)."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(nb_path, as_version=4)
    # a last cell reports the kernel's CPU time (user + system, all threads): unlike the
    # wall time it does not grow while the kernel waits for a core on a busy machine
    nb.cells.append(nbformat.v4.new_code_cell(_CPU_CELL))
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(nb_path.parent)}},
    )
    with original_thread_env():
        t0 = time.perf_counter()
        try:
            client.execute()
        except Exception as exc:  # report, do not stop the whole table
            msg = _ANSI.sub("", str(exc)).strip().splitlines()
            err = "error: " + (msg[-1] if msg else type(exc).__name__)
            return time.perf_counter() - t0, None, err
        wall = time.perf_counter() - t0
    try:
        cpu = float(nb.cells[-1].outputs[0]["text"])
    except (IndexError, KeyError, ValueError):
        cpu = None
    return wall, cpu, "ok"


def page_weight(html_file: Path, html_root: Path) -> tuple[int, int]:
    """(bytes of the HTML, bytes of the HTML plus the ``_images/`` files it references)."""
    text = html_file.read_text(encoding="utf-8", errors="replace")
    own = html_file.stat().st_size
    images = set(re.findall(r'src="((?:\.\./)*_images/[^"]+)"', text))
    extra = 0
    for src in images:
        f = (html_file.parent / src).resolve()
        if f.is_file() and html_root.resolve() in f.parents:
            extra += f.stat().st_size
    return own, own + extra


def page_table(root: Path, build: bool = True) -> tuple[str, list[dict[str, object]]]:
    """Markdown table and rows: notebook, execution time, page size, within limits."""
    nbs = notebooks(root)
    html_root = root / "_build" / "html"
    build_status = build_if_stale(root, nbs) if build else "not rebuilt (--skip-build)"
    rows = [_notebook_row(nb, root, html_root) for nb in nbs]
    rows += _markdown_page_rows(html_root, {root / "_build" / "html" / r["page"] for r in rows})
    load = os.getloadavg()
    lines = [
        f"## Pages: execution time and size (limits {TIME_LIMIT_S:.0f} s, "
        f"{SIZE_LIMIT_B / 1e6:.0f} MB)",
        "",
        f"Notebooks executed one after another in a fresh `python3` kernel with nbclient "
        f"(no thread pinning; load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} on "
        f"{os.cpu_count()} cores when the table was made); *kernel CPU* is the kernel process's "
        "CPU time, which does not grow while it waits for a core. Sizes from `_build/html` "
        f"(book: {build_status}); *page* = HTML + the `_images/` it references; *not built*: "
        "the notebook is not in `_toc.yml` yet (or its build failed).",
        "",
        "| page | execution (wall) | kernel CPU | HTML | page | within limits |",
        "| --- | ---: | ---: | ---: | ---: | :---: |",
    ]
    lines += [_table_line(r) for r in rows]
    return "\n".join(lines) + "\n", rows


def _notebook_row(nb: Path, root: Path, html_root: Path) -> dict[str, object]:
    """Execute one notebook; its time, status and (if built) its page's size."""
    rel = nb.relative_to(root)
    print(f"  executing {rel} ...", flush=True)
    seconds, cpu, status = execute(nb)
    row: dict[str, object] = {
        "page": str(rel),
        "seconds": seconds,
        "kernel_cpu_seconds": cpu,
        "status": status,
    }
    page = html_root / rel.with_suffix(".html")
    if page.exists():
        row["html_bytes"], row["page_bytes"] = page_weight(page, html_root)
    return row


def _markdown_page_rows(html_root: Path, notebook_pages: set[Path]) -> list[dict[str, object]]:
    """Size rows for the built pages that are not notebooks (intro, appendix)."""
    rows: list[dict[str, object]] = []
    if not html_root.exists():
        return rows
    for page in sorted(html_root.rglob("*.html")):
        parts = page.relative_to(html_root).parts
        if page.with_suffix(".ipynb") in notebook_pages or page.name in _SKIP_HTML:
            continue
        if parts[0][0] in "_.":
            continue
        rel = page.relative_to(html_root).with_suffix("")
        row: dict[str, object] = {"page": str(rel), "seconds": None, "status": "markdown page"}
        row["html_bytes"], row["page_bytes"] = page_weight(page, html_root)
        rows.append(row)
    return rows


def _table_line(r: dict[str, object]) -> str:
    """One markdown row; sets ``r["within_limits"]``."""
    r["within_limits"] = _verdict(r)
    return f"| `{r['page']}` | {_time_cells(r)} | {_size_cells(r)} | {r['within_limits']} |"


def _time_cells(r: dict[str, object]) -> str:
    t, cpu = r["seconds"], r.get("kernel_cpu_seconds")
    t_txt = "-" if t is None else f"{t:.1f} s"
    if r["status"] not in ("ok", "markdown page"):
        t_txt += f" ({r['status']})"
    return t_txt + " | " + ("-" if cpu is None else f"{cpu:.1f} s")


def _size_cells(r: dict[str, object]) -> str:
    if "page_bytes" not in r:
        return "not built | -"
    return f"{r['html_bytes'] / 1e6:.2f} MB | {r['page_bytes'] / 1e6:.2f} MB"


def _verdict(r: dict[str, object]) -> str:
    t = r["seconds"]
    ok_time = t is None or (t < TIME_LIMIT_S and r["status"] == "ok")
    ok_size = "page_bytes" in r and r["page_bytes"] < SIZE_LIMIT_B
    if ok_time and ok_size:
        return "yes"
    return "size unknown" if ok_time else "NO"
