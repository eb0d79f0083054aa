"""Retries, timeouts, redelivery and idempotency (sagalab/retry.py, from notebooks/03_failures)."""
import asyncio
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sagalab.bus import Bus
from sagalab.faults import FaultPlan, ReplyLost, TransientError
from sagalab.orchestrator import COMPLETED, FAILED, Workflow
from sagalab.retry import (DELIVERY_COUNT, NO_RETRY, Attempts, IdempotencyStore, RetryPolicy,
                           RetryingOrchestrator, redelivery, retry_call, step_retries)
from sagalab.runtime import now, rng, run
from sagalab.services import UserService

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


class CardDeclined(Exception):
    pass


class Script:
    """A zero-argument async call whose attempts raise the given errors, then return "done"."""

    def __init__(self, errors=(), seconds=0.0):
        self.errors, self.seconds, self.calls, self.raised = list(errors), seconds, [], []

    async def __call__(self):
        self.calls.append(now())
        await asyncio.sleep(self.seconds)
        if len(self.calls) <= len(self.errors):
            error = self.errors[len(self.calls) - 1]
            self.raised.append(error)
            raise error
        return "done"


# -- the policy --------------------------------------------------------------------------------

@pytest.mark.parametrize("options, field", [
    (dict(maximum_attempts=0), "maximum_attempts"),
    (dict(maximum_attempts=-2), "maximum_attempts"),
    (dict(maximum_attempts=2.5), "maximum_attempts"),
    (dict(maximum_attempts=True), "maximum_attempts"),
    (dict(initial_interval=-1), "initial_interval"),
    (dict(initial_interval=math.inf), "initial_interval"),
    (dict(initial_interval="1s"), "initial_interval"),
    (dict(backoff_coefficient=0.5), "backoff_coefficient"),
    (dict(backoff_coefficient=math.nan), "backoff_coefficient"),
    (dict(initial_interval=10, maximum_interval=1), "maximum_interval"),
    (dict(maximum_interval=-5), "maximum_interval"),
    (dict(non_retryable_error_types=[42]), "non_retryable_error_types"),
    (dict(non_retryable_error_types=5), "non_retryable_error_types"),
    (dict(jitter="equal"), "jitter"),
])
def test_nonsense_policies_are_refused_at_construction_naming_the_field(options, field):
    with pytest.raises(ValueError, match=f"RetryPolicy.{field} "):
        RetryPolicy(**options)


def test_defaults_follow_temporal():
    policy = RetryPolicy(initial_interval=2)
    assert policy.maximum_interval == 200 and policy.backoff_coefficient == 2
    assert RetryPolicy(non_retryable_error_types="ValueError").non_retryable_error_types == ("ValueError",)


def test_backoff_grows_exponentially_up_to_the_cap_and_never_overflows():
    policy = RetryPolicy(maximum_attempts=50, initial_interval=0.5, maximum_interval=5)
    assert [policy.backoff(r) for r in range(1, 7)] == [0.5, 1, 2, 4, 5, 5]
    assert policy.backoff(5000) == 5
    assert policy.max_total_delay() == 0.5 + 1 + 2 + 4 + 5 * 45
    assert RetryPolicy(backoff_coefficient=1, initial_interval=3).backoff(9) == 3
    assert RetryPolicy(maximum_attempts=10**9, initial_interval=1, maximum_interval=4).max_total_delay() \
        == 1 + 2 + 4 * (10**9 - 3)
    assert RetryPolicy(maximum_attempts=1).max_total_delay() == 0
    with pytest.raises(ValueError, match="start at 1"):
        policy.backoff(0)


def test_full_jitter_spreads_delays_between_zero_and_the_cap():
    async def main():
        full = RetryPolicy(initial_interval=1, maximum_interval=8)
        none = RetryPolicy(initial_interval=1, maximum_interval=8, jitter="none")
        return [full.delay(4) for _ in range(2000)], none.delay(4)
    delays, exact = run(main())
    assert exact == 8 and all(0 <= d <= 8 for d in delays)
    assert 3.7 < sum(delays) / len(delays) < 4.3 and min(delays) < 0.1 and max(delays) > 7.9


def test_non_retryable_types_match_by_name_or_class_and_subclasses():
    policy = RetryPolicy(non_retryable_error_types=("CardDeclined", LookupError))
    assert not policy.retryable(CardDeclined()) and not policy.retryable(KeyError("x"))
    assert policy.retryable(TransientError()) and policy.retryable(TimeoutError())


# -- retry_call ------------------------------------------------------------------------------

def test_a_call_succeeds_after_transient_failures_waiting_the_backoff():
    async def main():
        call, log = Script([TransientError("503"), TransientError("503")]), Attempts()
        policy = RetryPolicy(maximum_attempts=5, initial_interval=1, jitter="none")
        return await retry_call(call, policy, label="x", log=log), call.calls, log.frame()
    result, calls, frame = run(main())
    assert result == "done" and calls == [0, 1, 3]
    assert list(frame.verdict) == ["retry", "retry", "ok"] and list(frame.delay[:2]) == [1, 2]


def test_giving_up_raises_the_last_error_itself():
    async def main():
        call = Script([TransientError("first"), TransientError("second"), TransientError("third")])
        with pytest.raises(TransientError) as info:
            await retry_call(call, RetryPolicy(maximum_attempts=3, initial_interval=0.1), label="pay")
        return call, info.value
    call, error = run(main())
    assert error is call.raised[-1] and len(call.calls) == 3
    assert "pay: gave up after 3 attempt(s)" in error.__notes__


def test_a_non_retryable_error_is_not_retried():
    async def main():
        call = Script([CardDeclined("insufficient funds")])
        policy = RetryPolicy(maximum_attempts=5, non_retryable_error_types=["CardDeclined"])
        with pytest.raises(CardDeclined):
            await retry_call(call, policy)
        return call.calls
    assert run(main()) == [0]


def test_each_attempt_has_its_own_timeout_and_a_timeout_is_retried():
    async def main():
        slow = Script(seconds=5)
        log = Attempts()
        with pytest.raises(TimeoutError, match="no answer within 2 s"):
            await retry_call(slow, RetryPolicy(maximum_attempts=3, initial_interval=1, jitter="none"),
                             timeout=2, log=log)
        return slow.calls, now(), log.frame()
    calls, ended, frame = run(main())
    assert calls == [0, 3, 7] and ended == 9 and list(frame.verdict) == ["retry", "retry", "gave up"]
    with pytest.raises(ValueError, match="timeout"):
        run(retry_call(Script(), NO_RETRY, timeout=0))


def test_cancelling_the_caller_is_never_retried():
    async def main():
        call = Script(seconds=10)
        task = asyncio.create_task(retry_call(call, RetryPolicy(maximum_attempts=5)))
        await asyncio.sleep(1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await asyncio.sleep(30)
        return call.calls
    assert run(main()) == [0]


# -- properties over random fault plans ------------------------------------------------------

policies = st.builds(
    RetryPolicy,
    maximum_attempts=st.integers(1, 8),
    initial_interval=st.floats(0, 5, allow_nan=False),
    backoff_coefficient=st.floats(1, 4, allow_nan=False),
    jitter=st.sampled_from(["full", "none"]),
    non_retryable_error_types=st.just(("CardDeclined",)),
)
errors = st.sampled_from(["transient", "timeout", "declined"])


def make_error(kind, n):
    return {"transient": TransientError(f"503 #{n}"), "timeout": TimeoutError(f"slow #{n}"),
            "declined": CardDeclined(f"declined #{n}")}[kind]


@FAST
@given(policy=policies, plan=st.lists(errors, max_size=10), seed=st.integers(0, 2**16))
def test_property_success_within_the_attempts_or_the_last_error(policy, plan, seed):
    async def main():
        call = Script([make_error(kind, n) for n, kind in enumerate(plan)])
        start = now()
        try:
            outcome = await retry_call(call, policy)
        except Exception as error:
            outcome = error
        return call, outcome, now() - start
    call, outcome, elapsed = run(main(), seed=seed)
    attempts = len(call.calls)
    assert 1 <= attempts <= policy.maximum_attempts                      # never more than allowed
    declined_at = next((i for i, k in enumerate(plan) if k == "declined"), None)
    if outcome == "done":
        assert attempts == len(plan) + 1                                 # every failure retried
        assert declined_at is None or declined_at >= attempts
    else:
        assert outcome is call.raised[-1]                                # fails with its last error
        assert attempts == policy.maximum_attempts or type(outcome) is CardDeclined
    # total delay within the policy's bounds (the calls themselves take no time here)
    assert 0 <= elapsed <= sum(policy.backoff(r) for r in range(1, attempts)) + 1e-9
    assert elapsed <= policy.max_total_delay() + 1e-9
    if policy.jitter == "none":
        assert math.isclose(elapsed, sum(policy.backoff(r) for r in range(1, attempts)),
                            rel_tol=1e-9, abs_tol=1e-9)


@FAST
@given(policy=policies, error_rate=st.floats(0, 1), lost_rate=st.floats(0, 1),
       outage=st.tuples(st.floats(0, 20), st.floats(0.1, 20)), seed=st.integers(0, 2**16))
def test_property_a_service_under_a_random_fault_plan(policy, error_rate, lost_rate, outage, seed):
    lost_rate = min(lost_rate, 1 - error_rate)
    start, length = outage
    plan = FaultPlan(error_rate=error_rate, lost_rate=lost_rate, outages=[(start, start + length)])

    async def main():
        users = plan.attach(UserService(median=0.2, spread=0.5))
        log = Attempts()
        began = now()
        try:
            outcome = await retry_call(lambda: users.create_user("a@example.com", "A"), policy,
                                       log=log)
        except Exception as error:
            outcome = error
        return users, log, outcome, now() - began
    users, log, outcome, elapsed = run(main(), seed=seed)
    assert 1 <= len(log) <= policy.maximum_attempts
    assert [a.attempt for a in log] == list(range(1, len(log) + 1))
    if isinstance(outcome, str):
        assert log[-1].verdict == "ok" and all(a.verdict == "retry" for a in log[:-1])
        assert outcome in users.users
    else:
        assert len(log) == policy.maximum_attempts or isinstance(outcome, ValueError)
        assert log[-1].error == f"{type(outcome).__name__}: {outcome}"
    waited = sum(a.delay for a in log if a.delay is not None)
    assert waited <= policy.max_total_delay() + 1e-9
    served = sum(a.end - a.start for a in log)
    assert math.isclose(elapsed, waited + served, rel_tol=1e-9, abs_tol=1e-9)
    # lost replies did their work: with retries the user may exist more than once — the
    # reason for idempotency; but never more often than there were attempts
    assert len(users.users) <= len(log)


# -- the orchestrator ----------------------------------------------------------------------------

def steps_failing(times, error=TransientError):
    calls = {"flaky": 0, "steady": 0}

    async def flaky(instance):
        calls["flaky"] += 1
        await asyncio.sleep(0.5)
        if calls["flaky"] <= times:
            raise error(f"attempt {calls['flaky']} failed")
        return "flaky done"

    async def steady(instance):
        calls["steady"] += 1
        return "steady done"
    return Workflow("job", [flaky, steady]), calls


def orchestrate(workflow, **options):
    async def main():
        orch = RetryingOrchestrator(workflow, **options)
        orch.start({})
        await orch.wait()
        return orch
    return run(main())


def test_the_orchestrator_retries_a_step_centrally_and_records_each_retry():
    workflow, calls = steps_failing(2)
    orch = orchestrate(workflow, retry=RetryPolicy(maximum_attempts=3, initial_interval=1,
                                                   jitter="none"))
    job = orch.instances["job-0001"]
    assert job.status == COMPLETED and calls == {"flaky": 3, "steady": 1}
    assert job.ended == 0.5 + 1 + 0.5 + 2 + 0.5
    retries = orch.history_frame().query("event == 'step retry'")
    assert list(retries.step) == ["flaky", "flaky"]
    assert retries.detail.iloc[0] == ("attempt 1 failed (TransientError: attempt 1 failed); "
                                      "next in 1.000 s")
    assert list(orch.attempts.frame().verdict) == ["retry", "retry", "ok", "ok"]


def test_a_step_that_keeps_failing_fails_its_instance_with_its_last_error():
    workflow, calls = steps_failing(10)
    orch = orchestrate(workflow, retry={"flaky": RetryPolicy(maximum_attempts=4, initial_interval=0.1)})
    job = orch.instances["job-0001"]
    assert job.status == FAILED and calls == {"flaky": 4, "steady": 0}
    assert job.error == "step 'flaky' failed: TransientError: attempt 4 failed"


def test_steps_not_in_the_policy_map_are_not_retried_and_timeouts_are_per_step():
    workflow, calls = steps_failing(1)
    orch = orchestrate(workflow, retry={"steady": RetryPolicy()}, timeouts={"flaky": 0.2})
    job = orch.instances["job-0001"]
    assert job.status == FAILED and calls["flaky"] == 1
    assert job.error == "step 'flaky' failed: TimeoutError: no answer within 0.2 s"


def test_other_middleware_sees_one_call_per_step():
    seen = []

    async def count(instance, step, call_next):
        seen.append(step.name)
        return await call_next()
    workflow, calls = steps_failing(2)
    orch = orchestrate(workflow, retry=RetryPolicy(initial_interval=0.1), middleware=[count])
    assert orch.instances["job-0001"].status == COMPLETED and seen == ["flaky", "steady"]


def test_step_retries_is_plain_middleware_too():
    async def main():
        workflow, calls = steps_failing(1)
        from sagalab.orchestrator import Orchestrator
        log = Attempts()
        orch = Orchestrator(workflow, middleware=[step_retries(RetryPolicy(initial_interval=0.1), log=log)])
        await orch.run({})
        return orch, log
    orch, log = run(main())
    assert orch.instances["job-0001"].status == COMPLETED and len(log) == 3


# -- the bus ------------------------------------------------------------------------------------

def on_bus(scenario, seed=0):
    async def main():
        async with Bus() as bus:
            return bus, await scenario(bus)
    return run(main(), seed=seed)


def test_redelivery_delivers_a_failed_event_again_in_place_and_a_success_once():
    async def scenario(bus):
        calls = []
        failures = {"evt-0002": 2}

        async def handler(event):
            calls.append((event.id, event.headers.get(DELIVERY_COUNT), now()))
            if failures.get(event.id, 0):
                failures[event.id] -= 1
                raise TransientError("503")
        log = Attempts()
        bus.use(redelivery(RetryPolicy(maximum_attempts=5, initial_interval=1, jitter="none"),
                           log=log))
        bus.subscribe("T", handler)
        for n in range(3):
            await bus.publish("T", {"n": n})
        await bus.drain()
        return calls, log
    bus, (calls, log) = on_bus(scenario)
    assert calls == [("evt-0001", None, 0), ("evt-0002", None, 0), ("evt-0002", "2", 1),
                     ("evt-0002", "3", 3), ("evt-0003", None, 3)]   # in place: order kept
    assert not bus.failures and len(log) == 5


def test_redelivery_gives_up_per_policy_and_the_bus_records_the_failure():
    async def scenario(bus):
        calls = []

        async def always_fails(event):
            calls.append(event.id)
            raise TransientError("503")

        async def fine(event):
            calls.append(("fine", event.id, now()))
        bus.use(redelivery({"always_fails": RetryPolicy(maximum_attempts=3, initial_interval=10)}))
        bus.subscribe("T", always_fails, group="always_fails")
        bus.subscribe("T", fine, group="fine")
        await bus.publish("T", {})
        await bus.drain()
        return calls
    bus, calls = on_bus(scenario)
    assert calls.count("evt-0001") == 3 and ("fine", "evt-0001", 0) in calls   # nobody else waits
    assert [(f.subscription, f.error) for f in bus.failures] == [("always_fails#1", "TransientError: 503")]


def test_a_subscription_option_wins_over_the_mapping_and_timeouts_apply_per_handler():
    async def scenario(bus):
        calls = []

        async def slow(event):
            calls.append(now())
            await asyncio.sleep(5)
        bus.use(redelivery(RetryPolicy(maximum_attempts=2), timeouts={"slow": 100}))
        bus.subscribe("T", slow, group="slow", retry=RetryPolicy(maximum_attempts=3, initial_interval=1,
                                                   jitter="none"), timeout=2)
        await bus.publish("T", {})
        await bus.drain()
        return calls
    bus, calls = on_bus(scenario)
    assert calls == [0, 3, 7] and bus.failures[0].error == "TimeoutError: no answer within 2 s"


def test_without_a_policy_a_subscription_gets_one_delivery():
    async def scenario(bus):
        calls = []

        async def handler(event):
            calls.append(event.id)
            raise TransientError("503")
        bus.use(redelivery({"someone_else": RetryPolicy()}))
        bus.subscribe("T", handler, group="handler")
        await bus.publish("T", {})
        await bus.drain()
        return calls
    bus, calls = on_bus(scenario)
    assert calls == ["evt-0001"] and len(bus.failures) == 1


# -- idempotency -------------------------------------------------------------------------------

def test_do_once_remembers_successes_only():
    store, done = IdempotencyStore(), []

    def work(n):
        def inner():
            done.append(n)
            if n == "bad":
                raise ValueError("no")
            return n * 2
        return inner
    assert store.do_once("k", work(1)) == 2 and store.do_once("k", work(5)) == 2
    with pytest.raises(ValueError):
        store.do_once("j", work("bad"))
    assert store.do_once("j", work(3)) == 6
    assert done == [1, "bad", 3] and store.duplicates == 1 and "k" in store and len(store) == 2


def test_once_runs_concurrent_duplicates_once():
    async def main():
        store, done = IdempotencyStore(), []

        async def charge():
            done.append(now())
            await asyncio.sleep(1)
            return f"payment-{len(done)}"
        results = await asyncio.gather(*(store.once("order-1", charge) for _ in range(3)))
        later = await store.once("order-1", charge)
        return results, later, done, store.duplicates
    results, later, done, duplicates = run(main())
    assert results == ["payment-1"] * 3 and later == "payment-1" and done == [0] and duplicates == 3


def test_once_lets_a_duplicate_retry_after_a_failure():
    async def main():
        store, attempts = IdempotencyStore(), []

        async def flaky():
            attempts.append(now())
            await asyncio.sleep(1)
            if len(attempts) == 1:
                raise ReplyLost("lost")
            return "ok"
        first, second = await asyncio.gather(store.once("k", flaky), store.once("k", flaky),
                                             return_exceptions=True)
        return type(first).__name__, second, attempts
    assert run(main()) == ("ReplyLost", "ok", [0, 1])


def test_retries_plus_lost_replies_double_charge_and_an_idempotency_key_fixes_it():
    async def main(keyed):
        charges, store = [], IdempotencyStore()
        plan = FaultPlan(script=["lost", "lost", "ok"])
        users = plan.attach(UserService(median=0.1, spread=0))

        async def charge():
            def work():
                charges.append(now())
                return len(charges)
            return await users.call("charge", (lambda: store.do_once("order-1", work)) if keyed else work)
        result = await retry_call(charge, RetryPolicy(maximum_attempts=3, initial_interval=0.1))
        return result, len(charges)
    assert run(main(False)) == (3, 3) and run(main(True)) == (1, 1)


def test_jitter_uses_the_run_generator():
    async def main():
        return [RetryPolicy().delay(3) for _ in range(5)], rng().random()
    assert run(main(), seed=1) == run(main(), seed=1) != run(main(), seed=2)
