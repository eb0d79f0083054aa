"""Generate the learners' labs/ from solutions/ (the single source), never over their work.

In a solution notebook, each exercise cell starts with a line ``# Exercise <id> — <title>``
and holds its answer between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` (nbgrader's
markers). The generated lab is the same notebook with each region replaced by a stub that
raises ``NotImplementedError`` naming the exercise, and with every output cleared.

The generator also writes nbgrader's cell metadata into the solution notebooks (and so into the
labs): an exercise cell is an autograded answer (``solution``), the check cell after it an
autograder test worth ``POINTS`` (``grade``, ``locked``), with unique ``grade_id``s
(``ex1``/``check1``...). No other cell carries an ``nbgrader`` key: the generator owns it, so
it is never edited by hand. An instructor grades with nbgrader (README, "For instructors").

A generated lab records, in its notebook metadata, a fingerprint of its cells as generated.
A lab whose cells no longer match it holds the learner's work (answers typed, or outputs of a
run): the generator leaves it alone unless forced, and then keeps a copy in ``labs/backups/``.

    python -m sagalab.authoring.labgen            # write labs/ (a learner's lab is kept)
    python -m sagalab.authoring.labgen --force    # overwrite it too, after a backup
    python -m sagalab.authoring.labgen --check    # exit 1 if a lab or metadata is stale
    python -m sagalab.authoring.labgen lab01 lab02   # only these labs (default: every solution)
"""
from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat

from sagalab.authoring._cli import check_or_write

ROOT = Path(__file__).resolve().parents[2]
SOLUTIONS, LABS = ROOT / "solutions", ROOT / "labs"
BACKUPS = "backups"                      # labs/backups/: what --force replaced
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
_EXERCISE = re.compile(r"^#\s*(Exercise\s+\S+?)\s*[—:-]+\s*(.+?)\s*$")
POINTS = 1          # per exercise: its check cell passes or fails as a whole, as nbgrader grades it
NBGRADER_SCHEMA = 3

# what a lab's state can be (see `state`)
CURRENT, STALE, MISSING, LEARNER = "current", "stale", "missing", "learner's work"


class LabError(ValueError):
    """A solution notebook does not follow the lab format (names the notebook and the cell)."""


def exercise_header(source: str) -> tuple[str, str] | None:
    """('Exercise 2', 'its title') when the cell starts with '# Exercise 2 — its title'."""
    first = source.splitlines()[0] if source else ""
    m = _EXERCISE.match(first)
    return (m.group(1), m.group(2)) if m else None


def stub_source(source: str, where: str) -> tuple[str, int]:
    """The cell source with every solution region stubbed; and how many regions there were."""
    lines = source.splitlines()
    header = exercise_header(source)
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
            exercise, title = header
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


def _check_cell(cell) -> bool:
    return cell.cell_type == "code" and "check" in cell.metadata.get("tags", [])


def grading_metadata(nb: nbformat.NotebookNode, where: str) -> list[dict | None]:
    """nbgrader's metadata for each cell of a solution notebook (None: the cell has none).

    An exercise cell (one with a solution region) is an autograded answer; the check cell that
    follows it is its autograder test, locked, worth POINTS. Ids come from the exercise's name
    ("Exercise 2" -> ex2, check2), so they stay put when cells are added elsewhere."""
    out: list[dict | None] = []
    pending: str | None = None          # the exercise whose check has not come yet
    seen: set[str] = set()
    for index, cell in enumerate(nb.cells):
        meta = None
        if _check_cell(cell):
            if pending is None:
                raise LabError(f"{where}, cell {index}: a check cell must follow an exercise "
                               f"cell (one with a {BEGIN} region) that has no check yet")
            meta = {"grade": True, "grade_id": f"check{pending}", "locked": True,
                    "points": POINTS, "schema_version": NBGRADER_SCHEMA, "solution": False,
                    "task": False}
            pending = None
        elif cell.cell_type == "code" and BEGIN in cell.source:
            header = exercise_header(cell.source)
            if header is None:      # stub_source names this problem the same way
                raise LabError(f"{where}, cell {index}: a solution region needs the cell's first "
                               f"line to be '# Exercise <id> — <title>'")
            pending = re.sub(r"[^A-Za-z0-9_-]", "", header[0].split(None, 1)[1])
            meta = {"grade": False, "grade_id": f"ex{pending}", "locked": False,
                    "schema_version": NBGRADER_SCHEMA, "solution": True, "task": False}
        if meta is not None:
            if meta["grade_id"] in seen:
                raise LabError(f"{where}, cell {index}: a second exercise or check with the "
                               f"grade id {meta['grade_id']!r}: give each exercise its own id")
            seen.add(meta["grade_id"])
        out.append(meta)
    return out


def with_grading(nb: nbformat.NotebookNode, where: str) -> nbformat.NotebookNode:
    """`nb` with nbgrader's metadata set on its cells (and removed where a cell has none)."""
    for cell, meta in zip(nb.cells, grading_metadata(nb, where)):
        if meta is None:
            cell.metadata.pop("nbgrader", None)
        else:
            cell.metadata["nbgrader"] = meta
    return nb


def solution_text(solution: Path) -> str:
    """The solution notebook as it must be committed: as it is, with nbgrader's metadata."""
    nb = nbformat.read(solution, as_version=4)
    return nbformat.writes(with_grading(nb, solution.name)) + "\n"


def fingerprint(nb: nbformat.NotebookNode) -> str:
    """What a learner changes when working on a lab: cell sources and outputs (not metadata)."""
    cells = [[c.cell_type, c.source, c.get("outputs", [])] for c in nb.cells]
    return hashlib.sha256(json.dumps(cells, sort_keys=True).encode()).hexdigest()


def make_lab(solution: Path) -> nbformat.NotebookNode:
    nb = with_grading(nbformat.read(solution, as_version=4), solution.name)
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
    nb.metadata["sagalab"] = {"generated_from": f"solutions/{solution.name}",
                              "fingerprint": fingerprint(nb)}
    return nb


def lab_text(solution: Path) -> str:
    """The generated lab, exactly as it is written to labs/."""
    return nbformat.writes(make_lab(solution)) + "\n"


def solutions(names: list[str] | None = None) -> list[Path]:
    """Every solution notebook, or those named (lab01, lab01_orchestration or a path)."""
    every = sorted(SOLUTIONS.glob("lab*.ipynb"))
    if not names:
        return every
    chosen = []
    for name in names:
        key = Path(name).stem
        found = [p for p in every if p.stem == key or p.stem.split("_")[0] == key]
        if not found:
            raise LabError(f"no solution notebook {name!r} in solutions/ "
                           f"(there are: {', '.join(p.stem for p in every)})")
        chosen += [p for p in found if p not in chosen]
    return chosen


@dataclass
class LabState:
    lab: Path
    state: str          # CURRENT, STALE, MISSING or LEARNER
    detail: str

    def __str__(self) -> str:
        return f"labs/{self.lab.name}: {self.detail}"


def _committed(lab: Path) -> str | None:
    """The lab as the last commit has it (None outside a git checkout)."""
    try:
        shown = subprocess.run(["git", "show", f"HEAD:labs/{lab.name}"], cwd=ROOT,
                               capture_output=True, text=True, encoding="utf-8")
    except OSError:
        return None
    return shown.stdout if shown.returncode == 0 else None


def holds_learner_work(lab: Path) -> bool:
    """True when the lab's cells differ from those it was generated with: answers typed in, or
    outputs of a run. Such a file is never overwritten silently. A lab from before labs
    recorded their fingerprint counts as untouched only if its cells are what the generator
    makes now."""
    nb = nbformat.read(lab, as_version=4)
    recorded = nb.metadata.get("sagalab", {}).get("fingerprint")
    if recorded is None:
        solution = SOLUTIONS / lab.name
        return not solution.exists() or fingerprint(nb) != fingerprint(make_lab(solution))
    return recorded != fingerprint(nb)


def state(solution: Path) -> LabState:
    """Whether labs/<name> is what the generator makes from the solution, without judging (or
    touching) a learner's work: a lab the learner changed is compared through its committed
    version where git has one, and otherwise reported as not checked."""
    lab = LABS / solution.name
    if not lab.exists():
        return LabState(lab, MISSING, "missing: generate it from solutions/")
    wanted = lab_text(solution)
    if lab.read_text(encoding="utf-8") == wanted:
        return LabState(lab, CURRENT, "current")
    if holds_learner_work(lab):
        committed = _committed(lab)
        if committed is not None and committed != wanted:
            return LabState(lab, STALE, f"the committed version is stale: solutions/"
                                        f"{solution.name} changed (your own work in the file "
                                        f"is safe: it is not touched)")
        checked = ("its committed version is current" if committed is not None
                   else "it was not checked for staleness (no git history to compare with)")
        return LabState(lab, LEARNER, f"holds your work (changed since it was generated); "
                                      f"{checked}")
    return LabState(lab, STALE, f"stale: solutions/{solution.name} changed since it was generated")


def differences(names: list[str] | None = None) -> list[str]:
    """Problems with labs/ and solutions/: stale or missing labs, labs without a solution,
    solutions whose nbgrader metadata is missing or stale. A lab holding the learner's work is
    not a problem."""
    chosen = solutions(names)
    problems = [f"solutions/{s.name}: its nbgrader metadata is missing or out of date"
                for s in chosen if s.read_text(encoding="utf-8") != solution_text(s)]
    problems += [str(s) for s in map(state, chosen) if s.state in (STALE, MISSING)]
    if not names:
        known = {s.name for s in chosen}
        problems += [f"labs/{p.name} has no solution in solutions/"
                     for p in sorted(LABS.glob("*.ipynb")) if p.name not in known]
    return problems


def write_grading(names: list[str] | None = None) -> list[tuple[Path, str]]:
    """Write nbgrader's metadata into the solution notebooks that lack it (or hold a stale
    one); nothing else in them changes (outputs, sources, other metadata)."""
    done = []
    for solution in solutions(names):
        text = solution_text(solution)
        if solution.read_text(encoding="utf-8") != text:
            solution.write_text(text, encoding="utf-8")
            done.append((solution, "wrote"))
    return done


def backup(lab: Path) -> Path:
    """Copy `lab` to labs/backups/<name>-<n>.ipynb (a new n each time); return the copy."""
    folder = lab.parent / BACKUPS
    folder.mkdir(exist_ok=True)
    n = 1
    while (copy := folder / f"{lab.stem}-{n}.ipynb").exists():
        n += 1
    copy.write_bytes(lab.read_bytes())
    return copy


def generate(target: Path = LABS, force: bool = False,
             names: list[str] | None = None) -> list[tuple[Path, str]]:
    """Write every lab (or those named) into `target`; return (path, outcome) pairs. A lab
    holding a learner's work is left as it is, unless `force`, and then a copy is kept in
    <target>/backups/. Solutions are only read (write_grading writes their metadata)."""
    target.mkdir(parents=True, exist_ok=True)
    done = []
    for solution in solutions(names):
        path, text = target / solution.name, lab_text(solution)
        if path.exists() and path.read_text(encoding="utf-8") == text:
            continue                    # already current: nothing to write
        if path.exists() and path.read_text(encoding="utf-8") != text and holds_learner_work(path):
            if not force:
                done.append((path, f"kept {path.name}: it holds your work (changed since it was "
                                   f"generated), so it was not overwritten. To replace it anyway, "
                                   f"run `python -m sagalab.authoring.labgen --force`: your version "
                                   f"is then copied to {target.name}/{BACKUPS}/ first"))
                continue
            copy = backup(path)
            done.append((path, f"backed up {path.name} to {target.name}/{BACKUPS}/{copy.name}"))
        path.write_text(text, encoding="utf-8")
        done.append((path, "wrote"))
    return done


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    names = [a for a in argv if not a.startswith("-")] or None   # the labs chosen, if any

    def options(parser):
        parser.add_argument("--force", action="store_true",
                            help="also replace labs that hold a learner's work (after a backup)")
        parser.add_argument("labs", nargs="*", metavar="lab",
                            help="only these labs: lab01, lab01_orchestration or a path "
                                 "(default: every notebook in solutions/)")

    try:
        return check_or_write(argv, "Generate labs/ from solutions/, and nbgrader's metadata in "
                                    "solutions/.", lambda: differences(names),
                              lambda args: write_grading(names) + generate(force=args.force,
                                                                           names=names),
                              root=ROOT,
                              fix="run `python -m sagalab.authoring.labgen` to regenerate them "
                                  "(a lab holding your work is never overwritten)", extra=options)
    except LabError as error:
        print(f"labgen: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
