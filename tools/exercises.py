"""Build the graded exercises and grade submissions (otter-grader, no Docker).

    python tools/exercises.py build              # exercises/source/*.ipynb -> exercises/*.ipynb
    python tools/exercises.py check              # fail if a student notebook is out of date
    python tools/exercises.py grade SUBMISSIONS  # one CSV of scores per student and question

Layout produced by ``build``:

    exercises/<name>.ipynb                        student notebook (committed; Binder opens it)
    exercises/dist/<name>-autograder.zip          tests incl. hidden ones (git-ignored)
    exercises/dist/solutions/<name>.ipynb         the solution notebook otter generated

``grade`` expects one folder per student, each holding that student's notebooks under their
original file names (otter needs the name): ``SUBMISSIONS/<student>/<name>.ipynb``.
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

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


def normalised(path: Path) -> dict:
    """A notebook's JSON without the fields that change on every ``otter assign`` run."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        cell.pop("id", None)
    return nb


def build(*, student_notebooks: bool = True, only: str | None = None) -> list[Path]:
    """Regenerate the autograder zips, solutions and (optionally) the student notebooks.

    Returns the student notebooks written.
    """
    DIST.mkdir(parents=True, exist_ok=True)
    (DIST / "solutions").mkdir(exist_ok=True)
    written = []
    for master in sources(only):
        with tempfile.TemporaryDirectory() as tmp:
            out = assign(master, Path(tmp) / "dist")
            (zip_path,) = (out / "autograder").glob("*.zip")
            shutil.copy(zip_path, DIST / f"{master.stem}-autograder.zip")
            shutil.copy(out / "autograder" / master.name, DIST / "solutions" / master.name)
            if not student_notebooks:
                continue
            nb = normalised(out / "student" / master.name)
            nb["nbformat_minor"] = min(nb.get("nbformat_minor", 4), 4)
            target = STUDENT / master.name
            target.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
            written.append(target)
            print(f"built {target.relative_to(ROOT)}")
    return written


def build_dist_only() -> None:
    """Build the (git-ignored) autograder zips and solutions, leaving student notebooks alone."""
    build(student_notebooks=False)


def stale() -> list[str]:
    """Names of committed student notebooks that differ from a fresh ``otter assign``."""
    problems = []
    for master in sources():
        committed = STUDENT / master.name
        if not committed.exists():
            problems.append(f"{committed.name} is missing")
            continue
        with tempfile.TemporaryDirectory() as tmp:
            out = assign(master, Path(tmp) / "dist")
            fresh = normalised(out / "student" / master.name)
        mine = normalised(committed)
        fresh["nbformat_minor"] = mine["nbformat_minor"]
        if fresh != mine:
            problems.append(f"{committed.name} is out of date with its source")
    return problems


def autograder_zip(name: str) -> Path:
    """The autograder zip for exercise ``name`` (building the exercises if it is missing)."""
    path = DIST / f"{name}-autograder.zip"
    if not path.exists():
        build()
    return path


def grade_one(notebook: Path, out_dir: Path) -> dict[str, tuple[float, float]]:
    """Grade one submitted notebook; return ``{question: (score, max_score)}``."""
    zip_path = autograder_zip(notebook.stem)
    out_dir.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        [str(BIN / "otter"), "run", "-a", str(zip_path), "-o", str(out_dir), str(notebook)],
        capture_output=True,
        text=True,
    )
    results = out_dir / "results.json"
    if proc.returncode != 0 or not results.exists():
        raise RuntimeError(f"otter run failed on {notebook}:\n{proc.stdout}\n{proc.stderr}")
    scores = {}
    for test in json.loads(results.read_text())["tests"]:
        if test.get("max_score") is not None and test["name"] != "Public Tests":
            scores[test["name"]] = (float(test["score"] or 0.0), float(test["max_score"]))
    return scores


def grade(submissions: Path, output: Path) -> list[dict[str, object]]:
    """Grade every ``<student>/<exercise>.ipynb`` under ``submissions`` into one CSV."""
    known = {m.stem for m in sources()}
    rows: list[dict[str, object]] = []
    work = Path(tempfile.mkdtemp(prefix="grading-"))
    for student_dir in sorted(p for p in submissions.iterdir() if p.is_dir()):
        for notebook in sorted(student_dir.glob("*.ipynb")):
            if notebook.stem not in known:
                print(f"skipping {notebook}: no exercise named {notebook.stem}", file=sys.stderr)
                continue
            row = {"student": student_dir.name, "exercise": notebook.stem, "note": ""}
            try:
                scores = grade_one(notebook, work / student_dir.name / notebook.stem)
            except RuntimeError as exc:
                # One broken submission (e.g. not valid JSON) must not stop the class.
                reason = str(exc).splitlines()[0]
                print(f"{student_dir.name}/{notebook.name}: NOT GRADED ({reason})", file=sys.stderr)
                rows.append(
                    {**row, "question": "TOTAL", "score": 0.0, "max_score": "", "note": reason}
                )
                continue
            for question, (score, max_score) in scores.items():
                rows.append({**row, "question": question, "score": score, "max_score": max_score})
            total = sum(s for s, _ in scores.values())
            most = sum(m for _, m in scores.values())
            rows.append({**row, "question": "TOTAL", "score": total, "max_score": most})
            print(f"{student_dir.name}/{notebook.name}: {total:g} / {most:g}")
    with output.open("w", newline="") as fh:
        writer = csv.DictWriter(
            fh, fieldnames=["student", "exercise", "question", "score", "max_score", "note"]
        )
        writer.writeheader()
        writer.writerows(rows)
    shutil.rmtree(work, ignore_errors=True)
    print(f"wrote {output}")
    return rows


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
        grade(args.submissions, args.output)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
