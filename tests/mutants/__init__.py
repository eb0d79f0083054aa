"""Plausible wrong answers (mutants) for every lab exercise; tests/test_lab_mutants.py feeds
each one to its exercise's check and requires the check to fail (with CheckFailed, under
nbval and under `course.py check` alike).

Each lab has a module here named after its solution notebook's prefix (lab01.py for
solutions/lab01_orchestration.ipynb) holding `MUTANTS`, a list of `Mutant`s. A mutant is one
edit of the solution cell: `old` must occur exactly once in that exercise's cell, and is
replaced by `new`. Every exercise needs at least two mutants, each a mistake a learner could
really make (a forgotten call or `await`, an unwrapped ExceptionGroup, the module `random`
instead of the run's `rng()`, a missing re-check after an `await`, an off-by-one, ...).
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Mutant:
    exercise: str       # "Exercise 1", as the cell's first line names it
    name: str           # the mistake, in a learner's words
    old: str            # text of the solution cell (exactly once)...
    new: str            # ...replaced by this

    def apply(self, source: str) -> str:
        count = source.count(self.old)
        if count != 1:
            raise ValueError(f"{self.exercise} mutant {self.name!r}: its text occurs {count} "
                             f"times in the solution cell (must be exactly once): {self.old!r}")
        return source.replace(self.old, self.new)
