"""Grading with nbgrader: the solutions carry its cell metadata, written by the lab generator,
and nbgrader's own pipeline (generate_assignment, then autograde) gives a solved lab full
points and the generated stub none.

nbgrader runs in a temporary course directory (never in the repository); about 8 s.
"""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from sagalab.authoring import labgen
from sagalab.authoring.labcheck import is_check

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = labgen.solutions()
BIN = Path(sys.executable).parent
GRADED_LAB = "lab00_warmup.ipynb"       # the quickest lab to run; any lab would do


def code_cells(path: Path):
    return [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]


@pytest.mark.parametrize("solution", SOLUTIONS, ids=lambda p: p.name)
def test_exercises_are_answers_and_checks_are_locked_graded_tests(solution):
    ids = []
    for cell in code_cells(solution):
        meta = cell.metadata.get("nbgrader")
        first = cell.source.splitlines()[0] if cell.source else ""
        if labgen.BEGIN in cell.source:
            assert meta and meta["solution"] is True and meta["grade"] is False, (
                f"{solution.name}: the exercise cell {first!r} is not an nbgrader answer cell: "
                f"{meta}; run `python -m sagalab.authoring.labgen`")
        elif is_check(cell):
            assert meta and meta["grade"] is True and meta["locked"] is True \
                and meta["points"] > 0 and meta["solution"] is False, (
                f"{solution.name}: the check cell {first!r} is not a locked nbgrader test with "
                f"points: {meta}; run `python -m sagalab.authoring.labgen`")
        else:
            assert meta is None, f"{solution.name}: {first!r} has nbgrader metadata {meta}"
            continue
        assert meta["schema_version"] == 3 and meta["task"] is False, meta
        ids.append(meta["grade_id"])
    assert ids and len(ids) == len(set(ids)), f"{solution.name}: grade ids not unique: {ids}"


@pytest.mark.parametrize("solution", SOLUTIONS, ids=lambda p: p.name)
def test_the_metadata_is_the_generators_and_the_lab_keeps_it(solution):
    """Written by labgen, not by hand (the file is what the generator makes of it: running it
    again changes nothing), and the generated lab carries the same metadata."""
    assert solution.read_text(encoding="utf-8") == labgen.solution_text(solution), (
        f"{solution.name}: its nbgrader metadata is not the generator's: run "
        f"`python -m sagalab.authoring.labgen {solution.stem.split('_')[0]}`")
    lab = nbformat.reads(labgen.lab_text(solution), as_version=4)
    assert [c.metadata.get("nbgrader") for c in lab.cells] == \
           [c.metadata.get("nbgrader") for c in nbformat.read(solution, as_version=4).cells]


def test_a_check_without_an_exercise_and_a_repeated_id_are_refused():
    def notebook(*cells):
        return nbformat.v4.new_notebook(cells=list(cells))

    def answer():
        return nbformat.v4.new_code_cell("# Exercise 1 — a\n### BEGIN SOLUTION\nx = 1\n"
                                         "### END SOLUTION")

    def check():
        return nbformat.v4.new_code_cell("assert x == 1", metadata={"tags": ["check"]})

    with pytest.raises(labgen.LabError, match="must follow an exercise"):
        labgen.grading_metadata(notebook(check()), "lab9.ipynb")
    with pytest.raises(labgen.LabError, match="grade id 'ex1'"):
        labgen.grading_metadata(notebook(answer(), check(), answer()), "lab9.ipynb")
    metas = labgen.grading_metadata(notebook(answer(), check()), "lab9.ipynb")
    assert [m["grade_id"] for m in metas] == ["ex1", "check1"]


def nbgrader(course: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env["PATH"] = str(BIN) + os.pathsep + env.get("PATH", "")    # nbgrader runs `alembic`
    done = subprocess.run([str(BIN / "nbgrader"), *args], cwd=course, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"nbgrader {' '.join(args)} failed:\n{done.stderr[-4000:]}"
    return done


@pytest.mark.skipif(not (BIN / "nbgrader").exists(),
                    reason="nbgrader is not installed (the `instructor` extra brings it)")
def test_nbgrader_gives_the_solution_full_points_and_the_stub_none(tmp_path):
    course, assignment = tmp_path / "course", "lab00"
    (course / "source" / assignment).mkdir(parents=True)
    (course / "nbgrader_config.py").write_text(
        f"c = get_config()\nc.CourseDirectory.course_id = 'sagalab'\n"
        f"c.CourseDirectory.root = {str(course)!r}\n")
    shutil.copy(ROOT / "solutions" / GRADED_LAB, course / "source" / assignment / GRADED_LAB)
    nbgrader(course, "generate_assignment", assignment, "--force")
    released = (course / "release" / assignment / GRADED_LAB).read_text(encoding="utf-8")
    assert labgen.BEGIN not in released, "nbgrader's release still holds the solutions"

    submissions = {"solved": ROOT / "solutions" / GRADED_LAB,      # every answer in place
                   "stub": None}                                  # the lab as learners get it
    for student, source in submissions.items():
        nbgrader(course, "db", "student", "add", student)
        folder = course / "submitted" / student / assignment
        folder.mkdir(parents=True)
        text = source.read_text(encoding="utf-8") if source else \
            labgen.lab_text(ROOT / "solutions" / GRADED_LAB)
        (folder / GRADED_LAB).write_text(text, encoding="utf-8")
    nbgrader(course, "autograde", assignment)

    from nbgrader.api import Gradebook
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        scores = {s: (gradebook.find_submission(assignment, s).score,
                      gradebook.find_submission(assignment, s).max_score) for s in submissions}
    checks = sum(is_check(c) for c in code_cells(ROOT / "solutions" / GRADED_LAB))
    full = float(checks * labgen.POINTS)
    assert scores == {"solved": (full, full), "stub": (0.0, full)}, scores
