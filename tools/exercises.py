"""Build the graded exercises and grade submissions (otter-grader, no Docker).

    python tools/exercises.py build              # exercises/source/*.ipynb -> exercises/*.ipynb
    python tools/exercises.py check              # fail if a student notebook is out of date
    python tools/exercises.py grade SUBMISSIONS  # one CSV of scores per student and question

Layout produced by ``build``:

    exercises/<name>.ipynb                        student notebook (committed; Binder opens it)
    exercises/dist/<name>-autograder.zip          tests incl. hidden ones (git-ignored)
    exercises/dist/solutions/<name>.ipynb         the solution notebook otter generated

``build`` wraps the body of every test in ``backprop.grading.run_check`` (see
:func:`wrap_tests`), so a failing check shows its feedback and the line
``_run_check(_check, ...)``, never the test's source with the expected values; every exercise,
including ones added later, gets this without writing it.

``grade`` expects one folder per student, each holding that student's notebooks:
``SUBMISSIONS/<student>/<name>.ipynb``. An obviously renamed copy (``03_loss_functions
(1).ipynb``, ``Copy of 03_loss_functions.ipynb``, ``03_loss_functions-ada.ipynb``) is graded
as that exercise, with a note; notebooks in a student's sub-folders count too (not those in
hidden folders such as ``.ipynb_checkpoints``); a notebook outside every student's folder
gets a row saying so. Every notebook is graded in its own process group under a
time limit (``--timeout``), and every cell under a shorter one (``--cell-timeout``), so an
infinite loop costs its question (or, at worst, that notebook), never the class. The CSV is
written row by row and flushed, so an interruption keeps every grade written so far.
"""

from __future__ import annotations

import argparse
import ast
import csv
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "exercises" / "source"
STUDENT = ROOT / "exercises"
DIST = ROOT / "exercises" / "dist"
BIN = Path(sys.executable).parent


def sources(only: str | None = None) -> list[Path]:
    """The master notebooks, in chapter order (``only``: just the one with that name)."""
    found = sorted(SOURCE.glob("*.ipynb"))
    if only is not None:
        found = [p for p in found if p.stem == only]
        if not found:
            raise SystemExit(f"no exercise source named {only!r} in {SOURCE}")
    return found


def assign(master: Path, out: Path) -> Path:
    """Run ``otter assign`` on ``master`` into ``out`` (which must not exist); return it."""
    proc = subprocess.run(
        [str(BIN / "otter"), "assign", str(master), str(out)],
        capture_output=True,
        text=True,
        cwd=master.parent,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"otter assign failed for {master.name}:\n{proc.stdout}\n{proc.stderr}")
    return out


RUNNER_IMPORT = "from backprop.grading import run_check as _run_check"


def wrap_tests(source: str) -> str:
    """Wrap the body of every ``@test_case`` function of an otter test file in ``run_check``.

    ``def test_q(x): <body>`` becomes ``def test_q(x): def _check(x): <body>`` followed by
    ``_run_check(_check, x)``. Otter prints the line of the test function where a failure
    surfaced: now always that last line, never a line holding an expected value.
    """
    tree = ast.parse(source)
    wrapped = 0
    for node in tree.body:
        if not isinstance(node, ast.FunctionDef):
            continue
        if not any(
            isinstance(d, ast.Call) and getattr(d.func, "id", "") == "test_case"
            for d in node.decorator_list
        ):
            continue
        params = [a.arg for a in node.args.args]
        inner = ast.FunctionDef(
            name="_check",
            args=ast.arguments(
                posonlyargs=[],
                args=[ast.arg(arg=a) for a in params],
                kwonlyargs=[],
                kw_defaults=[],
                defaults=[],
            ),
            body=node.body,
            decorator_list=[],
        )
        runner = ast.Expr(
            ast.Call(
                func=ast.Name("_run_check", ast.Load()),
                args=[ast.Name("_check", ast.Load())] + [ast.Name(a, ast.Load()) for a in params],
                keywords=[],
            )
        )
        node.body = [inner, runner]
        wrapped += 1
    if not wrapped:
        raise ValueError(f"no @test_case function found in test file:\n{source}")
    tree.body.insert(0, ast.parse(RUNNER_IMPORT).body[0])
    return ast.unparse(ast.fix_missing_locations(tree)) + "\n"


def wrap_student_notebook(nb: dict) -> dict:
    """Wrap the public tests stored in a student notebook's metadata (in place)."""
    tests = nb.get("metadata", {}).get("otter", {}).get("tests", {})
    for question, source in tests.items():
        tests[question] = wrap_tests(source)
    return nb


def wrap_autograder_zip(src: Path, dst: Path) -> None:
    """Copy an otter autograder zip, wrapping every test file (``tests/*.py``)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename.startswith("tests/") and item.filename.endswith(".py"):
                data = wrap_tests(data.decode("utf-8")).encode("utf-8")
            zout.writestr(item, data)
    _write_atomically(dst, buffer.getvalue())


def _write_atomically(dst: Path, data: bytes) -> None:
    """Write ``dst`` through a temporary file and a rename, so that a reader (another test
    process building the same exercise) never sees a half-written file."""
    tmp = dst.with_name(f".{dst.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, dst)


def normalised(path: Path) -> dict:
    """A notebook's JSON without the fields that change on every ``otter assign`` run."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        cell.pop("id", None)
    return nb


def fresh_student_notebook(out: Path, master: Path) -> dict:
    """The student notebook that ``otter assign`` wrote into ``out``, with wrapped tests."""
    return wrap_student_notebook(normalised(out / "student" / master.name))


def build(
    *,
    student_notebooks: bool = True,
    only: str | None = None,
    stale_problems: list[str] | None = None,
) -> list[Path]:
    """Regenerate the autograder zips, solutions and (optionally) the student notebooks.

    Returns the student notebooks written. With ``stale_problems`` (a list), the committed
    student notebooks are compared with the fresh ones first (as :func:`stale` does, from
    the same ``otter assign`` run) and each difference is appended to it.
    """
    DIST.mkdir(parents=True, exist_ok=True)
    (DIST / "solutions").mkdir(exist_ok=True)
    written = []
    for master in sources(only):
        with tempfile.TemporaryDirectory() as tmp:
            out = assign(master, Path(tmp) / "dist")
            (zip_path,) = (out / "autograder").glob("*.zip")
            wrap_autograder_zip(zip_path, DIST / f"{master.stem}-autograder.zip")
            solution = (out / "autograder" / master.name).read_bytes()
            _write_atomically(DIST / "solutions" / master.name, solution)
            if stale_problems is not None:
                stale_problems.extend(_differences(out, master))
            if not student_notebooks:
                continue
            nb = fresh_student_notebook(out, master)
            nb["nbformat_minor"] = min(nb.get("nbformat_minor", 4), 4)
            target = STUDENT / master.name
            target.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
            written.append(target)
            print(f"built {target.relative_to(ROOT)}")
    return written


def build_dist_only(only: str | None = None) -> list[str]:
    """Build the (git-ignored) autograder zips and solutions, leaving student notebooks alone.

    Returns what :func:`stale` would (from the same ``otter assign`` runs, so a test suite
    that needs both pays for one run per exercise). ``only`` builds one exercise.
    """
    problems: list[str] = []
    build(student_notebooks=False, only=only, stale_problems=problems)
    return problems


def _differences(out: Path, master: Path) -> list[str]:
    """How the committed student notebook differs from the one ``otter assign`` wrote."""
    committed = STUDENT / master.name
    if not committed.exists():
        return [f"{committed.name} is missing"]
    fresh = fresh_student_notebook(out, master)
    mine = normalised(committed)
    fresh["nbformat_minor"] = mine["nbformat_minor"]
    return [f"{committed.name} is out of date with its source"] if fresh != mine else []


def stale() -> list[str]:
    """Names of committed student notebooks that differ from a fresh ``otter assign``."""
    problems = []
    for master in sources():
        with tempfile.TemporaryDirectory() as tmp:
            problems += _differences(assign(master, Path(tmp) / "dist"), master)
    return problems


def autograder_zip(name: str) -> Path:
    """The autograder zip for exercise ``name`` (building the exercises if it is missing)."""
    path = DIST / f"{name}-autograder.zip"
    if not path.exists():
        build()
    return path


class NotGraded(Exception):
    """A submission that could not be graded; the message is the CSV note."""


def _kill_tree(proc: subprocess.Popen) -> None:
    """Kill ``proc``'s process group and every descendant (the kernel has its own session)."""
    import psutil

    try:
        family = psutil.Process(proc.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        family = []
    with_pgid = [proc.pid] + [p.pid for p in family]
    for pid in with_pgid:
        try:
            os.killpg(os.getpgid(pid), signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    for p in family:
        try:
            p.kill()
        except psutil.NoSuchProcess:
            pass
    proc.kill()
    proc.wait()
    psutil.wait_procs(family, timeout=5)


def grade_one(
    notebook: Path,
    out_dir: Path,
    *,
    exercise: str | None = None,
    timeout: float = 600.0,
    cell_timeout: float = 120.0,
) -> tuple[dict[str, tuple[float, float]], list[str]]:
    """Grade one submitted notebook as ``exercise`` (default: its file name).

    Returns ``({question: (score, max_score)}, notes)``; ``notes`` lists cells stopped by
    the cell time limit. Raises :class:`NotGraded` (its message is the reason) when the
    file is not a notebook, when grading takes longer than ``timeout`` seconds (the whole
    process group, kernel included, is killed), or when otter fails.
    """
    import nbformat

    exercise = exercise or notebook.stem
    zip_path = autograder_zip(exercise)
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        nb = nbformat.read(notebook, as_version=4)
    except Exception as exc:  # not JSON, not a notebook, unreadable
        raise NotGraded(f"not a readable notebook ({type(exc).__name__})") from None
    log = out_dir / "stopped-cells.log"
    log.unlink(missing_ok=True)
    guard = nbformat.v4.new_code_cell(
        "from backprop import grading as _grading\n"
        f"_grading.limit_cell_time({cell_timeout!r}, log={str(log)!r})\n"
        "_grading.watch_cells()"
    )
    nb.cells.insert(0, guard)
    work = out_dir / "submission"
    work.mkdir(exist_ok=True)
    graded = work / f"{exercise}.ipynb"  # otter needs the exercise's own file name
    nbformat.write(nb, graded)
    (out_dir / "results.json").unlink(missing_ok=True)
    with open(out_dir / "otter.log", "w") as out:
        proc = subprocess.Popen(
            [str(BIN / "otter"), "run", "-a", str(zip_path), "-o", str(out_dir), str(graded)],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, killed as a whole on timeout
        )
        try:
            returncode = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_tree(proc)
            raise NotGraded(
                f"timed out: grading took longer than {timeout:g} s and was stopped "
                "(a cell that never finishes, e.g. an infinite loop that catches every error)"
            ) from None
        except BaseException:
            _kill_tree(proc)
            raise
    results = out_dir / "results.json"
    if returncode != 0 or not results.exists():
        tail = (out_dir / "otter.log").read_text(errors="replace").strip().splitlines()[-1:]
        raise NotGraded(f"otter run failed (exit code {returncode}): {' '.join(tail)[:200]}")
    scores = {}
    for test in json.loads(results.read_text())["tests"]:
        if test.get("max_score") is not None and test["name"] != "Public Tests":
            scores[test["name"]] = (float(test.get("score") or 0.0), float(test["max_score"]))
    notes = log.read_text().splitlines() if log.exists() else []
    return scores, notes


def exercise_points(name: str) -> Fraction:
    """The total points of exercise ``name``, read from its master notebook."""
    nb = json.loads((SOURCE / f"{name}.ipynb").read_text(encoding="utf-8"))
    total = Fraction(0)
    for cell in nb["cells"]:
        text = "".join(cell["source"])
        if cell["cell_type"] == "raw" and text.lstrip().startswith("# BEGIN QUESTION"):
            config = yaml.safe_load(text.split("\n", 1)[1]) or {}
            total += Fraction(str(config.get("points", 0)))
    return total


_COPY_SUFFIX = re.compile(r"(\s*\(\d+\)|[\s_-]*copy(\s*\d+)?|\s+\d+)+$", re.IGNORECASE)
_COPY_PREFIX = re.compile(r"^copy\s+of\s+", re.IGNORECASE)


def match_exercise(stem: str, known: set[str]) -> tuple[str | None, bool]:
    """The exercise a submitted file name means, and whether it was renamed.

    Accepts the exact name; the name with a copy marker (``name (1)``, ``name copy``,
    ``Copy of name``), in any letter case; and the name followed by anything that starts
    with ``-``, ``_``, ``.`` or a space (``name-ada``). Anything else matches nothing.
    """
    if stem in known:
        return stem, False
    by_lower = {k.lower(): k for k in known}
    base = _COPY_SUFFIX.sub("", _COPY_PREFIX.sub("", stem.strip())).lower()
    if base in by_lower:
        return by_lower[base], True
    hits = [k for low, k in by_lower.items() if base.startswith(low) and base[len(low)] in "-_. "]
    return (hits[0], True) if len(hits) == 1 else (None, False)


def _fmt(value: Fraction | float) -> str:
    """A score for the CSV: exact, at most 4 decimals, no trailing zeros (4/3 -> 1.3333)."""
    return f"{round(float(value), 4):g}"


def _exact(score: float) -> Fraction:
    """Otter's float score as the fraction it stands for (4/3 for 1.3333333333333333)."""
    return Fraction(score).limit_denominator(10_000)


FIELDS = ["student", "exercise", "question", "score", "max_score", "note"]


def grade(
    submissions: Path,
    output: Path,
    *,
    exercises: list[str] | None = None,
    timeout: float = 600.0,
    cell_timeout: float = 120.0,
) -> list[dict[str, object]]:
    """Grade every ``<student>/<exercise>.ipynb`` under ``submissions`` into one CSV.

    Each student gets a ``TOTAL`` row for every exercise in ``exercises`` (default: every
    exercise that at least one student submitted); a missing one scores 0 with the note
    "not submitted". A notebook that cannot be graded (corrupt, timed out) scores 0 with the
    reason; a renamed copy is graded with a note; a file that matches no exercise gets a
    row saying so. Totals are summed from exact scores. Rows are written and flushed one at
    a time.
    """
    known = {m.stem for m in sources()}
    students = sorted(p for p in submissions.iterdir() if p.is_dir() and not p.name.startswith("."))
    # a notebook outside any student's folder cannot be attributed: it gets a row saying so
    loose = sorted(submissions.glob("*.ipynb"))
    plan: dict[str, dict[str, list[tuple[Path, bool]]]] = {}
    strays: dict[str, list[Path]] = {}
    for student_dir in students:
        found: dict[str, list[tuple[Path, bool]]] = {}
        # also in sub-folders (an unpacked archive), but not in hidden ones
        # (.ipynb_checkpoints holds Jupyter's autosaved copies)
        for notebook in sorted(
            p
            for p in student_dir.rglob("*.ipynb")
            if not any(part.startswith(".") for part in p.relative_to(student_dir).parts)
        ):
            exercise, renamed = match_exercise(notebook.stem, known)
            if exercise is None:
                strays.setdefault(student_dir.name, []).append(notebook)
            else:
                found.setdefault(exercise, []).append((notebook, renamed))
        plan[student_dir.name] = found
    wanted = exercises or sorted({e for found in plan.values() for e in found})
    rows: list[dict[str, object]] = []
    work = Path(tempfile.mkdtemp(prefix="grading-"))
    with output.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=FIELDS)
        writer.writeheader()
        fh.flush()

        def emit(row: dict[str, object]) -> None:
            writer.writerow(row)
            fh.flush()  # one row at a time: an interruption keeps every grade written
            rows.append(row)

        for notebook in loose:
            emit(
                {
                    "student": "",
                    "exercise": notebook.stem,
                    "question": "TOTAL",
                    "score": "",
                    "max_score": "",
                    "note": f"not graded: {notebook.name} is in no student's folder "
                    f"(expected {submissions.name}/<student>/<exercise>.ipynb)",
                }
            )
            print(f"{notebook.name}: NOT GRADED (in no student's folder)", file=sys.stderr)
        for student in plan:
            for exercise in wanted:
                emit_exercise(student, exercise, plan[student].get(exercise, []), emit, work,
                              timeout=timeout, cell_timeout=cell_timeout)  # fmt: skip
            for stray in strays.get(student, []):
                emit(
                    {
                        "student": student,
                        "exercise": stray.stem,
                        "question": "TOTAL",
                        "score": _fmt(0),
                        "max_score": "",
                        "note": f"not graded: {stray.name} matches no exercise "
                        f"(expected one of {', '.join(sorted(known))})",
                    }
                )
    shutil.rmtree(work, ignore_errors=True)
    print(f"wrote {output}")
    return rows


def emit_exercise(
    student: str,
    exercise: str,
    files: list[tuple[Path, bool]],
    emit: Callable[[dict[str, object]], None],
    work: Path,
    *,
    timeout: float,
    cell_timeout: float,
) -> None:
    """Grade one student's submission of one exercise and emit its rows."""
    most = exercise_points(exercise)
    row = {"student": student, "exercise": exercise}
    if not files:
        emit({**row, "question": "TOTAL", "score": _fmt(0), "max_score": _fmt(most),
              "note": "not submitted"})  # fmt: skip
        print(f"{student}/{exercise}: not submitted")
        return
    # the exactly named file first, then the most recently modified copy
    files = sorted(files, key=lambda f: (f[1], -f[0].stat().st_mtime))
    notebook, renamed = files[0]
    notes = []
    if renamed:
        notes.append(f"graded {notebook.name} as {exercise}.ipynb (renamed copy)")
    if len(files) > 1:
        notes.append("also found, not graded: " + ", ".join(f.name for f, _ in files[1:]))
    try:
        scores, stopped = grade_one(
            notebook, work / student / exercise, exercise=exercise, timeout=timeout,
            cell_timeout=cell_timeout,
        )  # fmt: skip
    except NotGraded as exc:
        notes.insert(0, f"not graded: {exc}")
        print(f"{student}/{notebook.name}: NOT GRADED ({exc})", file=sys.stderr)
        emit({**row, "question": "TOTAL", "score": _fmt(0), "max_score": _fmt(most),
              "note": "; ".join(notes)})  # fmt: skip
        return
    notes += stopped
    total, possible = Fraction(0), Fraction(0)
    for question, (score, max_score) in scores.items():
        total += _exact(score)
        possible += _exact(max_score)
        emit({**row, "question": question, "score": _fmt(_exact(score)),
              "max_score": _fmt(_exact(max_score)), "note": ""})  # fmt: skip
    emit({**row, "question": "TOTAL", "score": _fmt(total), "max_score": _fmt(possible),
          "note": "; ".join(notes)})  # fmt: skip
    print(f"{student}/{notebook.name}: {_fmt(total)} / {_fmt(possible)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="regenerate student notebooks and autograder zips")
    b.add_argument("--only", help="build just this exercise (e.g. 02_chain_rule)")
    sub.add_parser("check", help="fail if a committed student notebook is out of date")
    g = sub.add_parser("grade", help="grade a folder of submissions into a CSV")
    g.add_argument("submissions", type=Path, help="folder with one sub-folder per student")
    g.add_argument("-o", "--output", type=Path, default=Path("grades.csv"))
    g.add_argument("--timeout", type=float, default=600.0, help="seconds per notebook")
    g.add_argument("--cell-timeout", type=float, default=120.0, help="seconds per cell")
    g.add_argument(
        "--exercise",
        action="append",
        dest="exercises",
        help="expect this exercise from every student (repeatable; default: every exercise "
        "anyone submitted)",
    )
    args = parser.parse_args(argv)
    if args.command == "build":
        build(only=args.only)
    elif args.command == "check":
        problems = stale()
        for p in problems:
            print(p, file=sys.stderr)
        if problems:
            print("run `make exercises` and commit the result", file=sys.stderr)
            return 1
    else:
        if not args.submissions.is_dir():
            parser.error(f"{args.submissions} is not a folder")
        grade(
            args.submissions,
            args.output,
            exercises=args.exercises,
            timeout=args.timeout,
            cell_timeout=args.cell_timeout,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
