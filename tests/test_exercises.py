"""Proof that the graded exercises work and that their tests bite.

For every exercise in exercises/source/:
- the committed student notebook is what `otter assign` makes of the source today;
- the student notebook contains no solution;
- the reference solution scores full marks under `otter run` (the instructors' grader);
- every planted bug in exercises/source/<name>.bugs.yml scores below full marks on its
  question, and the feedback names the mistake;
- the blank student notebook runs to the end without an error and scores 0.
"""

from __future__ import annotations

import csv
import json
import shutil
import sys
from pathlib import Path

import nbformat
import pytest
import yaml
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import exercises as ex  # noqa: E402

NAMES = [p.stem for p in ex.sources()]


@pytest.fixture(scope="module", autouse=True)
def built() -> None:
    """Build the autograder zips and solution notebooks once (they are git-ignored)."""
    ex.build_dist_only()


def run_otter(notebook: nbformat.NotebookNode, name: str, tmp_path: Path) -> dict[str, dict]:
    """Grade ``notebook`` (saved as ``<name>.ipynb``) and return results by question."""
    folder = tmp_path / f"sub-{len(list(tmp_path.iterdir()))}"
    folder.mkdir()
    path = folder / f"{name}.ipynb"
    nbformat.write(notebook, path)
    ex.grade_one(path, folder / "out")
    results = json.loads((folder / "out" / "results.json").read_text())
    return {t["name"]: t for t in results["tests"] if t["name"] != "Public Tests"}


def feedback_messages(output: str) -> list[str]:
    """The messages a learner sees: the text after each "Feedback: " in otter's output.

    Otter's report also echoes the failing line of the test's source code, so searching the
    whole output could find a message that was written in the test but never shown.
    """
    return [
        " ".join(part.split("Error at line")[0].split()) for part in output.split("Feedback: ")[1:]
    ]


def load_bugs(name: str) -> dict[str, list[dict]]:
    return yaml.safe_load((ex.SOURCE / f"{name}.bugs.yml").read_text())


def plant(solution: nbformat.NotebookNode, bug: dict) -> None:
    """Apply one planted bug's replacements to the solution's code cells, in place."""
    for old, new in [(bug["old"], bug["new"]), *bug.get("also", [])]:
        hits = [c for c in solution.cells if c.cell_type == "code" and old in c.source]
        assert len(hits) == 1, f"bug {bug['name']!r}: {old!r} found in {len(hits)} cells"
        hits[0].source = hits[0].source.replace(old, new)


@pytest.mark.parametrize("name", NAMES)
def test_student_notebook_is_up_to_date(name: str) -> None:
    problems = [p for p in ex.stale() if p.startswith(name)]
    assert not problems, f"{problems}: run `make exercises` and commit"


@pytest.mark.parametrize("name", NAMES)
def test_student_notebook_has_no_solutions(name: str) -> None:
    nb = nbformat.read(ex.STUDENT / f"{name}.ipynb", as_version=4)
    text = "\n".join(c.source for c in nb.cells)
    assert "SOLUTION" not in text
    answers = [c for c in nb.cells if "otter_answer_cell" in c.metadata.get("tags", [])]
    assert answers and all("..." in c.source for c in answers)
    public_tests = json.dumps(nb.metadata.get("otter", {}).get("tests", {}))
    assert "hidden=True" not in public_tests, "hidden tests leaked into the student notebook"
    assert "hidden=False" in public_tests, "the student notebook has no public tests"


@pytest.mark.parametrize("name", NAMES)
def test_solution_scores_full_marks(name: str, tmp_path: Path) -> None:
    solution = nbformat.read(ex.DIST / "solutions" / f"{name}.ipynb", as_version=4)
    results = run_otter(solution, name, tmp_path)
    assert set(results) == set(load_bugs(name)), "every question needs planted bugs"
    for question, r in results.items():
        assert r["score"] == r["max_score"] > 0, f"{question}: {r.get('output', '')}"


@pytest.mark.parametrize("name", NAMES)
def test_planted_bugs_lose_marks_with_the_right_message(name: str, tmp_path: Path) -> None:
    bugs = load_bugs(name)
    assert all(len(v) >= 2 for v in bugs.values()), "at least two planted bugs per question"
    for round_ in range(max(len(v) for v in bugs.values())):
        buggy = nbformat.read(ex.DIST / "solutions" / f"{name}.ipynb", as_version=4)
        planted = {q: v[round_] for q, v in bugs.items() if round_ < len(v)}
        for bug in planted.values():
            plant(buggy, bug)
        results = run_otter(buggy, name, tmp_path)
        for question, bug in planted.items():
            r = results[question]
            assert r["score"] < r["max_score"], f"{question}: bug {bug['name']!r} got full marks"
            shown = feedback_messages(r["output"])
            assert any(bug["message"] in m for m in shown), (
                f"{question}: bug {bug['name']!r} gave feedback without {bug['message']!r}:\n"
                + r["output"]
            )


@pytest.mark.parametrize("name", NAMES)
def test_blank_notebook_runs_to_the_end_and_scores_zero(name: str, tmp_path: Path) -> None:
    work = tmp_path / "blank"
    work.mkdir()
    shutil.copy(ex.STUDENT / f"{name}.ipynb", work / f"{name}.ipynb")
    nb = nbformat.read(work / f"{name}.ipynb", as_version=4)
    # Executes like a learner pressing "Run all": any exception fails the test.
    NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(work)}}
    ).execute()
    checks = [
        "".join(o.get("text", "")) + json.dumps(o.get("data", {}))
        for c in nb.cells
        if c.cell_type == "code" and "grader.check(" in c.source
        for o in c.outputs
    ]
    assert checks and all("Traceback" not in text for text in checks)
    results = run_otter(nbformat.read(ex.STUDENT / f"{name}.ipynb", as_version=4), name, tmp_path)
    assert results and all(r["score"] == 0 for r in results.values()), results


def test_grading_a_folder_of_submissions_gives_one_csv(tmp_path: Path) -> None:
    """The instructors' loop: full, partial and blank submissions -> one CSV."""
    name = NAMES[0]
    subs = tmp_path / "submissions"
    solution = nbformat.read(ex.DIST / "solutions" / f"{name}.ipynb", as_version=4)
    partial = nbformat.read(ex.DIST / "solutions" / f"{name}.ipynb", as_version=4)
    first_question, first_bugs = next(iter(load_bugs(name).items()))
    plant(partial, first_bugs[0])
    blank = nbformat.read(ex.STUDENT / f"{name}.ipynb", as_version=4)
    for student, nb in [("ada", solution), ("ben", partial), ("cy", blank)]:
        (subs / student).mkdir(parents=True)
        nbformat.write(nb, subs / student / f"{name}.ipynb")
    (subs / "dee").mkdir()
    (subs / "dee" / f"{name}.ipynb").write_text("{ not a notebook")  # a broken upload
    out = tmp_path / "grades.csv"
    ex.grade(subs, out)
    rows = list(csv.DictReader(out.open()))
    total = {r["student"]: float(r["score"]) for r in rows if r["question"] == "TOTAL"}
    most = {r["student"]: float(r["max_score"] or 0) for r in rows if r["question"] == "TOTAL"}
    assert total["ada"] == most["ada"] > total["ben"] > total["cy"] == 0
    (dee,) = [r for r in rows if r["student"] == "dee"]
    assert float(dee["score"]) == 0 and dee["note"].startswith("otter run failed")
    ben_first = [r for r in rows if r["student"] == "ben" and r["question"] == first_question]
    assert float(ben_first[0]["score"]) < float(ben_first[0]["max_score"])
