"""Proof that the graded exercises work and that their tests bite.

For every exercise in exercises/source/:
- the committed student notebook is what `otter assign` makes of the source today;
- the student notebook contains no solution;
- the reference solution scores full marks under `otter run` (the instructors' grader);
- every planted bug in exercises/source/<name>.bugs.yml scores below full marks on its
  question, and the feedback names the mistake;
- the blank student notebook runs to the end without an error and scores 0;
- the instructors' loop survives any one notebook: an infinite loop, a renamed, missing,
  corrupt or stray file each get a row and a note, and the CSV is written row by row.
"""

from __future__ import annotations

import csv
import json
import re
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import nbformat
import numpy as np
import pytest
import yaml
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import exercises as ex  # noqa: E402

NAMES = [p.stem for p in ex.sources()]


@pytest.fixture(scope="module", autouse=True)
def short_time_limits() -> Iterator[None]:
    """Planted infinite loops stop after 3 s per call instead of 10 (checks: 18 s, "Going
    further" cells: 6 s): the same limits and messages, at a third of the test time; the
    notebooks' kernels (otter run, nbclient) inherit the variable."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BACKPROP_GRADING_TIME_SCALE", "0.3")
        yield


@pytest.fixture(scope="module")
def built_for_grading_loop() -> None:
    """The autograder zips and solutions of the two exercises the grading-loop tests use."""
    for name in NAMES[:2]:
        ex.build_dist_only(name)


CELL_TIMEOUT = 6.0  # s: short, so a planted infinite loop costs little test time


def run_otter(notebook: nbformat.NotebookNode, name: str, tmp_path: Path) -> dict[str, dict]:
    """Grade ``notebook`` (saved as ``<name>.ipynb``) and return results by question."""
    folder = tmp_path / f"sub-{len(list(tmp_path.iterdir()))}"
    folder.mkdir()
    path = folder / f"{name}.ipynb"
    nbformat.write(notebook, path)
    ex.grade_one(path, folder / "out", timeout=600, cell_timeout=CELL_TIMEOUT)
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


def question_parameters(name: str) -> dict[str, set[str]]:
    """The names each question's tests read from the notebook, from the autograder zip."""
    import ast
    import zipfile

    params: dict[str, set[str]] = {}
    with zipfile.ZipFile(ex.DIST / f"{name}-autograder.zip") as zf:
        for item in zf.namelist():
            if item.startswith("tests/") and item.endswith(".py"):
                tree = ast.parse(zf.read(item).decode())
                names = {
                    a.arg
                    for node in tree.body
                    if isinstance(node, ast.FunctionDef)
                    for a in node.args.args
                }
                params[Path(item).stem] = names
    return params


def solution_values(name: str) -> dict[str, object]:
    """The reference solution's answers: its code cells run in one namespace (checks skipped)."""
    solution = nbformat.read(ex.DIST / "solutions" / f"{name}.ipynb", as_version=4)
    namespace: dict[str, object] = {}
    for cell in solution.cells:
        if cell.cell_type != "code" or any(
            w in cell.source for w in ("grader", "otter", "going_further", "plt.")
        ):
            continue
        exec(cell.source, namespace)  # the course's own reference solution
    return namespace


def answer_texts(value: object) -> set[str]:
    """How the expected value of an answer could appear in a message."""
    if isinstance(value, str):
        return {value}
    texts = set()
    for v in np.ravel(np.asarray(value, dtype=float)):
        if abs(v - round(v)) < 1e-9 and abs(v) < 100:
            continue  # 0, 3 or 10 appear in any text; they are not a giveaway
        texts |= {f"{v:.3g}", f"{v:.4g}", f"{v:.6g}", repr(float(v))}
    return texts


def assert_answer_not_shown(output: str, secrets: dict[str, object], own_text: str) -> None:
    """A failing check's output: only ``_run_check`` lines of the test, and no expected value.

    ``own_text`` is what the learner wrote (a planted bug's new code): a value the learner
    typed may be echoed back.
    """
    for echoed in re.findall(r"Error at line \d+ in test [^:]+:\n(.*)", output):
        assert echoed.strip().startswith("_run_check(_check"), f"test source shown: {echoed}"
    for variable, value in secrets.items():
        for text in answer_texts(value):
            if text in own_text:
                continue
            if isinstance(value, str):
                pattern = rf"(?<![\w'\"]){re.escape(text)}(?![\w'\"])|['\"]{re.escape(text)}['\"]"
            else:
                pattern = rf"(?<![\d.]){re.escape(text)}(?!\d)"
            assert not re.search(pattern, output), (
                f"the answer {text!r} for {variable} is shown:\n{output}"
            )


def load_bugs(name: str) -> dict[str, list[dict]]:
    return yaml.safe_load((ex.SOURCE / f"{name}.bugs.yml").read_text())


def plant(solution: nbformat.NotebookNode, bug: dict) -> None:
    """Apply one planted bug's replacements to the solution's code cells, in place."""
    for old, new in [(bug["old"], bug["new"]), *bug.get("also", [])]:
        hits = [c for c in solution.cells if c.cell_type == "code" and old in c.source]
        assert len(hits) == 1, f"bug {bug['name']!r}: {old!r} found in {len(hits)} cells"
        hits[0].source = hits[0].source.replace(old, new)


class ExerciseChecks:
    """The checks every exercise must pass. One subclass per exercise (below), so that
    pytest-xdist's ``--dist loadscope`` spreads the exercises over the workers."""

    name: str
    stale: list[str]  # how the committed student notebook differs from its source

    @pytest.fixture(scope="class", autouse=True)
    @classmethod
    def built(cls) -> None:
        """Build this exercise's autograder zip and solution once (they are git-ignored),
        and compare its committed student notebook with the same `otter assign` run."""
        cls.stale = ex.build_dist_only(cls.name)

    def test_student_notebook_is_up_to_date(self) -> None:
        problems = self.stale
        assert not problems, f"{problems}: run `make exercises` and commit"

    def test_student_notebook_has_no_solutions(self) -> None:
        name = self.name
        nb = nbformat.read(ex.STUDENT / f"{name}.ipynb", as_version=4)
        text = "\n".join(c.source for c in nb.cells)
        assert "SOLUTION" not in text
        answers = [c for c in nb.cells if "otter_answer_cell" in c.metadata.get("tags", [])]
        assert answers and all("..." in c.source for c in answers)
        public_tests = json.dumps(nb.metadata.get("otter", {}).get("tests", {}))
        assert "hidden=True" not in public_tests, "hidden tests leaked into the student notebook"
        assert "hidden=False" in public_tests, "the student notebook has no public tests"

    def test_solution_scores_full_marks(self, tmp_path: Path) -> None:
        name = self.name
        solution = nbformat.read(ex.DIST / "solutions" / f"{name}.ipynb", as_version=4)
        results = run_otter(solution, name, tmp_path)
        assert set(results) == set(load_bugs(name)), "every question needs planted bugs"
        for question, r in results.items():
            assert r["score"] == r["max_score"] > 0, f"{question}: {r.get('output', '')}"

    def test_planted_bugs_lose_marks_with_the_right_message(self, tmp_path: Path) -> None:
        name = self.name
        bugs = load_bugs(name)
        assert all(len(v) >= 2 for v in bugs.values()), "at least two planted bugs per question"
        params, values = question_parameters(name), solution_values(name)
        secrets = {
            q: {p: values[p] for p in ps if p in values and not callable(values[p])}
            for q, ps in params.items()
        }
        for round_ in range(max(len(v) for v in bugs.values())):
            buggy = nbformat.read(ex.DIST / "solutions" / f"{name}.ipynb", as_version=4)
            planted = {q: v[round_] for q, v in bugs.items() if round_ < len(v)}
            for bug in planted.values():
                plant(buggy, bug)
            results = run_otter(buggy, name, tmp_path)
            for question, bug in planted.items():
                r = results[question]
                assert r["score"] < r["max_score"], (
                    f"{question}: bug {bug['name']!r} got full marks"
                )
                shown = feedback_messages(r["output"])
                assert any(bug["message"] in m for m in shown), (
                    f"{question}: bug {bug['name']!r} gave feedback without {bug['message']!r}:\n"
                    + r["output"]
                )
                # no other planted bug's diagnosis: the message names this mistake only
                others = {b["message"] for b in bugs[question]} - {bug["message"]}
                others -= set(bug.get("also_told", []))  # mistakes this bug really makes too
                wrong = [o for o in others if any(o in m for m in shown)]
                assert not wrong, f"{question}: bug {bug['name']!r} was also told {wrong}"
                new_text = bug["new"] + "".join(n for _, n in bug.get("also", []))
                assert_answer_not_shown(r["output"], secrets[question], new_text)

    def test_blank_notebook_runs_to_the_end_and_scores_zero(self, tmp_path: Path) -> None:
        name = self.name
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
        results = run_otter(
            nbformat.read(ex.STUDENT / f"{name}.ipynb", as_version=4), name, tmp_path
        )
        assert results and all(r["score"] == 0 for r in results.values()), results
        params, values = question_parameters(name), solution_values(name)
        for question, r in results.items():
            secrets = {
                p: values[p] for p in params[question] if p in values and not callable(values[p])
            }
            assert_answer_not_shown(r["output"] + "".join(checks), secrets, "")


for _name in NAMES:
    _class_name = f"TestExercise_{_name}"  # `-k 05_vanishing` selects one exercise
    globals()[_class_name] = type(_class_name, (ExerciseChecks,), {"name": _name})


@pytest.mark.usefixtures("built_for_grading_loop")
def test_grading_a_class_survives_any_one_notebook(tmp_path: Path) -> None:
    """The instructors' loop on a class with every kind of trouble: one row and note each."""
    first, second = NAMES[0], NAMES[1]
    subs = tmp_path / "submissions"
    solution = nbformat.read(ex.DIST / "solutions" / f"{first}.ipynb", as_version=4)
    partial = nbformat.read(ex.DIST / "solutions" / f"{first}.ipynb", as_version=4)
    first_question, first_bugs = next(iter(load_bugs(first).items()))
    plant(partial, first_bugs[0])
    blank = nbformat.read(ex.STUDENT / f"{first}.ipynb", as_version=4)
    # a top-level infinite loop (in the last answer cell): the cell limit stops it
    looping = nbformat.read(ex.DIST / "solutions" / f"{first}.ipynb", as_version=4)
    answer_cells = [c for c in looping.cells if c.cell_type == "code" and "q4_answer =" in c.source]
    answer_cells[0].source = "while True:\n    pass\n" + answer_cells[0].source
    # a loop that swallows even the cell limit: only killing the notebook's processes stops it
    stuck = nbformat.read(ex.DIST / "solutions" / f"{first}.ipynb", as_version=4)
    stuck.cells.insert(
        2,
        nbformat.v4.new_code_cell(
            "import time\nwhile True:\n    try:\n        time.sleep(1)\n"
            "    except BaseException:\n        pass"
        ),
    )
    files = {
        ("ada", f"{first}.ipynb"): solution,
        ("ben", f"{first} (1).ipynb"): partial,  # renamed by a second download
        ("cy", "my notes.ipynb"): blank,  # matches no exercise
        ("eve", f"{first}.ipynb"): stuck,
        ("fay", f"{first}.ipynb"): looping,
    }
    for (student, file), nb in files.items():
        (subs / student).mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, subs / student / file)
    (subs / "dee").mkdir()
    nbformat.write(blank, subs / f"{first}.ipynb")  # in no student's folder
    checkpoints = subs / "ada" / ".ipynb_checkpoints"  # Jupyter's autosave: not a submission
    checkpoints.mkdir()
    nbformat.write(blank, checkpoints / f"{first}-checkpoint.ipynb")
    (subs / "dee" / f"{first}.ipynb").write_text("{ not a notebook")  # a broken upload
    out = tmp_path / "grades.csv"
    # 60 s per notebook: twice what grading a whole solution takes on a loaded machine (the
    # stuck notebook costs this much); the blank notebook's 0 is proven by its own test
    ex.grade(subs, out, exercises=[first, second], timeout=60, cell_timeout=CELL_TIMEOUT)
    rows = list(csv.DictReader(out.open()))

    def total(student: str, exercise: str = first) -> dict[str, str]:
        (row,) = [
            r
            for r in rows
            if r["student"] == student and r["exercise"] == exercise and r["question"] == "TOTAL"
        ]
        return row

    (loose,) = [r for r in rows if r["student"] == ""]
    assert "in no student's folder" in loose["note"] and loose["score"] == ""
    most = str(ex.exercise_points(first))
    assert total("ada")["score"] == total("ada")["max_score"] == most
    assert total("ada")["note"] == ""
    assert 0 < float(total("ben")["score"]) < float(most)
    assert "renamed copy" in total("ben")["note"]
    assert total("cy")["score"] == "0" and total("cy")["note"] == "not submitted"
    assert "matches no exercise" in total("cy", "my notes")["note"]
    assert float(total("dee")["score"]) == 0
    assert total("dee")["note"].startswith("not graded: not a readable notebook")
    assert total("eve")["score"] == "0" and total("eve")["max_score"] == most
    assert "timed out" in total("eve")["note"]
    # the loop cost fay only the question whose cell it sits in
    assert "a cell stopped after" in total("fay")["note"]
    fay = {r["question"]: r for r in rows if r["student"] == "fay" and r["exercise"] == first}
    assert fay["q4_backprop_vs_descent"]["score"] == "0"
    assert float(total("fay")["score"]) == float(most) - float(
        fay["q4_backprop_vs_descent"]["max_score"]
    )
    for student in ["ada", "ben", "cy", "dee", "eve", "fay"]:
        row = total(student, second)
        assert row["score"] == "0" and row["note"] == "not submitted"
        assert row["max_score"] == str(ex.exercise_points(second))
    ben_first = [r for r in rows if r["student"] == "ben" and r["question"] == first_question]
    assert float(ben_first[0]["score"]) < float(ben_first[0]["max_score"])


def test_grades_are_written_row_by_row_with_exact_totals(tmp_path: Path, monkeypatch) -> None:
    """An interruption keeps the rows written so far; thirds add up to a whole."""
    subs = tmp_path / "submissions"
    for student in ["ada", "ben", "cy"]:
        (subs / student).mkdir(parents=True)
        (subs / student / f"{NAMES[0]}.ipynb").write_text("{}")
    out = tmp_path / "grades.csv"
    graded = []

    def fake_grade_one(notebook: Path, out_dir: Path, **kwargs: object):
        graded.append(notebook.parent.name)
        if notebook.parent.name == "cy":
            assert len(list(csv.DictReader(out.open()))) == 8  # already on disk
            raise KeyboardInterrupt  # the instructor presses Ctrl-C
        third = 4 / 3
        return {f"q{i}": (third, third) for i in range(3)}, []

    monkeypatch.setattr(ex, "grade_one", fake_grade_one)
    with pytest.raises(KeyboardInterrupt):
        ex.grade(subs, out)
    rows = list(csv.DictReader(out.open()))
    assert graded == ["ada", "ben", "cy"] and len(rows) == 8
    totals = [r for r in rows if r["question"] == "TOTAL"]
    assert [(r["score"], r["max_score"]) for r in totals] == [("4", "4"), ("4", "4")]
    assert {r["score"] for r in rows if r["question"] != "TOTAL"} == {"1.3333"}


@pytest.mark.parametrize(
    ("file", "match"),
    [
        ("03_loss_functions", ("03_loss_functions", False)),
        ("03_loss_functions (1)", ("03_loss_functions", True)),
        ("03_loss_functions (2) (1)", ("03_loss_functions", True)),
        ("Copy of 03_loss_functions", ("03_loss_functions", True)),
        ("03_Loss_Functions-copy", ("03_loss_functions", True)),
        ("03_loss_functions-ada", ("03_loss_functions", True)),
        ("03_loss", (None, False)),
        ("notes", (None, False)),
    ],
)
def test_renamed_copies_are_matched(file: str, match: tuple) -> None:
    known = {"01_gradient_descent", "03_loss_functions"}
    assert ex.match_exercise(file, known) == match
