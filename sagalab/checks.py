"""Check cells for labs: run the learner's code on cases, one ✅ line per passing case.

    from sagalab.checks import Exercise

    with Exercise("Exercise 1 — call two services at once") as check:
        check.case("0.3 s and 0.5 s", lambda: elapsed(both(0.3, 0.5)), expect=0.5,
                   hint="Start both calls before awaiting either: asyncio.gather(...).")

A case's function may return a coroutine: it is then run in simulated time
(`sagalab.runtime.run`, seed 0 unless the case says otherwise). Floats are compared with a
small tolerance. The first failing case raises `CheckFailed`, an AssertionError whose message
names the exercise and the case, what was expected, what was seen, and a hint. In Jupyter it is
shown as that message alone, without a traceback into this module.
"""
from __future__ import annotations

import asyncio
import math
import traceback
from pathlib import Path
from typing import Any, Callable

from sagalab import runtime

_HERE = str(Path(__file__).resolve().parent)


class CheckFailed(AssertionError):
    """A lab check failed; the message says what to do next."""

    def _render_traceback_(self):    # IPython: show the message, not our stack frames
        return ["\x1b[31m" + line + "\x1b[0m" if i == 0 else line
                for i, line in enumerate(str(self).splitlines())]


_MISSING = object()


class Exercise:
    """A group of cases for one exercise; use it as a context manager in a check cell."""

    def __init__(self, name: str):
        self.name = name
        self.passed = 0

    def __enter__(self) -> "Exercise":
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc_type is None:
            print(f"🎉 {self.name}: all {self.passed} cases pass")
        return False

    def case(self, description: str, actual: Callable[[], Any], expect: Any = _MISSING, *,
             hint: str, test: Callable[[Any], bool] | None = None, want: str | None = None,
             seed: int = 0, tolerance: float = 1e-6) -> Any:
        """Run `actual()` and compare it with `expect`, or judge it with `test(value)`.

        `want` describes the expectation in words (defaults to repr(expect)). Returns the
        value seen, so a later case can build on it.
        """
        __tracebackhide__ = True     # pytest: hide this frame too
        if (expect is _MISSING) == (test is None):
            raise TypeError("give exactly one of expect= or test=")
        value = self._call(description, actual, hint, seed)
        ok = test(value) if test is not None else _equal(value, expect, tolerance)
        if not ok:
            self._fail(description, want or repr(expect), repr(value), hint)
        self.passed += 1
        print(f"✅ {self.name} · {description}")
        return value

    def _call(self, description: str, actual: Callable[[], Any], hint: str, seed: int) -> Any:
        try:
            value = actual()
            if asyncio.iscoroutine(value):
                value = runtime.run(value, seed=seed)
            return value
        except NotImplementedError:
            self._fail(description, "your implementation", "NotImplementedError: not implemented yet",
                       "replace the `raise NotImplementedError(...)` line in the exercise cell with "
                       "your code, run that cell, then run this check again.")
        except CheckFailed:
            raise
        except Exception as exc:
            where = _learner_line(exc)
            seen = f"{type(exc).__name__}: {exc}" + (f"\n            at: {where}" if where else "")
            self._fail(description, "no exception", seen, hint)

    def _fail(self, description: str, expected: str, seen: str, hint: str):
        raise CheckFailed(
            f"❌ {self.name} · case: {description}\n"
            f"   expected: {expected}\n"
            f"   got:      {seen}\n"
            f"   hint:     {hint}") from None


def _equal(value: Any, expect: Any, tolerance: float) -> bool:
    if isinstance(expect, float) or isinstance(value, float):
        try:
            return math.isclose(value, expect, rel_tol=tolerance, abs_tol=tolerance)
        except TypeError:
            return False
    return value == expect


def _learner_line(exc: BaseException) -> str | None:
    """The innermost line of the learner's own code in the traceback (not sagalab, not asyncio)."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if not f.filename.startswith(_HERE) and "asyncio" not in f.filename
              and "site-packages" not in f.filename and "/lib/python" not in f.filename]
    if not frames:
        return None
    frame = frames[-1]
    return f"{frame.name}(): {frame.line}" if frame.line else f"{frame.name}()"
