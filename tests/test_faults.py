"""Fault injection (sagalab/faults.py, built in notebooks/03_failures.ipynb): its contract."""
import asyncio
import gc
import logging

import pytest

from sagalab.faults import (FaultPlan, InjectedFault, LongTail, ReplyLost, ServiceDown,
                            TransientError)
from sagalab.runtime import now, rng, run
from sagalab.services import UserService


def fixed_users(median=1.0):
    return UserService(median=median, spread=0)


async def outcomes(plan, n, every=0.0, service=None):
    """`n` create_user calls through a plan-attached service; the error type of each, or 'ok'."""
    users = plan.attach(service or fixed_users(0.1))
    seen = []
    for i in range(n):
        try:
            await users.create_user(f"u{i}@example.com", f"U{i}")
            seen.append("ok")
        except InjectedFault as fault:
            seen.append(type(fault).__name__)
        await asyncio.sleep(every)
    return users, seen


def test_rates_are_honoured_and_each_fault_is_recorded():
    plan = FaultPlan(error_rate=0.2, lost_rate=0.1)
    users, seen = run(outcomes(plan, 2000), seed=3)
    errors, lost = seen.count("TransientError"), seen.count("ReplyLost")
    assert 0.17 < errors / 2000 < 0.23 and 0.08 < lost / 2000 < 0.12
    assert plan.counts() == {"error": errors, "lost": lost}
    assert len(plan.frame()) == errors + lost
    # a refused call did nothing; a lost reply did its work: the user exists
    assert len(users.users) == seen.count("ok") + lost


def test_same_seed_same_faults_and_a_plan_starts_afresh_in_each_run():
    plan = FaultPlan(error_rate=0.3, lost_rate=0.1)
    first = run(outcomes(plan, 200), seed=5)[1]
    record = plan.frame()
    again = run(outcomes(plan, 200), seed=5)[1]
    assert first == again and plan.frame().equals(record)
    assert run(outcomes(FaultPlan(error_rate=0.3, lost_rate=0.1), 200), seed=6)[1] != first


def test_a_higher_error_rate_fails_the_same_calls_and_more():
    low = run(outcomes(FaultPlan(error_rate=0.1), 300), seed=1)[1]
    high = run(outcomes(FaultPlan(error_rate=0.3), 300), seed=1)[1]
    assert all(h != "ok" for l, h in zip(low, high) if l != "ok")
    assert high.count("ok") < low.count("ok")


def test_an_outage_refuses_calls_at_once_and_kills_calls_in_progress():
    async def main():
        plan = FaultPlan(outages=[(5.0, 8.0)])
        users = plan.attach(fixed_users(1.0))
        results = {}

        async def call(name, at):
            await asyncio.sleep(at)
            start = now()
            try:
                await users.create_user(f"{name}@example.com", name)
                results[name] = ("ok", now() - start)
            except ServiceDown as down:
                results[name] = (str(down), now() - start)
        await asyncio.gather(call("before", 1), call("spanning", 4.5), call("during", 6),
                             call("after", 8))
        return plan, users, results
    plan, users, results = run(main())
    assert results["before"] == ("ok", 1.0) and results["after"] == ("ok", 1.0)
    assert results["during"] == ("User Service is down: create_user refused", 0.0)
    assert results["spanning"][0] == "User Service went down while serving create_user"
    assert sorted(u["name"] for u in users.users.values()) == ["after", "before"]
    assert [c.caller for c in users.calls].count("-") == 3       # "during" never reached it
    assert [f.kind for f in plan.injected] == ["down", "down"]


def test_a_crash_is_for_good():
    plan = FaultPlan(crash_at=2.0)
    _, seen = run(outcomes(plan, 6, every=1.0, service=fixed_users(0.4)))
    assert seen == ["ok", "ok", "ServiceDown", "ServiceDown", "ServiceDown", "ServiceDown"]
    assert set(plan.counts()) == {"crash"}


def test_a_script_sets_the_first_outcomes_exactly():
    plan = FaultPlan(script=["error", "lost", "ok", "error"])
    _, seen = run(outcomes(plan, 6))
    assert seen == ["TransientError", "ReplyLost", "ok", "TransientError", "ok", "ok"]


def test_the_plan_latency_replaces_the_service_latency_and_slow_calls_are_recorded():
    async def main():
        plan = FaultPlan(latency=LongTail(median=0.1, spread=0.2, tail=0.1, tail_factor=20))
        users = plan.attach(fixed_users(5.0))
        for i in range(300):
            await users.create_user(f"u{i}@example.com", "x")
        return plan, [c.end - c.start for c in users.calls]
    plan, latencies = run(main(), seed=2)
    assert max(latencies) > 2.0 and sorted(latencies)[150] < 0.15    # median ~0.1, long tail
    slow = plan.frame()
    assert set(slow.kind) == {"slow"} and set(slow.operation) == {"create_user"}
    assert len(slow) == sum(t > 0.1 * 20 for t in latencies)


def test_wrap_applies_the_plan_to_any_async_function():
    async def main():
        handled = []

        async def on_order(event):
            handled.append(event)
            return event
        plan = FaultPlan(script=["ok", "error", "lost"],
                         latency=LongTail(median=1.0, spread=0, tail=0))
        wrapped = plan.wrap(on_order, target="Payment handler")
        assert asyncio.iscoroutinefunction(wrapped) and wrapped.__name__ == "on_order"
        seen = []
        for n in range(3):
            try:
                seen.append((await wrapped(n), now()))
            except InjectedFault as fault:
                seen.append((type(fault).__name__, now()))
        return handled, seen, plan.frame()
    handled, seen, frame = run(main())
    assert seen == [(0, 1.0), ("TransientError", 2.0), ("ReplyLost", 3.0)]
    assert handled == [0, 2]          # "error": not called; "lost": called, reply lost
    assert list(frame.target) == ["Payment handler"] * 2 and list(frame.kind) == ["error", "lost"]


def test_errors_of_requests_nobody_waits_for_any_more_are_not_reported_at_exit(caplog):
    async def main():
        users = FaultPlan(error_rate=1.0).attach(fixed_users(2.0))
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(users.create_user("a@example.com", "A"), 0.5)
        await asyncio.sleep(3)        # the request fails meanwhile, unobserved
    with caplog.at_level(logging.ERROR, logger="asyncio"):
        run(main())
        gc.collect()
    assert "never retrieved" not in caplog.text


@pytest.mark.parametrize("options, message", [
    (dict(error_rate=1.5), "FaultPlan.error_rate"),
    (dict(lost_rate=-0.1), "FaultPlan.lost_rate"),
    (dict(error_rate=0.6, lost_rate=0.6), "error_rate \\+ lost_rate"),
    (dict(outages=[(5, 2)]), "FaultPlan.outages"),
    (dict(outages=[(-1, 2)]), "FaultPlan.outages"),
    (dict(outages=[7]), "FaultPlan.outages"),
    (dict(outages=[(1, "later")]), "FaultPlan.outages"),
    (dict(crash_at=-3), "FaultPlan.crash_at"),
    (dict(crash_at="soon"), "FaultPlan.crash_at"),
    (dict(error_rate="10%"), "FaultPlan.error_rate"),
    (dict(script=["ok", "boom"]), "FaultPlan.script"),
])
def test_nonsense_plans_are_refused_naming_the_field(options, message):
    with pytest.raises(ValueError, match=message):
        FaultPlan(**options)


@pytest.mark.parametrize("options, message", [
    (dict(median=-1), "LongTail.median"), (dict(tail=2), "LongTail.tail"),
    (dict(tail_factor=float("nan")), "LongTail.tail_factor"),
])
def test_nonsense_latencies_are_refused_naming_the_field(options, message):
    with pytest.raises(ValueError, match=message):
        LongTail(**options)


def test_long_tail_draws_are_stable_when_only_the_tail_changes():
    async def draws(tail):
        return [LongTail(tail=tail).draw(rng()) for _ in range(500)]
    light, heavy = run(draws(0.01), seed=4), run(draws(0.2), seed=4)
    assert all(a == b for a, b in zip(light, heavy) if not a[1] and not b[1])
    assert sum(s for _, s in heavy) > sum(s for _, s in light)


def test_a_plan_needs_a_run():
    with pytest.raises(RuntimeError, match="not inside a sagalab run"):
        FaultPlan(error_rate=0.5).decide()


def test_fault_types_are_transient_errors_of_one_family():
    assert all(issubclass(k, InjectedFault) for k in (TransientError, ReplyLost, ServiceDown))
