"""Check cells for labs: run the learner's code on cases, one ✅ line per passing case.

    from sagalab.checks import Exercise

    with Exercise("Exercise 1 — call two services at once") as check:
        check.case("0.3 s and 0.5 s", lambda: elapsed(both(0.3, 0.5)), expect=0.5,
                   hint="Start both calls before awaiting either: asyncio.gather(...).")

A case's function may return a coroutine: it is then run in simulated time
(`sagalab.runtime.run`, seed 0 unless the case says otherwise). Floats are compared with a
small tolerance. The first failing case raises `CheckFailed`, an AssertionError whose message
names the exercise and the case, what was expected, what was seen (long values summarised),
and a hint. In Jupyter it is shown as that message alone, without a traceback into this module.

The contract that makes a failure impossible to miss: `CheckFailed` is always raised outside
any `except` block and carries no exception chain. (IPython 9 stores no error output for an
exception whose chain holds an `ExceptionGroup`, as a learner's TaskGroup error does; nbval
would then count the failed check as passed.)
"""
from __future__ import annotations

import asyncio
import math
import reprlib
import traceback
import warnings
from pathlib import Path
from typing import Any, Callable

from sagalab import runtime

_HERE = str(Path(__file__).resolve().parent)
_UNFINISHED = ("pending", "running")        # statuses that mean "it has not finished yet"


class CheckFailed(AssertionError):
    """A lab check failed; the message says what to do next. It never reports an exception
    chain, even when raised inside an `except` block (see the module's docstring)."""

    # Python records the exception being handled in __context__ at raise time; reading it
    # through these properties always gives None, so no tool walks into a learner's
    # ExceptionGroup from here.
    __context__ = property(lambda self: None, lambda self, value: None)
    __cause__ = property(lambda self: None, lambda self, value: None)

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
             seed: int = 0, tolerance: float = 1e-6, show: Callable[[Any], str] | None = None
             ) -> Any:
        """Run `actual()` and compare it with `expect`, or judge it with `test(value)`.

        `want` describes the expectation in words (defaults to repr(expect)); `show(value)`
        describes what was seen (defaults to a summary of repr(value)). Returns the value seen,
        so a later case can build on it.
        """
        __tracebackhide__ = True     # pytest: hide this frame too
        if (expect is _MISSING) == (test is None):
            raise TypeError("give exactly one of expect= or test=")
        wanted = want or summary(expect)
        value, failure, unawaited = self._call(actual, seed)
        if isinstance(failure, CheckFailed):         # a nested check failed: its message stands
            raise failure
        if failure is not None:
            self._fail(description, wanted, failure, hint, unawaited)
        ok = _judge(value, expect, test, tolerance)
        if ok is not True:
            seen = _shown(value, show)
            if ok is not False:                      # the test itself raised: say so
                seen += f"\n             (checking it raised {ok})"
            self._fail(description, wanted, seen, hint, _unawaited_in(value) or unawaited)
        self.passed += 1
        print(f"✅ {self.name} · {description}")
        return value

    def _call(self, actual: Callable[[], Any], seed: int) -> tuple[Any, Any, str | None]:
        """(value, None, note) on success; (None, what went wrong, note) on an exception (a
        nested CheckFailed is returned as it is, to be raised again by the caller).
        `note` names a coroutine that was never awaited during the call, if any. Nothing is
        raised from here, so no CheckFailed is ever raised inside an `except` block."""
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", RuntimeWarning)
            try:
                value = actual()
                if asyncio.iscoroutine(value):
                    value = runtime.run(value, seed=seed)
                failure = None
            except NotImplementedError:
                value, failure = None, "NotImplementedError: not implemented yet"
            except CheckFailed as exc:                  # a nested check: keep its message
                value, failure = None, exc
            except BaseException as exc:                # noqa: BLE001 - report, never crash
                if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                    raise
                value, failure = None, _describe(exc)
        return value, failure, _never_awaited(caught)

    def _fail(self, description: str, expected: str, seen: str, hint: str,
              unawaited: str | None = None):
        if seen == "NotImplementedError: not implemented yet":
            hint = ("replace the `raise NotImplementedError(...)` line in the exercise cell with "
                    "your code, run that cell, then run this check again.")
        elif unawaited:
            hint = f"did you forget `await`? {unawaited}. Otherwise: {hint}"
        raise CheckFailed(
            f"❌ {self.name} · case: {description}\n"
            f"   expected: {expected}\n"
            f"   got:      {seen}\n"
            f"   hint:     {hint}")


def _shown(value: Any, show: Callable[[Any], str] | None) -> str:
    """What was seen, in words: `show(value)`, or a summary when there is none (or it fails
    on a learner's value it did not foresee)."""
    if show is not None:
        try:
            return str(show(value))
        except Exception:              # noqa: BLE001 - fall back to the plain summary
            pass
    return summary(value)


def _judge(value: Any, expect: Any, test: Callable[[Any], bool] | None,
           tolerance: float) -> bool | str:
    """True or False; or, when the test raised, a description of that error."""
    try:
        return bool(test(value)) if test is not None else _equal(value, expect, tolerance)
    except Exception as exc:      # noqa: BLE001 - a learner's value the test cannot read
        return _describe(exc)


def _equal(value: Any, expect: Any, tolerance: float) -> bool:
    if isinstance(expect, float) or isinstance(value, float):
        try:
            return math.isclose(value, expect, rel_tol=tolerance, abs_tol=tolerance)
        except TypeError:
            return False
    return bool(value == expect)       # a numpy bool (or an array: _judge reports it) too


def _describe(exc: BaseException) -> str:
    """'ValueError: message', plus where in the learner's code it was raised; an
    ExceptionGroup is named as such, with what it holds."""
    text = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, BaseExceptionGroup):
        inner = ", ".join(f"{type(e).__name__}: {e}" for e in exc.exceptions[:3])
        text = f"{type(exc).__name__} holding [{inner}]"
    where = _learner_line(exc)
    return text + (f"\n             at: {where}" if where else "")


def _never_awaited(caught: list) -> str | None:
    for warning in caught:
        message = str(warning.message)
        if issubclass(warning.category, RuntimeWarning) and "was never awaited" in message:
            return message.replace("coroutine ", "the coroutine ", 1)
    return None


def _unawaited_in(value: Any, depth: int = 2) -> str | None:
    """A note when `value` is (or directly holds) a coroutine, a future or an unfinished
    instance: the usual sign of a missing `await`."""
    if asyncio.iscoroutine(value):
        return f"the result is a coroutine ({value.__qualname__}), not its value"
    if isinstance(value, asyncio.Future):
        if value.done() and not value.cancelled():
            value.exception()          # mark its error read: asyncio would print it later, anywhere
        return "the result is a task or future, not its value"
    status = getattr(value, "status", None)
    if isinstance(status, str) and status in _UNFINISHED and hasattr(value, "id"):
        return f"{value.id} is still {status}: it was started but not waited for (or never ended)"
    if depth and isinstance(value, dict):
        value = list(value.values())
    if depth and isinstance(value, (list, tuple, set)):
        for item in list(value)[:50]:
            if note := _unawaited_in(item, depth - 1):
                return note
    return None


_short = reprlib.Repr()
_short.maxlist = _short.maxtuple = _short.maxset = _short.maxdict = 6
_short.maxstring, _short.maxother, _short.maxlevel = 80, 80, 3


def summary(value: Any, limit: int = 160) -> str:
    """repr(value) when it is short; otherwise its type and size with the first and last
    items, so a thousand floats or a whole object's repr never fill the screen."""
    if (fields := _status_fields(value)) is not None:
        return fields
    text = repr(value)
    if len(text) <= limit:
        return text
    if isinstance(value, (list, tuple)) and len(value) > 6:
        kinds = sorted({type(v).__name__ for v in value})
        head = ", ".join(_short.repr(v) for v in value[:3])
        tail = ", ".join(_short.repr(v) for v in value[-2:])
        return (f"{type(value).__name__} of {len(value)} items ({'/'.join(kinds)}): "
                f"[{head}, …, {tail}]")
    if isinstance(value, dict) and len(value) > 4:
        items = ", ".join(f"{_short.repr(k)}: {_short.repr(v)}" for k, v in list(value.items())[:3])
        return f"dict of {len(value)} items: {{{items}, …}}"
    shortened = _short.repr(value)
    return shortened if len(shortened) <= limit else shortened[: limit - 1] + "…"


def _status_fields(value: Any) -> str | None:
    """'<Instance reg-0001: status='parked', error='...'>' for an object with an id and a
    status: the reason an instance parked or failed, not its whole repr."""
    if isinstance(value, (str, bytes, dict, list, tuple, set)) or not (
            hasattr(value, "id") and isinstance(getattr(value, "status", None), str)):
        return None
    parts = [f"status={value.status!r}"]
    for name in ("current_step", "error"):
        field = getattr(value, name, None)
        if field:
            parts.append(f"{name}={_short.repr(field)}")
    return f"<{type(value).__name__} {value.id}: {', '.join(parts)}>"


def _learner_line(exc: BaseException) -> str | None:
    """The innermost line of the learner's own code in the traceback (not sagalab, not asyncio)."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if not f.filename.startswith(_HERE) and "asyncio" not in f.filename
              and "site-packages" not in f.filename and "/lib/python" not in f.filename]
    if not frames:
        return None
    frame = frames[-1]
    return f"{frame.name}(): {frame.line}" if frame.line else f"{frame.name}()"
