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
