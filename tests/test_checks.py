"""The check API that lab check cells use."""
import asyncio

import pytest

from sagalab.checks import CheckFailed, Exercise


async def slept(seconds):
    await asyncio.sleep(seconds)
    return seconds


def test_passing_cases_print_one_line_each_and_a_summary(capsys):
    with Exercise("Exercise 9 — demo") as check:
        check.case("plain value", lambda: 2 + 2, expect=4, hint="-")
        check.case("coroutine runs in simulated time", lambda: slept(120.0), expect=120.0, hint="-")
        check.case("predicate", lambda: [3, 1, 2], test=lambda v: sorted(v) == [1, 2, 3],
                   want="a permutation of 1, 2, 3", hint="-")
    assert capsys.readouterr().out.splitlines() == [
        "✅ Exercise 9 — demo · plain value",
        "✅ Exercise 9 — demo · coroutine runs in simulated time",
        "✅ Exercise 9 — demo · predicate",
        "🎉 Exercise 9 — demo: all 3 cases pass",
    ]


def test_wrong_answer_names_exercise_case_expected_seen_and_hint():
    with pytest.raises(CheckFailed) as info:
        with Exercise("Exercise 1 — totals") as check:
            check.case("two items", lambda: 5, expect=6, hint="add the shipping fee")
    message = str(info.value)
    for part in ("Exercise 1 — totals", "two items", "expected: 6", "got:      5",
                 "hint:     add the shipping fee"):
        assert part in message
    assert isinstance(info.value, AssertionError)


def test_stub_gets_a_not_implemented_hint():
    def stub():
        raise NotImplementedError("Exercise 2 (x): replace this line with your code")

    with pytest.raises(CheckFailed, match="not implemented yet") as info:
        Exercise("Exercise 2 — x").case("first", stub, expect=1, hint="h")
    assert "replace the `raise NotImplementedError(...)`" in str(info.value)


def test_learner_exception_is_reported_with_the_learner_line_not_internals():
    def learner_code():
        values = []
        return values[3]

    with pytest.raises(CheckFailed) as info:
        Exercise("Exercise 3 — y").case("index", learner_code, expect=1, hint="check the bounds")
    message = str(info.value)
    assert "IndexError: list index out of range" in message
    assert "learner_code(): return values[3]" in message
    assert "checks.py" not in message


def test_jupyter_shows_only_the_message():
    failure = CheckFailed("❌ line one\n   hint: two")
    rendered = failure._render_traceback_()
    assert len(rendered) == 2 and "line one" in rendered[0] and rendered[1] == "   hint: two"


def test_floats_compare_with_tolerance_but_not_loosely():
    check = Exercise("Exercise 4 — floats")
    check.case("close enough", lambda: 0.1 + 0.2, expect=0.3, hint="-")
    with pytest.raises(CheckFailed):
        check.case("too far", lambda: 0.31, expect=0.3, hint="-")


def test_case_needs_exactly_one_of_expect_or_test():
    with pytest.raises(TypeError, match="exactly one"):
        Exercise("x").case("y", lambda: 1, hint="-")


def _failure(actual, **case):
    case.setdefault("hint", "the hint")
    with pytest.raises(CheckFailed) as info:
        Exercise("Exercise 5 — z").case("the case", actual, **case)
    return info.value


def test_a_failure_never_carries_an_exception_chain():
    """IPython 9 stores no error output for an exception whose chain holds an ExceptionGroup
    (a learner's TaskGroup error): nbval then counts the failed check as passed."""
    async def wrapped():
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(asyncio.sleep)          # the call's parentheses forgotten
        except ExceptionGroup as errors:
            raise errors.exceptions[0] from None

    failure = _failure(wrapped, expect=None)
    assert failure.__context__ is None and failure.__cause__ is None
    assert "TypeError" in str(failure)
    try:                                   # even raised inside an except block, by anyone
        try:
            raise ExceptionGroup("eg", [ValueError("x")])
        except ExceptionGroup:
            raise CheckFailed("inside")
    except CheckFailed as raised:
        assert raised.__context__ is None


def test_an_unwrapped_exception_group_is_named_with_what_it_holds():
    def grouped():
        raise ExceptionGroup("unhandled errors in a TaskGroup", [ValueError("card declined")])

    message = str(_failure(grouped, expect="ValueError: card declined"))
    assert "expected: 'ValueError: card declined'" in message
    assert "ExceptionGroup holding [ValueError: card declined]" in message
    assert "no exception" not in message


@pytest.mark.filterwarnings("ignore:coroutine .* was never awaited:RuntimeWarning")
def test_a_forgotten_await_gets_a_hint():
    async def forgot():
        asyncio.sleep(1)                                  # not awaited
        return 0

    assert "did you forget `await`?" in str(_failure(forgot, expect=1))

    made = []

    async def returns_a_coroutine():
        made.append(asyncio.sleep(1, result=1))
        return made[-1]

    message = str(_failure(returns_a_coroutine, expect=1))
    made[0].close()                  # or it warns, unawaited, in whichever test collects it
    assert "did you forget `await`?" in message and "coroutine" in message


@pytest.mark.filterwarnings("ignore:coroutine .* was never awaited:RuntimeWarning")
def test_a_pending_instance_is_shown_with_its_status_and_a_hint():
    class Instance:
        id, status, error, current_step = "reg-0001", "pending", None, None

    message = str(_failure(lambda: Instance(), test=lambda i: i.status == "completed",
                           want="completed"))
    assert "<Instance reg-0001: status='pending'>" in message
    assert "reg-0001 is still pending" in message

    class Parked(Instance):
        status, error = "parked", "undo create_user: ServiceDown"

    message = str(_failure(lambda: Parked(), test=lambda i: i.status == "completed",
                           want="completed"))
    assert "status='parked', error='undo create_user: ServiceDown'" in message


def test_long_values_are_summarised():
    message = str(_failure(lambda: [0.5 * i for i in range(1000)], expect=[]))
    got = next(line for line in message.splitlines() if "got:" in line)
    assert "list of 1000 items (float)" in got and "…" in got and len(got) < 200
    message = str(_failure(lambda: {f"order-{i:04d}": i for i in range(500)}, expect={}))
    assert "dict of 500 items" in message and len(message) < 600


def test_a_test_that_cannot_read_the_value_says_so():
    message = str(_failure(lambda: None, test=lambda v: v["status"] == "ok", want="a dict"))
    assert "got:      None" in message and "TypeError" in message


def test_a_numpy_answer_compares_like_a_plain_one():
    import numpy as np
    Exercise("Exercise 6 — numpy").case("np.bool_", lambda: np.bool_(True), expect=True, hint="-")
    Exercise("Exercise 6 — numpy").case("np.int64", lambda: np.int64(3), expect=3, hint="-")
    message = str(_failure(lambda: np.array([1, 2]), expect=[1, 2]))
    assert "ValueError" in message          # an array has no single truth value: said, not crashed


def test_a_show_function_that_fails_falls_back_to_the_summary():
    message = str(_failure(lambda: 5, expect=6, show=lambda v: v["missing"]))
    assert "got:      5" in message
