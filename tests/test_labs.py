"""Labs are generated from solutions, and every check is real: it fails on the stub.

These tests never judge a learner's work: the stub tests run the generator's output in a
temporary folder, and a lab in labs/ that the learner changed is compared only through its
committed version (see labgen.state).
"""
import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from sagalab.authoring import labgen
from sagalab.authoring.labcheck import is_check

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = labgen.solutions()


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """The labs as the generator makes them now, in a temporary folder (labs/ is the learner's)."""
    folder = tmp_path_factory.mktemp("labs")
    labgen.generate(folder)
    return folder


def test_there_are_labs():
    assert SOLUTIONS, "solutions/ holds no lab"


@pytest.mark.parametrize("solution", SOLUTIONS, ids=lambda p: p.name)
def test_lab_is_not_stale(solution):
    state = labgen.state(solution)
    if state.state == labgen.LEARNER:
        if os.environ.get("CI"):
            pytest.fail(f"{state}: a committed lab must be exactly the generator's output")
        pytest.skip(f"{state}")
    assert state.state == labgen.CURRENT, (
        f"{state}\nauthors: run `python -m sagalab.authoring.labgen` (it never overwrites a "
        f"lab that holds a learner's work)")


def test_no_lab_without_a_solution():
    names = {s.name for s in SOLUTIONS}
    orphans = [p.name for p in sorted(labgen.LABS.glob("*.ipynb")) if p.name not in names]
    assert not orphans, f"labs/ has notebooks with no solution in solutions/: {orphans}"


@pytest.mark.parametrize("solution", SOLUTIONS, ids=lambda p: p.name)
def test_every_exercise_is_followed_by_its_check(solution):
    cells = [c for c in nbformat.read(solution, as_version=4).cells if c.cell_type == "code"]
    exercises = [i for i, c in enumerate(cells) if labgen.BEGIN in c.source]
    assert exercises, f"{solution.name} has no exercise"
    for i in exercises:
        following = cells[i + 1] if i + 1 < len(cells) else None
        assert following is not None and is_check(following), (
            f"{solution.name}: the exercise cell starting {cells[i].source.splitlines()[0]!r} "
            f"is not followed by a code cell tagged 'check'")


@pytest.mark.parametrize("solution", SOLUTIONS, ids=lambda p: p.name)
def test_generated_lab_fails_exactly_its_checks(solution, generated):
    """Run the lab as the generator makes it: every check cell must fail with CheckFailed (so
    no check passes on a stub), and no other cell may fail (the stubs themselves must run)."""
    lab = generated / solution.name
    nb = nbformat.read(lab, as_version=4)
    NotebookClient(nb, timeout=60, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(ROOT / "labs")}}).execute()
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        errors = [o for o in cell.outputs if o.output_type == "error"]
        first_line = cell.source.splitlines()[0] if cell.source else ""
        if is_check(cell):
            assert [e.ename for e in errors] == ["CheckFailed"], (
                f"{lab.name}, cell {index} ({first_line!r}): a check must fail on the stub with "
                f"CheckFailed, got {[(e.ename, e.evalue) for e in errors] or 'no error'}")
        else:
            assert not errors, (f"{lab.name}, cell {index} ({first_line!r}) fails in the "
                                f"generated lab: {errors[0].ename}: {errors[0].evalue}")


def test_stub_replaces_the_region_and_names_the_exercise():
    source = ("# Exercise 2 — sum it\n"
              "def total(xs):\n"
              "    \"\"\"Add.\"\"\"\n"
              "    ### BEGIN SOLUTION\n"
              "    return sum(xs)\n"
              "    ### END SOLUTION\n"
              "print('after')")
    stubbed, regions = labgen.stub_source(source, "lab.ipynb, cell 3")
    assert regions == 1
    assert stubbed.splitlines() == [
        "# Exercise 2 — sum it", "def total(xs):", "    \"\"\"Add.\"\"\"",
        "    raise NotImplementedError(\"Exercise 2 (sum it): replace this line with your code\")",
        "print('after')"]


@pytest.mark.parametrize("source, message", [
    ("def f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION",
     "first line to be '# Exercise"),
    ("# Exercise 1 — a\n### BEGIN SOLUTION\nx = 1", "never closed"),
    ("# Exercise 1 — a\n### END SOLUTION", "without ### BEGIN SOLUTION"),
    ("# Exercise 1 — a\n### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION",
     "inside another"),
])
def test_malformed_regions_fail_naming_the_cell(source, message):
    with pytest.raises(labgen.LabError, match="lab9.ipynb, cell 4") as info:
        labgen.stub_source(source, "lab9.ipynb, cell 4")
    assert message in str(info.value)


def test_generated_lab_has_no_outputs_and_no_solution_text(generated):
    for solution in SOLUTIONS:
        lab = nbformat.read(generated / solution.name, as_version=4)
        text = nbformat.writes(lab)
        assert labgen.BEGIN not in text and labgen.END not in text
        assert all(not c.outputs and c.execution_count is None
                   for c in lab.cells if c.cell_type == "code")
