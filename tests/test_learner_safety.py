"""A learner's work is safe: solving a lab never breaks the test command, and the lab
generator never overwrites it (issue 15)."""
from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from sagalab.authoring import labgen

ROOT = Path(__file__).resolve().parent.parent
LAB = "lab01_orchestration.ipynb"
GIT = {"GIT_AUTHOR_NAME": "learner", "GIT_AUTHOR_EMAIL": "learner@example.com",
       "GIT_COMMITTER_NAME": "learner", "GIT_COMMITTER_EMAIL": "learner@example.com"}


def _clone(target: Path) -> Path:
    """A fresh clone of the working tree as it is now (tracked and new files), committed."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT,
                            capture_output=True, text=True, check=True).stdout.split("\0")
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    env = {**os.environ, **GIT}
    for command in (["git", "init", "-q"], ["git", "add", "-A"],
                    ["git", "commit", "-q", "-m", "the course as cloned"]):
        subprocess.run(command, cwd=target, env=env, check=True, capture_output=True)
    # the course's environment, already set up: course.py finds it current and installs nothing
    (target / ".venv").symlink_to(ROOT / ".venv", target_is_directory=True)
    return target


def _solve(lab: Path, solution: Path) -> None:
    """What a learner does: type each answer over its stub, then run the lab (outputs kept)."""
    nb, answers = nbformat.read(lab, as_version=4), nbformat.read(solution, as_version=4)
    for cell, answer in zip(nb.cells, answers.cells):
        if cell.cell_type == "code" and labgen.BEGIN in answer.source:
            cell.source = "\n".join(line for line in answer.source.splitlines()
                                    if line.strip() not in (labgen.BEGIN, labgen.END))
    NotebookClient(nb, timeout=120, kernel_name="python3",
                   resources={"metadata": {"path": str(lab.parent)}}).execute()
    nbformat.write(nb, lab)


def _environment_is_current() -> bool:
    """course.py would reinstall .venv first otherwise (and, in a clone whose .venv is this
    one, into this one): the test needs the environment `course.py test` has set up."""
    spec = importlib.util.spec_from_file_location("sagalab_course_script", ROOT / "course.py")
    course = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(course)
    return course.environment_is_current()


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_a_solved_lab_passes_the_test_command_and_the_generator_keeps_it(tmp_path):
    if not _environment_is_current():
        message = ("the course environment .venv/ is not current: `python3 course.py test` "
                   "sets it up, then runs this test")
        pytest.fail(message) if os.environ.get("CI") else pytest.skip(message)
    clone = _clone(tmp_path / "clone")
    lab = clone / "labs" / LAB
    _solve(lab, clone / "solutions" / LAB)
    solved = lab.read_bytes()
    learner = {k: v for k, v in os.environ.items() if k != "CI"}     # a learner, not CI

    # the README's test command (the lab tests: the ones that read labs/) passes
    test = subprocess.run([sys.executable, "course.py", "test", "tests/test_labs.py", "-rs",
                           "-k", "lab01 or there_are_labs or without_a_solution",
                           "-p", "no:randomly"], cwd=clone, env=learner,
                          capture_output=True, text=True)
    assert test.returncode == 0, test.stdout[-3000:] + test.stderr[-2000:]
    assert "holds your work" in test.stdout and "its committed version is current" in test.stdout
    assert "failed" not in test.stdout.splitlines()[-1], test.stdout[-1000:]

    # the generator refuses to overwrite it, says why, and never suggests losing the work
    generate = subprocess.run([sys.executable, "-m", "sagalab.authoring.labgen"], cwd=clone,
                              env=learner, capture_output=True, text=True)
    assert generate.returncode == 1, generate.stdout
    assert f"kept {LAB}: it holds your work" in generate.stdout
    assert lab.read_bytes() == solved, "the generator changed the learner's lab"
    assert not (clone / "labs" / "backups").exists()

    # forced, it keeps a backup first
    forced = subprocess.run([sys.executable, "-m", "sagalab.authoring.labgen", "--force"],
                            cwd=clone, env=learner, capture_output=True, text=True)
    assert forced.returncode == 0, forced.stdout + forced.stderr
    backup = clone / "labs" / "backups" / "lab01_orchestration-1.ipynb"
    assert backup.read_bytes() == solved, forced.stdout
    assert lab.read_text(encoding="utf-8") == labgen.lab_text(clone / "solutions" / LAB)


def test_a_stale_committed_lab_is_reported_even_when_the_learner_changed_it(tmp_path,
                                                                            monkeypatch):
    """The staleness test still checks a learner's lab, through its committed version."""
    clone = _clone(tmp_path / "clone")
    monkeypatch.setattr(labgen, "ROOT", clone)
    monkeypatch.setattr(labgen, "SOLUTIONS", clone / "solutions")
    monkeypatch.setattr(labgen, "LABS", clone / "labs")
    solution, lab = clone / "solutions" / LAB, clone / "labs" / LAB
    assert labgen.state(solution).state == labgen.CURRENT
    nb = nbformat.read(lab, as_version=4)
    nb.cells[0].source += "\n\nMy notes."                         # the learner's change
    nbformat.write(nb, lab)
    assert labgen.state(solution).state == labgen.LEARNER
    sol = nbformat.read(solution, as_version=4)
    sol.cells[0].source += "\n\nA new paragraph."                   # the author's change
    nbformat.write(sol, solution)
    state = labgen.state(solution)
    assert state.state == labgen.STALE and "committed version is stale" in state.detail
    assert "safe" in state.detail


def test_every_message_about_labs_keeps_the_learners_work(tmp_path, monkeypatch):
    """No message advises a command that overwrites a learner's lab: the advice is the
    generator, which refuses to (and --force only after a backup)."""
    monkeypatch.setattr(labgen, "LABS", tmp_path)
    shutil.copy(ROOT / "solutions" / LAB, tmp_path / LAB)          # a lab with answers and outputs
    assert labgen.holds_learner_work(tmp_path / LAB)
    outcomes = dict(labgen.generate(tmp_path))
    kept = outcomes[tmp_path / LAB]
    assert kept.startswith("kept") and "--force" in kept and "backups/" in kept
    assert (tmp_path / LAB).read_bytes() == (ROOT / "solutions" / LAB).read_bytes()


def test_course_check_says_one_line_per_exercise_on_a_stub_and_on_a_solved_lab(tmp_path):
    """`python3 course.py check lab01`: ❌ with a hint per exercise on the stub, exit 1;
    ✅ per exercise on the answered lab, exit 0."""
    stub = tmp_path / LAB
    stub.write_text(labgen.lab_text(ROOT / "solutions" / LAB), encoding="utf-8")
    answered = tmp_path / "answered" / LAB
    answered.parent.mkdir()
    nb = nbformat.read(ROOT / "solutions" / LAB, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    nbformat.write(nb, answered)
    results = {}
    for name, path in (("stub", stub), ("answered", answered)):
        done = subprocess.run([sys.executable, "-m", "sagalab.authoring.labcheck", str(path)],
                              cwd=ROOT, capture_output=True, text=True)
        results[name] = (done.returncode, [l.strip() for l in done.stdout.splitlines()])
    n = sum(labgen.BEGIN in c.source for c in nb.cells if c.cell_type == "code")  # exercises
    code, lines = results["stub"]
    failed = [l for l in lines if l.startswith("❌ Exercise")]
    assert code == 1 and len(failed) == n, lines
    assert all("replace the `raise NotImplementedError(...)` line" in l for l in failed)
    assert f"0 of {n} passed" in lines
    code, lines = results["answered"]
    assert code == 0 and len([l for l in lines if l.startswith("✅ Exercise")]) == n, lines
    assert f"{n} of {n} passed" in lines
