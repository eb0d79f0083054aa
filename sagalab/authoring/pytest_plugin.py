"""Readable pytest reports for lab notebooks (loaded by the repository's conftest.py).

nbval names a notebook's tests "Cell 4" and, when one fails, prints the whole cell's source
and its traceback. For a lab's check cell that is 60-90 lines before the one message that
matters. This plugin, for notebooks run with nbval:

* heads each check cell's report with its exercise: ``labs/lab01_orchestration.ipynb::
  Exercise 1 — run steps in parallel (cell 4)``;
* reports a failed check (CheckFailed) as its message alone (case, expected, got, hint), and
  a stub as "not done yet", without the cell's source.
"""
from __future__ import annotations

import re

import pytest

from sagalab.authoring.labcheck import NOT_DONE, is_check
from sagalab.authoring.labgen import exercise_header

_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _nbval_cell(item) -> bool:
    return type(item).__name__ == "IPyNbCell" and hasattr(item, "cell")


def pytest_collection_modifyitems(session, config, items):
    exercise = None
    for item in items:
        if not _nbval_cell(item):
            continue
        header = exercise_header(item.cell.source) if item.cell.cell_type == "code" else None
        if header and not is_check(item.cell):
            exercise = f"{header[0]} — {header[1]}"
        elif is_check(item.cell) and exercise:
            item.exercise = exercise
            exercise = None


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    exercise = getattr(item, "exercise", None)
    if not exercise:
        return
    path, line, _ = report.location            # the report's heading: the exercise, not "Cell 4"
    report.location = (path, line, f"{path}::{exercise} (cell {item.cell_num})")
    if not (report.failed and call.excinfo is not None):
        return
    inner = getattr(call.excinfo.value, "inner_traceback", None) or ""
    text = _ANSI.sub("", inner).strip()
    if "NotImplementedError: not implemented yet" in text:
        report.longrepr = f"{exercise}: {NOT_DONE}"
    elif text.startswith("❌"):
        report.longrepr = text
