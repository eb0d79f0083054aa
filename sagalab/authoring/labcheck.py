"""Check a learner's lab in a fresh kernel: one ✅ or ❌ line per exercise.

    python3 course.py check            # every lab in labs/
    python3 course.py check lab01      # labs/lab01_*.ipynb (a path works too)

The lab runs top to bottom, as `pytest --nbval-lax` would run it, in a kernel of its own and
from its own folder; the file is only read, never written. Each exercise is judged from its
cells' outputs (`judge`): the exercise cell must run, and the check cell after it must end
without an error. The exit code is 0 only if every exercise passes.

The same `Session` and `judge` serve the tests that feed plausible wrong answers (mutants) to
every check (tests/test_lab_mutants.py), so what they prove is what a learner sees here.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError

from sagalab.authoring.labgen import LABS, exercise_header

CELL_TIMEOUT = 120          # seconds; a learner's endless loop must not hang the check
NOT_DONE = "not done yet: replace the `raise NotImplementedError(...)` line with your code"


def is_check(cell) -> bool:
    return cell.cell_type == "code" and "check" in cell.metadata.get("tags", [])


class Session:
    """One fresh kernel that runs cells one at a time, from `folder`; cells' outputs are
    returned as nbformat outputs (what nbval and JupyterLab see)."""

    def __init__(self, folder: Path, timeout: int = CELL_TIMEOUT):
        self.nb = nbformat.v4.new_notebook()
        self.client = NotebookClient(self.nb, timeout=timeout, kernel_name="python3",
                                     allow_errors=True, record_timing=False,
                                     resources={"metadata": {"path": str(folder)}})
        self._context = None

    def __enter__(self) -> "Session":
        # The kernel's own stderr (start-up chatter) goes to a file, shown only if it dies.
        self.stderr = tempfile.TemporaryFile(mode="w+")
        self._context = self.client.setup_kernel(stderr=self.stderr)
        self._context.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        try:
            self._context.__exit__(*exc)
        finally:
            self.stderr.close()

    def kernel_stderr(self) -> str:
        self.stderr.seek(0)
        return self.stderr.read()

    def run(self, source: str) -> list:
        cell = nbformat.v4.new_code_cell(source)
        self.nb.cells.append(cell)
        try:
            self.client.execute_cell(cell, len(self.nb.cells) - 1)
        except CellTimeoutError:
            cell.outputs.append(nbformat.v4.new_output(
                "error", ename="Timeout", evalue=f"the cell ran for more than "
                f"{self.client.timeout} s (an endless loop, or a wait that never ends?)",
                traceback=[]))
        return cell.outputs


def errors(outputs: list) -> list:
    return [o for o in outputs if o.output_type == "error"]


def printed_traceback(outputs: list) -> bool:
    """A traceback printed as text instead of raised as an error: how IPython 9 shows an
    exception whose chain holds an ExceptionGroup. nbval would count the cell as passed."""
    return any(o.output_type == "stream" and "Traceback (most recent call last)" in o.text
               for o in outputs)


@dataclass
class Verdict:
    exercise: str               # "Exercise 1 — run steps in parallel"
    ok: bool
    message: str                # the 🎉 line, or what failed with expected / got / hint

    def line(self) -> str:
        return (f"✅ {self.message}" if self.ok else
                "❌ " + self.message.removeprefix("❌ "))


def judge(exercise: str, exercise_outputs: list, check_outputs: list) -> Verdict:
    """The verdict on one exercise from its exercise cell's and check cell's outputs."""
    failed = errors(exercise_outputs)
    if failed:
        error = failed[0]
        if error.ename == "NotImplementedError":
            return Verdict(exercise, False, f"{exercise}: {NOT_DONE}")
        return Verdict(exercise, False, f"{exercise}: the exercise cell fails: "
                                        f"{error.ename}: {error.evalue}")
    failed = errors(check_outputs)
    if failed:
        error = failed[0]
        if error.ename == "CheckFailed":
            if "got:      NotImplementedError: not implemented yet" in error.evalue:
                return Verdict(exercise, False, f"{exercise}: {NOT_DONE}")
            return Verdict(exercise, False, error.evalue)
        return Verdict(exercise, False,
                       f"{exercise}: the check could not run: {error.ename}: {error.evalue}\n"
                       f"   hint:     did you rename or remove something the exercise defines? "
                       f"Run the exercise cell again, then the check.")
    if printed_traceback(check_outputs):
        return Verdict(exercise, False, f"{exercise}: the check printed a traceback instead "
                                        f"of passing")
    cheers = [line for o in check_outputs if o.output_type == "stream"
              for line in o.text.splitlines() if line.startswith("🎉 ")]
    return Verdict(exercise, True, cheers[-1][2:] if cheers else f"{exercise}: passes")


def check_notebook(path: Path, session: Session | None = None) -> list[Verdict]:
    """Run the lab at `path` top to bottom in a fresh kernel; one verdict per exercise (and
    one for any other cell that fails, naming it)."""
    nb = nbformat.read(path, as_version=4)
    verdicts, pending = [], None          # pending: (exercise name, its cell's outputs)
    with (session or Session(path.parent)) as kernel:
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            try:
                outputs = kernel.run(cell.source)
            except DeadKernelError:
                last = kernel.kernel_stderr().strip().splitlines()[-3:]
                verdicts.append(Verdict(f"cell {index}", False, f"cell {index}: the kernel died "
                                        f"(out of memory?); nothing after it was checked"
                                        + "".join(f"\n   {line}" for line in last)))
                break
            header = exercise_header(cell.source)
            if header and not is_check(cell):
                pending = (f"{header[0]} — {header[1]}", outputs)
            elif is_check(cell) and pending:
                verdicts.append(judge(pending[0], pending[1], outputs))
                pending = None
            elif errors(outputs):
                error = errors(outputs)[0]
                first = cell.source.splitlines()[0] if cell.source else ""
                verdicts.append(Verdict(f"cell {index}", False,
                                        f"cell {index} ({first[:60]!r}) fails: "
                                        f"{error.ename}: {error.evalue}"))
    return verdicts


def find_labs(names: list[str]) -> list[Path]:
    if not names:
        return sorted(LABS.glob("lab*.ipynb"))
    found = []
    for name in names:
        path = Path(name)
        matches = [path] if path.suffix == ".ipynb" else sorted(LABS.glob(f"{name}*.ipynb"))
        if not matches or not matches[0].exists():
            known = ", ".join(p.stem.split("_")[0] for p in sorted(LABS.glob("lab*.ipynb")))
            raise SystemExit(f"no lab called {name!r} (the labs: {known})")
        found += matches
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Check labs in a fresh kernel.")
    parser.add_argument("labs", nargs="*", help="lab00, lab01, ... or a notebook's path "
                                                "(default: every lab)")
    args = parser.parse_args(argv)
    everything_passes = True
    for path in find_labs(args.labs):
        print(f"{path.name}", flush=True)
        verdicts = check_notebook(path)
        for verdict in verdicts:
            print("  " + verdict.line().replace("\n", "\n  "), flush=True)
        passed = sum(v.ok for v in verdicts)
        print(f"  {passed} of {len(verdicts)} passed\n", flush=True)
        everything_passes &= passed == len(verdicts) and bool(verdicts)
    return 0 if everything_passes else 1


if __name__ == "__main__":
    sys.exit(main())
