"""Lesson 05's dead letters (sagalab/dlq.py, from notebooks/05_dead_letters.ipynb)."""
import asyncio

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sagalab.bus import Bus
from sagalab.dlq import (DEAD, DELIVERY_LIMIT, HANDLED, INVALID, REDRIVEN, REJECTED, SKIPPED,
                         DeadLetterQueue, SupervisedOrchestrator, conservation, redrive,
                         select_letters, short_traceback)
from sagalab.faults import FaultPlan, TransientError
from sagalab.orchestrator import COMPLETED, FAILED, Workflow
from sagalab.retry import RetryPolicy
from sagalab.runtime import now, run
from sagalab.saga import COMPENSATED, PARKED, saga
from sagalab.services import OrderFlow, OrderService, sample_orders, order_flow

LIMIT = RetryPolicy(maximum_attempts=3, initial_interval=0.1, non_retryable_error_types=("ValueError",))


def needs_amount(payload):
    return [] if isinstance(payload.get("amount"), (int, float)) else ["no amount"]


async def deliver(events, handler, *, policy=LIMIT, validators=None, after=None, **options):
    """One subscription to "Paid" with `handler`, behind a dead-letter queue; publish `events`
    (payloads), drain, run `after(bus, dlq)` if given; return (bus, dlq, result of after)."""
    async with Bus() as bus:
        dlq = DeadLetterQueue(validators).install(bus, retry=policy)
        bus.subscribe("Paid", handler, group="Shipping", **options)
        for i, payload in enumerate(events):
            await bus.publish("Paid", payload, key=f"order-{i + 1}", headers={"trace": f"t{i + 1}"})
        await bus.drain()
        result = await after(bus, dlq) if after else None
        await bus.drain()
    return bus, dlq, result


class Handler:
    """Records every envelope it receives; raises `error` while `broken` (for the keys in
    `only`, if given)."""

    def __init__(self, error=TransientError("503"), only=None):
        self.error, self.only, self.broken, self.seen = error, only, True, []

    async def __call__(self, env):
        self.seen.append(env)
        await asyncio.sleep(0.05)
        if self.broken and (self.only is None or env.key in self.only):
            raise type(self.error)(*self.error.args)      # a fresh error each time


# -- dead-lettering ------------------------------------------------------------------------------
def test_a_handled_event_leaves_no_letter():
    handler = Handler()
    handler.broken = False
    bus, dlq, _ = run(deliver([{"amount": 1}], handler))
    assert len(dlq) == 0 and not dlq.letters and bus.failures == []
    assert dlq.outcomes == {("Shipping#1", "evt-0001"): HANDLED}


def test_after_the_delivery_limit_the_event_is_a_letter_with_its_envelope_untouched():
    handler = Handler(only={"order-1"})
    bus, dlq, _ = run(deliver([{"amount": 1}, {"amount": 2}], handler))
    assert bus.failures == [], "the dead-letter queue takes the failure; the bus never sees it"
    (letter,) = dlq.letters.values()
    assert letter.envelope is bus.log[0], "the original envelope, not a copy"
    assert (letter.id, letter.event, letter.key, letter.subscription, letter.group) == (
        "dl-0001", "evt-0001", "order-1", "Shipping#1", "Shipping")
    assert (letter.reason, letter.attempts, letter.count, letter.status) == (DELIVERY_LIMIT, 3, 1, DEAD)
    assert (letter.error_type, letter.error_class, letter.error) == (
        "TransientError", "sagalab.faults.TransientError", "503")
    assert 0 < letter.first_failure < letter.last_failure == letter.time
    assert [e.key for e in handler.seen] == ["order-1"] * 3 + ["order-2"], "later events go on"
    assert dlq.outcomes[("Shipping#1", "evt-0002")] == HANDLED


def test_the_traceback_is_short_and_the_same_on_every_machine():
    async def handler(env):
        raise KeyError(f"customer of object at 0x7f3a2b {env.id}")

    _, dlq, _ = run(deliver([{"amount": 1}], handler))
    (letter,) = dlq.letters.values()
    lines = letter.traceback.splitlines()
    assert lines[-1] == "KeyError: 'customer of object evt-0001'"
    assert '  test_dlq.py, in handler: raise KeyError(f"customer of object {env.id}")' in lines
    assert "/" not in "".join(line.split(": ", 1)[0] for line in lines[:-1]), "no absolute path"
    assert "0x7f3a2b" not in letter.error and "  dlq.py," not in letter.traceback
    assert len(lines) <= 6


def test_short_traceback_keeps_the_innermost_frames_of_your_code():
    def inner():
        raise ValueError("deep")

    def outer():
        inner()

    try:
        outer()
    except ValueError as error:
        text = short_traceback(error, limit=1)
    assert text.splitlines() == ['  test_dlq.py, in inner: raise ValueError("deep")', "ValueError: deep"]


def test_a_non_retryable_error_is_rejected_after_one_attempt():
    handler = Handler(error=ValueError("bad address"))
    _, dlq, _ = run(deliver([{"amount": 1}], handler))
    (letter,) = dlq.letters.values()
    assert (letter.reason, letter.attempts, len(handler.seen)) == (REJECTED, 1, 1)


def test_no_policy_means_one_delivery_then_the_dead_letter_queue():
    handler = Handler()
    _, dlq, _ = run(deliver([{"amount": 1}], handler, policy=None))
    (letter,) = dlq.letters.values()
    assert (letter.reason, letter.attempts, len(handler.seen)) == (DELIVERY_LIMIT, 1, 1)


def test_a_subscription_sets_its_own_delivery_limit():
    handler = Handler()
    _, dlq, _ = run(deliver([{"amount": 1}], handler,
                            retry=RetryPolicy(maximum_attempts=5, initial_interval=0.1)))
    assert [l.attempts for l in dlq.letters.values()] == [5] and len(handler.seen) == 5


@pytest.mark.parametrize("where", ["topic", "subscription"])
def test_poison_is_dead_lettered_at_once_without_calling_the_handler(where):
    handler = Handler()
    handler.broken = False
    options = {"validators": {"Paid": needs_amount}} if where == "topic" else {"validate": needs_amount}
    bus, dlq, _ = run(deliver([{"amount": 1}, {"amount": "1"}, {}], handler, **options))
    assert [e.key for e in handler.seen] == ["order-1"]
    letters = list(dlq.letters.values())
    assert [(l.key, l.reason, l.attempts, l.error_type, l.error) for l in letters] == [
        ("order-2", INVALID, 0, "InvalidMessage", "no amount"),
        ("order-3", INVALID, 0, "InvalidMessage", "no amount")]
    assert all(l.first_failure == l.last_failure == l.time for l in letters)
    assert not any(a.label.endswith(("evt-0002", "evt-0003")) for a in dlq.attempts), "no retries burned"


def test_a_validator_that_raises_counts_as_a_problem():
    def fragile(payload):
        return [] if payload["amount"] > 0 else ["amount must be > 0"]

    handler = Handler()
    _, dlq, _ = run(deliver([{"amount": 0}, {}], handler, validators={"Paid": fragile}))
    assert [l.error for l in dlq.letters.values()] == [
        "amount must be > 0", "the validator raised KeyError: 'amount'"]
    assert handler.seen == []


def test_installing_twice_is_refused():
    async def main():
        async with Bus() as bus:
            dlq = DeadLetterQueue().install(bus)
            dlq.install(bus)

    with pytest.raises(RuntimeError, match="already installed"):
        run(main())


# -- inspection ----------------------------------------------------------------------------------
def test_frame_find_growth_and_history():
    handler = Handler(only={"order-1", "order-3"})
    _, dlq, _ = run(deliver([{"amount": 1}, {"amount": 2}, {"amount": 3}, {}], handler,
                            validators={"Paid": needs_amount}))
    frame = dlq.frame()
    assert list(frame.id) == ["dl-0001", "dl-0002", "dl-0003"]
    assert list(frame.key) == ["order-1", "order-3", "order-4"], "in order of death"
    assert list(frame.reason) == [DELIVERY_LIMIT, DELIVERY_LIMIT, INVALID]
    assert list(dlq.find("order-3").id) == ["dl-0002"] and dlq.find("nobody").empty
    growth = dlq.growth()
    assert list(growth["size"]) == [0, 1, 2, 3] and growth.time.is_monotonic_increasing
    history = dlq.history("dl-0001")
    assert list(history.what) == ["published", "delivery 1", "delivery 2", "delivery 3", "dead-lettered"]
    assert "retry, next in" in history.detail.iloc[1] and "gave up" in history.detail.iloc[3]
    assert list(dlq.history("dl-0003").what) == ["published", "dead-lettered"]


def test_headers_under_three_brokers():
    handler = Handler(only={"order-1"})
    _, dlq, _ = run(deliver([{"amount": 1}], handler))
    letter = dlq.letters["dl-0001"]
    rabbit, sqs, kafka = (letter.headers(b) for b in ("rabbitmq", "sqs", "kafka"))
    assert rabbit["x-death"] == [{"count": 1, "reason": "delivery_limit", "queue": "Shipping#1",
                                  "time": letter.time, "routing-keys": ["Paid"]}]
    assert rabbit["x-first-death-reason"] == rabbit["x-last-death-reason"] == "delivery_limit"
    assert sqs["ApproximateReceiveCount"] == 3 and sqs["SentTimestamp"] == letter.envelope.time
    assert kafka["kafka_dlt-original-topic"] == "Paid"
    assert kafka["kafka_dlt-original-offset"] == 0 and kafka["kafka_dlt-original-partition"] == 0
    assert kafka["kafka_dlt-exception-fqcn"] == "sagalab.faults.TransientError"
    assert kafka["kafka_dlt-exception-stacktrace"] == letter.traceback
    with pytest.raises(ValueError, match="broker"):
        letter.headers("mqtt")


# -- redrive -------------------------------------------------------------------------------------
def fix_then(action):
    """An `after` that fixes the handler, then awaits `action(bus, dlq)`."""
    def after_for(handler):
        async def after(bus, dlq):
            handler.broken = False
            return await action(bus, dlq)
        return after
    return after_for


def test_redrive_puts_letters_back_oldest_first_unchanged_and_records_it():
    handler = Handler(only={"order-1", "order-2"})

    async def again(bus, dlq):
        moved = await redrive(dlq)
        assert [dlq.letters[i].status for i in moved.id] == [REDRIVEN, REDRIVEN]
        return moved

    bus, dlq, moved = run(deliver([{"amount": 1}, {"amount": 2}], handler,
                                  after=fix_then(again)(handler)))
    assert list(moved.id) == ["dl-0001", "dl-0002"]
    redelivered = handler.seen[-2:]
    assert redelivered[0] is bus.log[0] and redelivered[1] is bus.log[1], "ids and headers preserved"
    assert [e.headers["trace"] for e in redelivered] == ["t1", "t2"]
    assert all(l.status == HANDLED and len(l.redrives) == 1 and l.handled_at
               for l in dlq.letters.values())
    assert len(dlq) == 0 and conservation(bus, dlq)["balanced"]


def test_redrive_respects_its_rate():
    handler = Handler()

    async def slowly(bus, dlq):
        return await redrive(dlq, rate=4)

    _, dlq, _ = run(deliver([{"amount": i} for i in range(5)], handler, after=fix_then(slowly)(handler)))
    times = [l.redrives[0] for l in dlq.letters.values()]
    assert [round(b - a, 9) for a, b in zip(times, times[1:])] == [0.25] * 4


def test_a_dry_run_moves_nothing():
    handler = Handler()

    async def dry(bus, dlq):
        return await redrive(dlq, lambda l: l.key == "order-2", dry_run=True)

    bus, dlq, shown = run(deliver([{"amount": 1}, {"amount": 2}], handler, after=fix_then(dry)(handler)))
    assert list(shown.id) == ["dl-0002"]
    assert len(dlq) == 2 and all(not l.redrives for l in dlq.letters.values())
    assert len(handler.seen) == 6


def test_redriving_twice_processes_nothing_twice():
    handler = Handler()

    async def twice(bus, dlq):
        first, second = await asyncio.gather(redrive(dlq, rate=10), redrive(dlq, rate=10))
        await bus.drain()
        third = await redrive(dlq)
        return len(first), len(second), len(third)

    bus, dlq, moved = run(deliver([{"amount": i} for i in range(4)], handler,
                                  after=fix_then(twice)(handler)))
    assert sum(moved) == 4 and moved[2] == 0
    per_event = {}
    for env in handler.seen[4 * 3:]:        # after the 3 failed deliveries of each event
        per_event[env.id] = per_event.get(env.id, 0) + 1
    assert per_event == {f"evt-{i:04d}": 1 for i in range(1, 5)}
    assert conservation(bus, dlq)["balanced"]


def test_a_letter_that_dies_again_is_the_same_letter_with_a_second_death():
    handler = Handler(error=ValueError("still broken"))

    async def too_soon(bus, dlq):
        await redrive(dlq)            # the handler is not fixed
        await bus.drain()

    _, dlq, _ = run(deliver([{"amount": 1}], handler, after=too_soon))
    (letter,) = dlq.letters.values()
    assert (letter.status, letter.count, len(letter.deaths), len(letter.redrives)) == (DEAD, 2, 2, 1)
    assert letter.headers("rabbitmq")["x-death"][0]["count"] == 2
    assert list(dlq.history(letter.id).what) == ["published", "delivery 1", "dead-lettered",
                                                 "redriven", "delivery 1", "dead-lettered"]


def test_select_by_id_and_bad_arguments():
    handler = Handler()

    async def checks(bus, dlq):
        assert [l.id for l in select_letters(dlq, ["dl-0002"])] == ["dl-0002"]
        with pytest.raises(KeyError, match="dl-0009"):
            select_letters(dlq, ["dl-0009"])
        with pytest.raises(ValueError, match="rate"):
            await redrive(dlq, rate=0)

    run(deliver([{"amount": 1}, {"amount": 2}], handler, after=checks))
    with pytest.raises(RuntimeError, match="install"):
        run(redrive(DeadLetterQueue()))


# -- conservation --------------------------------------------------------------------------------
def test_conservation_reports_deliveries_it_cannot_account_for():
    async def main():
        async with Bus() as bus:
            handled = []

            async def handler(env):
                handled.append(env)

            bus.subscribe("Paid", handler, group="Shipping")
            await bus.publish("Paid", {"amount": 1})          # before the queue was installed
            await bus.drain()
            dlq = DeadLetterQueue().install(bus)
            await bus.publish("Paid", {"amount": 2})
            await bus.drain()
            return conservation(bus, dlq)

    books = run(main())
    assert not books["balanced"] and (books["due"], books["handled"]) == (2, 1)
    assert any("no outcome" in p for p in books["problems"])


# Random fault plans over lesson 02's order flow: whatever goes wrong, after the bus is drained
# every delivery due ended handled or dead-lettered -- and again after a redrive.
class SometimesPoisoned(OrderService):
    """Lesson 02's Order Service that drops the customer from some of its events."""

    def __init__(self, bus, share):
        super().__init__(bus)
        self.share, self.poisoned = share, set()

    async def publish(self, topic, payload, *, key):
        from sagalab.runtime import rng
        if rng().random() < self.share:
            payload = {k: v for k, v in payload.items() if k != "customer"}
            self.poisoned.add(key)
        await super().publish(topic, payload, key=key)


def has_customer(payload):
    return [] if "customer" in payload else ["missing customer"]


fault_plans = st.fixed_dictionaries({
    "seed": st.integers(0, 2**16),
    "orders": st.integers(1, 12),
    "error": st.floats(0, 0.5),
    "lost": st.floats(0, 0.3),
    "outage": st.tuples(st.floats(0, 2), st.floats(0.1, 3)).map(lambda w: (w[0], w[0] + w[1])),
    "poison": st.floats(0, 0.5),
    "validate": st.booleans(),
    "limit": st.integers(1, 4),
    "consumers": st.integers(1, 2),
    "every": st.sampled_from([0.0, 0.1]),
    "redrive": st.sampled_from([None, "all", "transient"]),
    "rate": st.sampled_from([None, 10.0]),
})


async def fault_plan_day(plan):
    async with Bus() as bus:
        dlq = DeadLetterQueue({"OrderPlaced": has_customer} if plan["validate"] else {})
        limit = RetryPolicy(maximum_attempts=plan["limit"], initial_interval=0.05)
        dlq.install(bus, retry=limit)
        base = order_flow(bus, consumers=plan["consumers"])    # its Order Service only publishes
        flow = OrderFlow(SometimesPoisoned(bus, plan["poison"]), *base.services[1:])
        faults = FaultPlan(error_rate=plan["error"], lost_rate=plan["lost"], outages=[plan["outage"]])
        for service in (*flow.services[1:], flow.notifications.emails):
            faults.attach(service)
        for order in sample_orders(plan["orders"]):
            await flow.orders.place_order(**order)
            await asyncio.sleep(plan["every"])
        await bus.drain()
        books = [conservation(bus, dlq)]
        if plan["redrive"]:
            pick = None if plan["redrive"] == "all" else (lambda l: l.reason == DELIVERY_LIMIT)
            await redrive(dlq, pick, rate=plan["rate"])
            await bus.drain()
            books.append(conservation(bus, dlq))
    return bus, dlq, flow, books


PLANS = settings(max_examples=300, deadline=None, database=None, derandomize=True,
                 suppress_health_check=list(HealthCheck))


@PLANS
@given(plan=fault_plans)
def test_nothing_is_lost_under_random_fault_plans(plan):
    bus, dlq, flow, books = run(fault_plan_day(plan), seed=plan["seed"])
    for check in books:
        assert check["balanced"], check["problems"]
        assert check["due"] == check["handled"] + check["dead-lettered"]
    log = {env.id: env for env in bus.log}
    for letter in dlq.letters.values():
        assert letter.envelope is log[letter.event], "a letter keeps the published envelope"
        assert letter.attempts <= plan["limit"]
        if letter.reason == INVALID:
            assert letter.attempts == 0 and letter.key in flow.orders.poisoned
    if plan["validate"]:
        charged = set(flow.payments.payments)
        assert not charged & flow.orders.poisoned, "a poison order reached a handler"


# -- the orchestrated counterpart ------------------------------------------------------------------
class Steps:
    """A three-step workflow whose steps and compensations fail while named in `broken`."""

    def __init__(self):
        self.broken, self.done, self.undone = set(), [], []

    def workflow(self):
        def step(name):
            async def run_step(instance):
                await asyncio.sleep(0.1)
                if name in self.broken:
                    raise (ValueError if name == "check" else TransientError)(f"{name} broke")
                self.done.append((instance.id, name))
                return f"{name} ok"
            run_step.__name__ = name
            return run_step

        def undo(name):
            async def run_undo(instance):
                await asyncio.sleep(0.1)
                if f"undo {name}" in self.broken:
                    raise TransientError(f"undo {name} broke")
                self.undone.append((instance.id, name))
            return run_undo

        return saga(Workflow("job", [step("reserve"), step("check"), step("ship")]),
                    {"reserve": undo("reserve"), "check": undo("check")})


QUICK = RetryPolicy(maximum_attempts=2, initial_interval=0.1)


def supervised(steps, *decisions, on_failure="hold", **options):
    """Run one instance; then, for each (time, action, fixes, kwargs), wait, un-break `fixes`,
    resolve. Return the orchestrator and the statuses after each decision."""
    async def main():
        orch = SupervisedOrchestrator(steps.workflow(), on_failure=on_failure, retry=QUICK,
                                      policy=QUICK, **options)
        instance = orch.start({})
        await orch.wait()
        statuses = [orch.instances[instance].status]
        for at, action, fixes, kwargs in decisions:
            await asyncio.sleep(max(0.0, at - now()))
            steps.broken -= set(fixes)
            statuses.append(await orch.resolve(instance, action, **kwargs))
        return orch, statuses
    return run(main())


def test_hold_keeps_a_failed_instance_waiting_and_lists_it():
    steps = Steps()
    steps.broken = {"ship"}
    orch, statuses = supervised(steps)
    assert statuses == [FAILED] and steps.undone == []
    incidents = orch.incidents()
    assert incidents.to_dict("records") == [{
        "id": "job-0001", "status": FAILED, "step": "ship", "error": "TransientError: ship broke",
        "attempts": 2, "since": incidents.since[0], "actions": "retry, skip, compensate"}]


def test_retry_after_the_fix_carries_on_from_the_failed_step():
    steps = Steps()
    steps.broken = {"ship"}
    orch, statuses = supervised(steps, (5.0, "retry", {"ship"}, {}))
    assert statuses == [FAILED, COMPLETED]
    assert [name for _, name in steps.done] == ["reserve", "check", "ship"], "nothing done twice"
    assert len(orch.undos["job-0001"]) == 2, "no compensation registered twice"
    events = list(orch.history_frame("job-0001").event)
    assert events[events.index("resolved"):] == ["resolved", "running", "step started",
                                                 "step completed", COMPLETED]
    assert orch.incidents().empty and orch.instances["job-0001"].error is None


def test_a_retry_that_fails_again_is_an_incident_again():
    steps = Steps()
    steps.broken = {"ship"}
    orch, statuses = supervised(steps, (5.0, "retry", set(), {}))
    assert statuses == [FAILED, FAILED] and len(orch.incidents()) == 1


def test_skip_stands_in_a_result_and_carries_on():
    steps = Steps()
    steps.broken = {"check"}
    orch, statuses = supervised(steps, (5.0, "skip", set(), {"result": "checked by hand",
                                                              "note": "phoned the customer"}))
    assert statuses == [FAILED, COMPLETED]
    instance = orch.instances["job-0001"]
    assert instance.steps["check"].status == SKIPPED
    assert instance.results["check"] == "checked by hand"
    assert [name for _, name in steps.done] == ["reserve", "ship"]
    resolved = orch.history_frame("job-0001").query("event == 'resolved'")
    assert resolved.detail.tolist() == ["skip by operator: phoned the customer"]


def test_compensate_undoes_what_was_done():
    steps = Steps()
    steps.broken = {"ship"}
    orch, statuses = supervised(steps, (5.0, "compensate", set(), {}))
    assert statuses == [FAILED, COMPENSATED]
    assert [name for _, name in steps.undone] == ["check", "reserve"]
    assert "ship broke" in orch.instances["job-0001"].error


def test_a_parked_instance_can_be_retried_or_skipped():
    for action, undone in (("retry", ["check", "reserve"]), ("skip", ["check"])):
        steps = Steps()
        steps.broken = {"ship", "undo reserve"}
        orch, statuses = supervised(steps, (5.0, "compensate", set(), {}),
                                    (10.0, action, {"undo reserve"}, {}))
        assert statuses == [FAILED, PARKED, COMPENSATED], action
        assert [name for _, name in steps.undone] == undone
        assert orch.incidents().empty


def test_parked_incidents_name_the_stuck_compensation():
    steps = Steps()
    steps.broken = {"ship", "undo reserve"}
    orch, statuses = supervised(steps, on_failure="compensate")
    assert statuses == [PARKED]
    row = orch.incidents().iloc[0]
    assert (row.status, row.step, row.attempts, row.actions) == (
        PARKED, "undo reserve", 2, "retry, skip")


def test_actions_that_do_not_apply_are_refused_naming_them():
    steps = Steps()
    orch, statuses = supervised(steps)
    assert statuses == [COMPLETED]
    with pytest.raises(RuntimeError, match="job-0001 is completed: cannot 'retry'"):
        run(orch.resolve("job-0001", "retry"))
    steps.broken = {"ship", "undo reserve"}
    orch, _ = supervised(steps, on_failure="compensate")
    with pytest.raises(RuntimeError, match="allowed: retry, skip"):
        run(orch.resolve("job-0001", "compensate"))
    with pytest.raises(KeyError):
        run(orch.resolve("job-0099", "retry"))
    with pytest.raises(ValueError, match="on_failure"):
        SupervisedOrchestrator(steps.workflow(), on_failure="ignore")


def test_compensate_is_offered_only_when_something_can_be_undone():
    steps = Steps()
    steps.broken = {"reserve"}

    async def main():
        # Registered only after their step, no compensation exists for a failed first step.
        orch = SupervisedOrchestrator(steps.workflow(), on_failure="hold", retry=QUICK,
                                      policy=QUICK, register="after")
        orch.start({})
        await orch.wait()
        return orch

    orch = run(main())
    assert orch.actions("job-0001") == ("retry", "skip")
    assert orch.incidents().actions.tolist() == ["retry, skip"]
    with pytest.raises(RuntimeError, match="cannot 'compensate'"):
        run(orch.resolve("job-0001", "compensate"))
