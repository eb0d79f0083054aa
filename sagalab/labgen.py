"""Generate the learners' labs/ from solutions/ (the single source).

In a solution notebook, each exercise cell starts with a line ``# Exercise <id> — <title>``
and holds its answer between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` (nbgrader's
markers). The generated lab is the same notebook with each region replaced by a stub that
raises ``NotImplementedError`` naming the exercise, and with every output cleared.

    python -m sagalab.labgen            # write labs/
    python -m sagalab.labgen --check    # exit 1 if labs/ is stale (tests use this)
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS, LABS = ROOT / "solutions", ROOT / "labs"
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
_EXERCISE = re.compile(r"^#\s*(Exercise\s+\S+?)\s*[—:-]+\s*(.+?)\s*$")


class LabError(ValueError):
    """A solution notebook does not follow the lab format (names the notebook and the cell)."""


def stub_source(source: str, where: str) -> tuple[str, int]:
    """The cell source with every solution region stubbed; and how many regions there were."""
    lines = source.splitlines()
    header = _EXERCISE.match(lines[0]) if lines else None
    out, regions, inside = [], 0, False
    for number, line in enumerate(lines, 1):
        marker = line.strip()
        if marker == BEGIN:
            if inside:
                raise LabError(f"{where}, line {number}: {BEGIN} inside another solution region")
            if header is None:
                raise LabError(f"{where}: a solution region needs the cell's first line to be "
                               f"'# Exercise <id> — <title>', so the stub can name the exercise")
            inside, regions = True, regions + 1
            indent = line[: len(line) - len(line.lstrip())]
            exercise, title = header.group(1), header.group(2)
            out.append(f'{indent}raise NotImplementedError("{exercise} ({title}): '
                       f'replace this line with your code")')
        elif marker == END:
            if not inside:
                raise LabError(f"{where}, line {number}: {END} without {BEGIN}")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise LabError(f"{where}: {BEGIN} is never closed by {END}")
    return "\n".join(out), regions


def make_lab(solution: Path) -> nbformat.NotebookNode:
    nb = nbformat.read(solution, as_version=4)
    total = 0
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        cell.source, regions = stub_source(cell.source, f"{solution.name}, cell {index}")
        total += regions
        cell.outputs, cell.execution_count = [], None
        cell.metadata.pop("execution", None)
    if total == 0:
        raise LabError(f"{solution.name}: no '{BEGIN}' region, so the lab would have no exercise")
    nb.metadata.pop("widgets", None)
    return nb


def _text(nb: nbformat.NotebookNode) -> str:
    return nbformat.writes(nb) + "\n"


def lab_path(solution: Path) -> Path:
    return LABS / solution.name


def differences() -> list[str]:
    problems = []
    solutions = sorted(SOLUTIONS.glob("lab*.ipynb"))
    for solution in solutions:
        target = lab_path(solution)
        if not target.exists():
            problems.append(f"labs/{target.name} is missing")
        elif target.read_text(encoding="utf-8") != _text(make_lab(solution)):
            problems.append(f"labs/{target.name} is stale: solutions/{solution.name} changed")
    names = {s.name for s in solutions}
    problems += [f"labs/{p.name} has no solution in solutions/" for p in sorted(LABS.glob("*.ipynb"))
                 if p.name not in names]
    return problems


def generate() -> list[Path]:
    LABS.mkdir(exist_ok=True)
    written = []
    for solution in sorted(SOLUTIONS.glob("lab*.ipynb")):
        target = lab_path(solution)
        target.write_text(_text(make_lab(solution)), encoding="utf-8")
        written.append(target)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Generate labs/ from solutions/.")
    parser.add_argument("--check", action="store_true", help="report stale labs, write nothing")
    args = parser.parse_args(argv)
    if args.check:
        problems = differences()
        for line in problems:
            print(line)
        if problems:
            print("run `python -m sagalab.labgen` to regenerate labs/ from solutions/")
        return 1 if problems else 0
    for path in generate():
        print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
