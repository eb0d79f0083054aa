"""No false pass: every lab check fails on plausible wrong answers (tests/mutants/).

For each lab, one kernel runs the solution notebook cell by cell, as a learner's lab would run;
before each exercise's own answer, every mutant of that exercise is run in its place, followed
by the exercise's check cell. A mutant is caught when the exercise cell runs and the check
cell fails with CheckFailed, a message saying what was expected, what was seen and a hint.
That is both what nbval counts as a failure (an error output) and what `course.py check`
reports as ❌ (the same `judge`). Then the real answer runs, and its check must pass.
"""
from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from mutants import Mutant
from sagalab.authoring import labcheck, labgen

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = labgen.solutions()
MUTANT_TIMEOUT = 60


def prefix(solution: Path) -> str:
    return solution.stem.split("_")[0]


def mutants_of(solution: Path) -> list[Mutant]:
    try:
        return importlib.import_module(f"mutants.{prefix(solution)}").MUTANTS
    except ModuleNotFoundError:
        return []


def exercises(solution: Path) -> list[tuple[str, int]]:
    """(exercise id, index of its cell) for every exercise of a solution notebook."""
    nb = nbformat.read(solution, as_version=4)
    return [(labgen.exercise_header(c.source)[0], i) for i, c in enumerate(nb.cells)
            if c.cell_type == "code" and labgen.BEGIN in c.source]


def caught(exercise_outputs, check_outputs) -> tuple[bool, str]:
    """(caught?, what happened) for one mutant's run."""
    if labcheck.errors(exercise_outputs):
        e = labcheck.errors(exercise_outputs)[0]
        return False, f"the exercise cell itself failed ({e.ename}: {e.evalue}), not the check"
    errors = labcheck.errors(check_outputs)
    if not errors:
        return False, "the check PASSED it (or printed its failure without an error output)"
    if errors[0].ename != "CheckFailed":
        return False, f"the check crashed with {errors[0].ename}: {errors[0].evalue[:200]}"
    message = errors[0].evalue
    if not all(part in message for part in ("expected:", "got:", "hint:")):
        return False, f"CheckFailed without expected/got/hint: {message[:200]}"
    verdict = labcheck.judge("exercise", exercise_outputs, check_outputs)
    if verdict.ok:
        return False, "course.py check would call it passed"
    return True, message


@pytest.mark.parametrize("solution", SOLUTIONS, ids=prefix)
def test_every_exercise_has_at_least_two_mutants(solution):
    have = {}
    for mutant in mutants_of(solution):
        have[mutant.exercise] = have.get(mutant.exercise, 0) + 1
    missing = [f"{ex} has {have.get(ex, 0)}" for ex, _ in exercises(solution) if have.get(ex, 0) < 2]
    assert not missing, (f"tests/mutants/{prefix(solution)}.py: every exercise needs at least two "
                         f"plausible wrong answers: {', '.join(missing)}")
    unknown = set(have) - {ex for ex, _ in exercises(solution)}
    assert not unknown, f"mutants name exercises {solution.name} does not have: {sorted(unknown)}"


@pytest.mark.parametrize("solution", SOLUTIONS, ids=prefix)
def test_every_mutant_fails_its_check_and_the_solution_passes(solution):
    nb = nbformat.read(solution, as_version=4)
    by_exercise: dict[str, list[Mutant]] = {}
    for mutant in mutants_of(solution):
        by_exercise.setdefault(mutant.exercise, []).append(mutant)
    problems, seen = [], 0
    with labcheck.Session(solution.parent, timeout=MUTANT_TIMEOUT) as kernel:
        cells = [c for c in nb.cells if c.cell_type == "code"]
        for index, cell in enumerate(cells):
            if labcheck.is_check(cell):
                continue                     # run right after its exercise, below
            header = labgen.exercise_header(cell.source)
            if header and labgen.BEGIN in cell.source:
                check = cells[index + 1]
                for mutant in by_exercise.get(header[0], []):
                    ok, what = caught(kernel.run(mutant.apply(cell.source)), kernel.run(check.source))
                    seen += 1
                    if not ok:
                        problems.append(f"{header[0]} · {mutant.name}: {what}")
                verdict = labcheck.judge(header[0], kernel.run(cell.source), kernel.run(check.source))
                if not verdict.ok:
                    problems.append(f"{header[0]}: the solution itself fails its check: "
                                    f"{verdict.message}")
            else:
                outputs = kernel.run(cell.source)
                assert not labcheck.errors(outputs), (
                    f"{solution.name}: a set-up cell fails: {labcheck.errors(outputs)[0].evalue}")
    assert not problems, (f"{solution.name}: {len(problems)} of {seen} wrong answers were not "
                          f"caught as they should be:\n  " + "\n  ".join(problems))


def _learner_lab(tmp_path: Path, solution: Path, mutant: Mutant) -> Path:
    """The lab as a learner who typed `mutant`'s answer would have it, outputs cleared."""
    nb = nbformat.read(solution, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            if (h := labgen.exercise_header(cell.source)) and h[0] == mutant.exercise \
                    and labgen.BEGIN in cell.source:
                cell.source = mutant.apply(cell.source)
            cell.outputs, cell.execution_count = [], None
    lab = tmp_path / solution.name
    nbformat.write(nb, lab)
    return lab


def test_the_false_pass_is_caught_by_nbval_and_by_course_check(tmp_path):
    """Issue 15's reproduction, end to end: lab 01 Ex 1 with `group.create_task(call)`.
    IPython 9 used to store no error output for it, so nbval said `7 passed`."""
    solution = next(s for s in SOLUTIONS if prefix(s) == "lab01")
    mutant = next(m for m in mutants_of(solution) if "parentheses" in m.name)
    lab = _learner_lab(tmp_path, solution, mutant)
    nbval = subprocess.run([sys.executable, "-m", "pytest", "--nbval-lax", "--nbval-current-env",
                            "-p", "no:cacheprovider", "-p", "sagalab.authoring.pytest_plugin",
                            f"--rootdir={tmp_path}", str(lab)],
                           cwd=tmp_path, capture_output=True, text=True)
    assert nbval.returncode == 1, nbval.stdout[-2000:]
    code_cells = sum(c.cell_type == "code" for c in nbformat.read(lab, as_version=4).cells)
    assert f"1 failed, {code_cells - 1} passed" in nbval.stdout, nbval.stdout[-2000:]
    # the report names the exercise and shows the check's message, not the cell's source
    assert "Exercise 1 — run steps in parallel" in nbval.stdout
    assert "got:      TypeError: a coroutine was expected" in nbval.stdout
    assert "def after(seconds, value, finished=None):" not in nbval.stdout
    check = subprocess.run([sys.executable, "-m", "sagalab.authoring.labcheck", str(lab)],
                           cwd=ROOT, capture_output=True, text=True)
    assert check.returncode == 1, check.stdout
    lines = check.stdout.splitlines()
    assert any(l.startswith("  ❌ Exercise 1 — run steps in parallel") for l in lines), check.stdout
    assert any(l.startswith("  ✅ Exercise 2") for l in lines), check.stdout
    exercises_in_lab = len(exercises(solution))
    assert f"{exercises_in_lab - 1} of {exercises_in_lab} passed" in check.stdout
