"""Lesson 04's sagas (sagalab/saga.py, from notebooks/04_compensation.ipynb)."""
import asyncio
import itertools

import pytest
from hypothesis import HealthCheck, given, settings

from sagalab.bus import Bus
from sagalab.faults import FaultPlan, ReplyLost
from sagalab.orchestrator import COMPLETED, FAILED, Step, Workflow, WorkflowError, registration
from sagalab.retry import RetryPolicy
from sagalab.runtime import now, run
from sagalab.saga import (CANCELLED, COMPENSATED, COMPENSATING, ORDER_MOVES, PARKED, PLACED,
                          RequestVoided, SagaOrchestrator, SagaOrderService, SagaWorkflow, keep_answers,
                          kept_answers, settle,
                          money_not_conserved, order_outcomes, order_saga, order_trial,
                          order_violations, orders_not_ended, registration_saga,
                          registration_trial, registration_violations, saga,
                          stock_held_for_dead_orders, stock_not_conserved)
from sagalab.services import EmailService, ProfileService, UserService, sample_orders

from saga_fault_plans import (check_order_plan, check_registration_plan, check_small_order_plan,
                              order_plans, registration_plans, small_order_plans)

QUICK = RetryPolicy(maximum_attempts=3, initial_interval=0.1)
PLANS = settings(max_examples=40, deadline=None, database=None, derandomize=True,
                 suppress_health_check=list(HealthCheck))


def steps(names, log, fail=None, seconds=1.0):
    """Steps that sleep, note their name in `log`; the one named `fail` raises."""
    def make(name):
        async def step(instance):
            await asyncio.sleep(seconds)
            if name == fail:
                raise ValueError(f"{name} broke")
            log.append(name)
            return f"{name} done"
        step.__name__ = name
        return step
    return [make(n) for n in names]


def undoers(names, log, failing=(), times=10**6):
    """Compensations that note `undo <name>`; those in `failing` raise `times` times first."""
    left = {n: times for n in failing}

    def make(name):
        async def undo(instance):
            await asyncio.sleep(0.5)
            if left.get(name, 0) > 0:
                left[name] -= 1
                raise ConnectionError(f"undo {name} refused")
            log.append(f"undo {name}")
        return undo
    return {n: make(n) for n in names}


def go(workflow, *inputs, **options):
    async def main():
        orch = SagaOrchestrator(workflow, **options)
        for i in inputs or ({},):
            orch.start(i)
        await orch.wait()
        return orch
    return run(main(), seed=1)


# -- definitions -------------------------------------------------------------------------------

def test_a_compensation_for_a_missing_step_fails_when_defined_naming_it():
    flow = Workflow("w", steps("abc", []))
    with pytest.raises(WorkflowError, match=r"compensation for 'x': workflow 'w' has no such step "
                                            r"\(its steps: a, b, c\)"):
        saga(flow, {"x": undoers("x", [])["x"]})


@pytest.mark.parametrize("undo, named", [(lambda instance: None, "<lambda>"),
                                         ("delete it", "str"), (print, "print")])
def test_a_compensation_that_is_not_async_fails_when_defined_naming_it(undo, named):
    with pytest.raises(WorkflowError, match=rf"compensation for 'a' is not an async function "
                                            rf"\({named}\)"):
        saga(Workflow("w", steps("ab", [])), {"a": undo})


def test_saga_keeps_the_workflow_and_the_orchestrator_wants_one():
    flow = registration(UserService(), EmailService(), ProfileService())
    wrapped = saga(flow, {})
    assert isinstance(wrapped, SagaWorkflow) and wrapped.steps == flow.steps
    assert wrapped.id_prefix == "reg" and wrapped.compensations == {}
    with pytest.raises(WorkflowError, match="has no compensations"):
        SagaOrchestrator(flow)
    with pytest.raises(ValueError, match="register must be 'before' or 'after'"):
        SagaOrchestrator(wrapped, register="sometimes")


# -- the orchestrated saga ---------------------------------------------------------------------

def test_compensations_run_most_recent_first_including_the_failed_step():
    log = []
    flow = saga(Workflow("w", steps("abcd", log, fail="d")), undoers("abcd", log))
    orch = go(flow)
    assert log == ["a", "b", "c", "undo d", "undo c", "undo b", "undo a"]
    job = orch.instances["w-0001"]
    assert job.status == COMPENSATED and job.error == "step 'd' failed: ValueError: d broke"
    assert orch.status(job.id)["undone"] == ["d", "c", "b", "a"]
    assert job.ended == 4 + 4 * 0.5


def test_registered_after_the_failed_step_is_not_compensated():
    log = []
    go(saga(Workflow("w", steps("abcd", log, fail="c")), undoers("abcd", log)), register="after")
    assert log == ["a", "b", "undo b", "undo a"]


def test_steps_not_reached_and_steps_without_a_compensation_are_not_undone():
    log = []
    go(saga(Workflow("w", steps("abcd", log, fail="c")), undoers("ac", log)))
    assert log == ["a", "b", "undo c", "undo a"]
    nothing = go(saga(Workflow("w", steps("ab", [], fail="a")), undoers("b", [])))
    assert nothing.instances["w-0001"].status == FAILED     # nothing was registered: nothing to undo


def test_status_moves_and_history_of_a_compensated_instance():
    orch = go(saga(Workflow("w", steps("ab", [], fail="b")), undoers("ab", [])))
    events = [h["event"] for h in orch.history]
    assert events == ["created", "running", "undo registered", "step started", "step completed",
                      "undo registered", "step started", "step failed", "failed", "compensating",
                      "undo started", "undo completed", "undo started", "undo completed",
                      "compensated"]
    table = orch.table()
    assert list(table.columns) == ["id", "status", "current_step", "done", "undone", "created",
                                   "started", "ended", "elapsed", "error", "parked_on"]
    assert table.iloc[0][["status", "done", "undone"]].tolist() == [COMPENSATED, 1, 2]
    frame = orch.saga_frame()
    assert frame.kind.tolist() == ["step", "step", "undo", "undo"]
    assert frame.name.tolist() == ["a", "b", "undo b", "undo a"]


def test_a_compensation_is_retried_per_policy_then_succeeds():
    log = []
    orch = go(saga(Workflow("w", steps("ab", log, fail="b")), undoers("ab", log, failing="a", times=2)),
              policy=QUICK)
    assert orch.instances["w-0001"].status == COMPENSATED
    assert [a.verdict for a in orch.undos["w-0001"][0].attempts] == ["retry", "retry", "ok"]
    assert sum(h["event"] == "undo retry" for h in orch.history) == 2


def test_a_compensation_that_keeps_failing_parks_while_others_go_on_then_resumes():
    log, fixed = [], {"a": False}

    async def undo_a(instance):
        if not fixed["a"]:
            raise ConnectionError("the account service is down")
        log.append(f"undo a {instance.id}")

    async def undo_b(instance):
        log.append(f"undo b {instance.id}")

    async def maybe_fail(instance):
        await asyncio.sleep(1)
        if instance.input["fail"]:
            raise ValueError("no")
    flow = saga(Workflow("w", [*steps("a", []), Step("b", maybe_fail)]), {"a": undo_a, "b": undo_b})

    async def main():
        orch = SagaOrchestrator(flow, policy=QUICK)
        for fail in (True, False, True):
            orch.start({"fail": fail})
        await orch.wait()
        parked = orch.status("w-0001")
        fixed["a"] = True
        await orch.resume("w-0001")
        with pytest.raises(RuntimeError, match="w-0002 is completed, not parked"):
            await orch.resume("w-0002")
        with pytest.raises(KeyError, match="no instance 'w-0099'"):
            await orch.resume("w-0099")
        return orch, parked
    orch, parked = run(main(), seed=3)
    assert parked["status"] == PARKED and parked["current_step"] == "undo a"
    assert parked["parked_on"] == "undo a: ConnectionError: the account service is down"
    assert parked["error"] == "step 'b' failed: ValueError: no" and parked["undone"] == ["b"]
    assert [orch.instances[i].status for i in ("w-0001", "w-0002", "w-0003")] == [
        COMPENSATED, COMPLETED, PARKED]                              # w-0003 was not resumed
    assert len(orch.undos["w-0001"][0].attempts) == 3 + 1          # 3 before parking, 1 after
    assert log.count("undo b w-0001") == 1                           # not undone twice
    events = [h["event"] for h in orch.history if h["instance"] == "w-0001"]
    assert events[-4:] == ["compensating", "undo started", "undo completed", "compensated"]
    assert PARKED in events and COMPENSATING in events


def test_a_non_retryable_compensation_error_parks_at_once():
    async def undo(instance):
        raise PermissionError("forbidden")
    orch = go(saga(Workflow("w", steps("ab", [], fail="b")), {"a": undo}),
              policy=RetryPolicy(maximum_attempts=5, non_retryable_error_types=("PermissionError",)))
    assert orch.instances["w-0001"].status == PARKED
    assert len(orch.undos["w-0001"][0].attempts) == 1


def test_statuses_only_move_forward():
    orch = go(saga(Workflow("w", steps("a", [], fail="a")), undoers("a", [])))
    job = orch.instances["w-0001"]
    for status in (COMPENSATING, PARKED, "running", FAILED):
        with pytest.raises(RuntimeError, match="cannot go from compensated"):
            orch.set_status(job, status)


# -- idempotency keys --------------------------------------------------------------------------

def test_keep_answers_remembers_settles_and_voids():
    async def main():
        users = keep_answers(FaultPlan(script=["lost"]).attach(UserService()))
        with pytest.raises(ReplyLost):
            await users.create_user("ada@example.com", "Ada")
        found = await settle(users, "create_user")
        again = await users.create_user("ada@example.com", "Ada")       # a retry: the kept answer
        none = await settle(users, "delete_user")
        with pytest.raises(RequestVoided, match="-/delete_user arrived after its compensation"):
            await users.delete_user("user-0001")
        return found, again, none, dict(users.users), sorted(kept_answers(users).store.results)
    found, again, none, accounts, keys = run(main())
    assert (found, again, none) == ("user-0001", "user-0001", None)
    assert list(accounts) == ["user-0001"]
    assert keys == ["-/create_user", "-/delete_user"]


def test_keys_go_outside_the_faults_whichever_is_added_first():
    async def main(order):
        plan, users = FaultPlan(script=["lost"]), UserService()
        for add in order:
            keep_answers(users) if add == "keys" else plan.attach(users)
        with pytest.raises(ReplyLost):
            await users.create_user("ada@example.com", "Ada")
        again = await users.create_user("ada@example.com", "Ada")     # the kept answer
        return [type(m).__name__ for m in users.middleware["request"]], again, len(users.users)
    for order in (("keys", "faults"), ("faults", "keys")):
        assert run(main(order)) == (["KeptAnswers", "method"], "user-0001", 1), order


def test_settle_needs_keys_and_says_so():
    async def main():
        await settle(UserService(), "create_user")
    with pytest.raises(ValueError, match="keep_answers"):
        run(main())


def test_a_request_still_in_flight_when_its_step_is_compensated_is_refused():
    """The step times out; its request lands after the compensation settled it: refused."""
    async def main():
        users = keep_answers(UserService(median=2.0, spread=0))
        emails, profiles = keep_answers(EmailService()), keep_answers(ProfileService())
        orch = SagaOrchestrator(registration_saga(users, emails, profiles), timeouts=0.5)
        orch.start({"email": "ada@example.com", "name": "Ada"})
        await asyncio.sleep(0.1)
        users.median = 0.1          # create_user (sent at 0) lands at 2 s; later calls are fast
        await orch.wait()
        await asyncio.sleep(5)
        return orch.instances["reg-0001"], users
    instance, users = run(main())
    assert instance.status == COMPENSATED and "TimeoutError" in instance.error
    assert users.users == {}
    assert [c.error for c in users.calls if c.operation == "create_user"] == [
        "RequestVoided: reg-0001/create_user arrived after its compensation"]


# -- the registration saga ---------------------------------------------------------------------

def registration_with(person, **faults):
    async def main():
        users, emails, profiles = (
            keep_answers(faults[name].attach(s) if name in faults else s)
            for name, s in (("users", UserService()), ("emails", EmailService()),
                            ("profiles", ProfileService())))
        orch = SagaOrchestrator(registration_saga(users, emails, profiles))
        instance = await orch.run(person)
        return instance, users, emails, profiles, orch
    return run(main(), seed=5)


def test_registration_saga_deletes_the_account_of_an_invalid_address():
    instance, users, emails, profiles, orch = registration_with(
        {"email": "grace-at-example.com", "name": "Grace"})
    assert instance.status == COMPENSATED and "not an e-mail address" in instance.error
    assert users.users == {} and emails.sent == [] and profiles.profiles == {}
    assert registration_violations(orch, users, emails, profiles) == []


@pytest.mark.parametrize("outcome", ["error", "lost"])
def test_registration_saga_cancels_the_verification_e_mail_semantically(outcome):
    instance, users, emails, profiles, orch = registration_with(
        {"email": "alan@example.com", "name": "Alan"}, profiles=FaultPlan(script=[outcome]))
    assert instance.status == COMPENSATED
    assert users.users == {} and profiles.profiles == {}
    assert [(e["to"], e["subject"].split(":")[0]) for e in emails.sent] == [
        ("alan@example.com", "Please verify your e-mail address"),
        ("alan@example.com", "Registration cancelled")]


def test_registration_saga_never_deletes_someone_elses_account():
    async def main():
        users, emails, profiles = keep_answers(UserService()), keep_answers(EmailService()), \
            keep_answers(ProfileService())
        orch = SagaOrchestrator(registration_saga(users, emails, profiles))
        await orch.run({"email": "ada@example.com", "name": "Ada"})
        second = await orch.run({"email": "ada@example.com", "name": "Ada again"})
        return second, users
    second, users = run(main())
    assert second.status == COMPENSATED and "already registered" in second.error
    assert [u["name"] for u in users.users.values()] == ["Ada"]


def test_registered_after_leaves_leftovers_that_the_invariants_report():
    lossy = dict(n=30, faults=FaultPlan(lost_rate=0.3))
    after = run(registration_trial(**lossy, register="after"), seed=7)
    before = run(registration_trial(**lossy, register="before"), seed=7)
    found = registration_violations(after[0], *after[1])
    assert found and any("has no profile" in v for v in found)
    assert registration_violations(before[0], *before[1]) == []


def test_parked_leftovers_are_excused_and_others_are_not():
    plan = FaultPlan(outages=[(0.2, 60.0)])       # the User Service goes down for good
    orch, (users, emails, profiles) = run(registration_trial(
        6, invalid=1.0, faults=plan, policy=RetryPolicy(maximum_attempts=2)), seed=2)
    statuses = orch.table().status.tolist()
    assert PARKED in statuses and users.users                        # parked with accounts left
    assert registration_violations(orch, users, emails, profiles) == []
    for instance in orch.instances.values():                         # as if nobody had parked
        instance.status = COMPENSATED
    assert any("has no profile" in v for v in registration_violations(orch, users, emails, profiles))


# -- the choreographed saga --------------------------------------------------------------------

async def orders(n, *, stock=None, declined=(), duplicates=None, pause=None):
    async with Bus() as bus:
        flow = order_saga(bus, stock=stock, declined_cards=declined)
        if duplicates is not None:
            from sagalab.saga import late_duplicates
            bus.use(late_duplicates(bus, duplicates))

        tasks = [asyncio.create_task(bus.outage(*pause))] if pause else []
        for order in sample_orders(n):
            await flow.orders.place_order(**order)
            await asyncio.sleep(0.1)
        await asyncio.gather(*tasks)
        await bus.drain()
    return bus, flow


def test_a_declined_card_releases_the_reservation_and_cancels_the_order():
    bus, flow = run(orders(3, declined={"customer2@example.com"}), seed=1)
    assert flow.orders.state == {"order-0001": COMPLETED, "order-0002": CANCELLED,
                                 "order-0003": COMPLETED}
    assert list(flow.inventory.releases) == ["order-0002"]
    assert flow.inventory.stock == {"book": 999, "lamp": 999}
    topics = [e.topic for e in bus.log if e.key == "order-0002"]
    assert {"PaymentFailed", "OrderCancelled", "InventoryReleased"} <= set(topics)
    assert "ShipmentCreated" not in topics
    assert [e.topic for e in bus.log].count("OrderCompleted") == 2


def test_no_stock_refunds_or_never_charges():
    bus, flow = run(orders(6, stock={"book": 10, "lamp": 1}), seed=1)
    lamp_orders = ["order-0002", "order-0004", "order-0005"]      # order-0001 got the only lamp
    assert [flow.orders.state[o] for o in lamp_orders] == [CANCELLED] * 3
    for o in lamp_orders:
        assert o not in flow.payments.payments or o in flow.payments.refunds
        assert o in flow.payments.tombstones
    assert order_violations(flow, {"book": 10, "lamp": 1}) == []
    assert order_outcomes(flow).outcome.tolist() == [
        "completed", "cancelled", "completed", "cancelled", "cancelled", "completed"]


def test_late_duplicates_and_an_outage_change_no_order_outcome():
    stock = {"book": 10, "lamp": 1}
    _, plain = run(orders(6, stock=stock, declined={"customer3@example.com"}), seed=1)
    bus, worst = run(orders(6, stock=stock, declined={"customer3@example.com"}, duplicates=1.0,
                            pause=("Payment Service", 0.3, 2.0)), seed=1)
    assert worst.orders.state == plain.orders.state
    assert sum(e.headers.get("duplicate") == "yes" for s in bus.subscriptions for e in s.received) > 20
    assert worst.orders.ignored
    assert order_violations(worst, stock) == []


EVENTS = {"PaymentProcessed": {}, "InventoryReserved": {}, "ShipmentCreated": {},
          "PaymentFailed": {"reason": "declined"}, "InventoryUnavailable": {"reason": "short"}}


def order_fed(events):
    """An Order Service fed `events` about one order, in that order; its final state."""
    async def main():
        async with Bus() as bus:
            service = SagaOrderService(bus)          # alone: nobody else reacts
            for topic in events:
                await bus.publish(topic, {"order_id": "order-0001", "customer": "c@example.com",
                                          **EVENTS[topic]}, key="order-0001")
            await bus.drain()
        return service
    return run(main())


@pytest.mark.parametrize("events", sorted(set(itertools.permutations(
    ["PaymentProcessed", "InventoryReserved", "ShipmentCreated", "PaymentProcessed"]))))
def test_any_arrival_order_of_success_completes_once(events):
    service = order_fed(events)
    assert service.state["order-0001"] == COMPLETED
    assert [t["to"] for t in service.transitions][-1] == COMPLETED
    assert len(service.ignored) == len(events) - len(service.transitions)


@pytest.mark.parametrize("events", sorted(set(itertools.permutations(
    ["PaymentProcessed", "InventoryUnavailable", "InventoryUnavailable", "PaymentFailed"]))))
def test_a_failure_cancels_once_and_nothing_revives_the_order(events):
    service = order_fed([*events, "InventoryReserved", "PaymentProcessed"])
    assert service.state["order-0001"] == CANCELLED
    assert sum(t["to"] == CANCELLED for t in service.transitions) == 1


def test_the_state_machine_table_is_complete_and_ends_in_terminal_states():
    assert set(ORDER_MOVES) == {PLACED, "paid", "reserved", "ready", COMPLETED, CANCELLED}
    assert all(to in ORDER_MOVES for moves in ORDER_MOVES.values() for to in moves.values())
    assert ORDER_MOVES[COMPLETED] == {} and ORDER_MOVES[CANCELLED] == {}


def test_order_invariants_catch_what_they_claim():
    bus, flow = run(orders(3, stock={"book": 5, "lamp": 5}), seed=1)
    stock = {"book": 5, "lamp": 5}
    assert order_violations(flow, stock) == []
    flow.orders.state["order-0003"] = PLACED
    assert orders_not_ended(flow) == ["order-0003 is still placed"]
    flow.orders.state["order-0003"] = CANCELLED
    assert stock_held_for_dead_orders(flow) == ["stock held for order-0003, which is cancelled"]
    assert money_not_conserved(flow) == [
        "charged 150 - refunded 0 = 150, but completed orders are worth 130"]
    flow.inventory.stock["book"] += 1
    assert stock_not_conserved(flow, stock) == ["book: 3 on the shelf + 3 held != 5 at first"]


def test_order_trial_gives_up_without_retries_and_the_outcomes_say_stuck():
    bus, flow = run(order_trial(20, faults=FaultPlan(error_rate=0.5)), seed=4)
    outcomes = order_outcomes(flow)
    stuck = set(outcomes[outcomes.outcome == "stuck"].order)
    assert stuck and stuck <= {f.key for f in bus.failures}
    assert order_violations(flow, {"book": 1000, "lamp": 1000})


# -- random fault plans (benchmarks/saga_plans.py runs 500+ of each) ---------------------------

@PLANS
@given(plan=registration_plans)
def test_random_fault_plans_leave_no_registration_half_done(plan):
    assert check_registration_plan(plan) == []


@PLANS
@given(plan=order_plans)
def test_random_fault_plans_leave_no_order_half_done(plan):
    assert check_order_plan(plan) == []


# -- parking as the last resort: budgets in time, refused steps, stop or continue ---------------

from sagalab.retry import GAVE_UP, NOT_RETRYABLE, OK  # noqa: E402
from sagalab.saga import (LOCKED_MOVES, PATIENT, REFUNDING, UNDOING,  # noqa: E402
                          half_done_unflagged, late_duplicates, orchestrated_order_outcomes,
                          orchestrated_order_trial, retry_for)


def flaky_for(seconds, error=ConnectionError):
    """An async function that raises `error` until `seconds` of run time have passed."""
    async def fn():
        await asyncio.sleep(0.01)
        if now() < seconds:
            raise error("not yet")
        return "done"
    return fn


def test_retry_for_retries_past_any_attempt_count_until_it_succeeds_within_its_budget():
    log = []
    result = run(retry_for(flaky_for(100.0), PATIENT, 3600, label="x", log=log), seed=1)
    assert result == "done" and log[-1].verdict == OK and len(log) > PATIENT.maximum_attempts


def test_retry_for_gives_up_within_its_budget_and_keeps_the_error():
    log = []

    async def main():
        with pytest.raises(ConnectionError):
            await retry_for(flaky_for(10**6), PATIENT, 120, log=log)
        return now()
    ended = run(main(), seed=1)
    assert ended <= 120 and log[-1].verdict == GAVE_UP and all(a.error for a in log)


def test_retry_for_stops_at_a_non_retryable_error_and_refuses_a_bad_budget():
    log = []
    policy = RetryPolicy(maximum_attempts=1, non_retryable_error_types=("ValueError",))
    with pytest.raises(ValueError):
        run(retry_for(flaky_for(10.0, ValueError), policy, 60, log=log), seed=1)
    assert [a.verdict for a in log] == [NOT_RETRYABLE]
    for bad in (0, -1, None):
        with pytest.raises((ValueError, TypeError)):
            run(retry_for(flaky_for(0), PATIENT, bad), seed=1)


def test_a_time_budget_outlasts_an_outage_that_an_attempt_budget_parks_on():
    log = []
    undo = {"a": None}

    async def undo_a(instance):
        await asyncio.sleep(0.01)
        if now() < 60:
            raise ConnectionError("down for a minute")
        log.append("undo a")
    undo["a"] = undo_a
    flow = saga(Workflow("w", steps(["a", "b"], [], fail="b")), undo)
    assert go(flow).instances["w-0001"].status == PARKED                     # 5 attempts
    orch = go(flow, policy=PATIENT, budget=3600)
    assert orch.instances["w-0001"].status == COMPENSATED
    short = go(flow, policy=PATIENT, budget=30)
    assert short.instances["w-0001"].status == PARKED
    assert short.instances["w-0001"].ended <= 2 + 30 + 1


def test_a_step_refused_every_time_needs_no_compensation_call_but_a_lost_reply_does():
    async def main(script):
        users = FaultPlan(script=script).attach(keep_answers(UserService()))
        emails, profiles = keep_answers(EmailService()), keep_answers(ProfileService())
        orch = SagaOrchestrator(registration_saga(users, emails, profiles), skip_refused=True)
        instance = await orch.run({"email": "ada@example.com", "name": "Ada"})
        return orch, instance, users
    orch, instance, users = run(main(["error"]), seed=1)
    assert instance.status == COMPENSATED
    assert [c.operation for c in users.calls] == ["create_user"]             # no settle call
    assert any(h["event"] == "undo skipped" for h in orch.history)
    orch, instance, users = run(main(["lost"]), seed=1)
    assert instance.status == COMPENSATED and users.users == {}
    assert "settle create_user" in [c.operation for c in users.calls]


def test_on_stuck_continue_runs_the_earlier_compensations_and_still_parks():
    for on_stuck, undone in (("stop", []), ("continue", ["undo a"])):
        log = []
        flow = saga(Workflow("w", steps(["a", "b", "c"], [], fail="c")),
                    undoers(["a", "b", "c"], log, failing=["b"]))
        orch = go(flow, on_stuck=on_stuck)
        instance = orch.instances["w-0001"]
        assert instance.status == PARKED and instance.current_step == "undo b"
        assert log == ["undo c", *undone]
    with pytest.raises(ValueError, match="on_stuck"):
        SagaOrchestrator(flow, on_stuck="skip")
    with pytest.raises(ValueError, match="budget"):
        SagaOrchestrator(flow, budget=0)


# -- the semantic lock ---------------------------------------------------------------------------

REPRO = dict(n=20, stock={"book": 0, "lamp": 0}, faults=FaultPlan(error_rate=0.4),
             retry=RetryPolicy(maximum_attempts=2, initial_interval=0.2))


def test_without_the_lock_orders_end_cancelled_with_money_kept_and_with_it_they_stay_cancelling():
    _, plain = run(order_trial(**REPRO), seed=3)
    assert half_done_unflagged(order_outcomes(plain))
    bus, locked = run(order_trial(**REPRO, semantic_lock=True), seed=3)
    outcomes = order_outcomes(locked)
    assert half_done_unflagged(outcomes) == []
    assert outcomes.state.str.startswith("cancelling").any()
    assert any(e.topic == "OrderFailed" for e in bus.log)
    assert orders_not_ended(locked)                       # the Order Service's own view says so


def test_with_the_lock_order_cancelled_comes_after_the_refund():
    async def main():
        async with Bus() as bus:
            flow = order_saga(bus, stock={"book": 10, "lamp": 0}, semantic_lock=True)
            await flow.orders.place_order(**sample_orders(2)[1])        # a lamp: none in stock
            await bus.drain()
        return bus, flow
    bus, flow = run(main(), seed=1)
    topics = [e.topic for e in bus.log]
    assert flow.orders.state["order-0001"] == CANCELLED
    assert "PaymentRefunded" in topics and topics.index("PaymentRefunded") < topics.index("OrderCancelled")
    assert topics.count("OrderCancelled") == 1


def locked_fed(events):
    async def main():
        async with Bus() as bus:
            service = SagaOrderService(bus, semantic_lock=True)
            for topic in events:
                await bus.publish(topic, {"order_id": "order-0001", "customer": "c@example.com"},
                                  key="order-0001")
            await bus.drain()
        return service, [e.topic for e in bus.log]
    return run(main())


@pytest.mark.parametrize("events, state", [
    (["InventoryUnavailable"], REFUNDING),
    (["InventoryUnavailable", "PaymentProcessed"], REFUNDING),
    (["InventoryUnavailable", "PaymentProcessed", "PaymentRefunded"], CANCELLED),
    (["PaymentProcessed", "InventoryUnavailable", "PaymentRefunded"], CANCELLED),
    (["InventoryUnavailable", "PaymentFailed"], CANCELLED),
    (["OrderFailed", "PaymentRefunded"], "cancelling: release due"),
    (["OrderFailed", "InventoryReleased", "PaymentRefunded"], CANCELLED),
    (["OrderFailed"], UNDOING),
])
def test_the_locked_order_is_cancelled_only_once_every_compensation_has_reported(events, state):
    service, topics = locked_fed(events)
    assert service.state["order-0001"] == state
    assert topics.count("OrderCancelled") == (state == CANCELLED)


def test_the_locked_table_ends_in_terminal_states():
    assert all(to in LOCKED_MOVES for moves in LOCKED_MOVES.values() for to in moves.values())
    assert LOCKED_MOVES[COMPLETED] == {} and LOCKED_MOVES[CANCELLED] == {}


def test_a_participant_that_gives_up_announces_order_failed_and_the_others_compensate():
    async def main():
        async with Bus() as bus:
            from sagalab.retry import redelivery
            bus.use(redelivery(RetryPolicy(maximum_attempts=2, initial_interval=0.1)))
            flow = order_saga(bus, semantic_lock=True)
            FaultPlan(script=["error", "error"]).attach(flow.payments)
            await flow.orders.place_order(**sample_orders(1)[0])
            await bus.drain()
        return bus, flow
    bus, flow = run(main(), seed=1)
    failed = [e for e in bus.log if e.topic == "OrderFailed"]
    assert len(failed) == 1 and "Payment Service gave up" in failed[0].payload["reason"]
    assert flow.orders.state["order-0001"] == CANCELLED
    assert "order-0001" in flow.inventory.releases
    assert order_violations(flow, {"book": 1000, "lamp": 1000}) == []
    assert bus.failures                                    # still recorded: a dead letter


def test_late_duplicates_can_repeat_a_delivery_many_times_and_refuse_bad_shares():
    async def main():
        async with Bus() as bus:
            seen = []

            async def count(event):
                seen.append(event.id)
            bus.subscribe("Ping", count, group="counter")
            bus.use(late_duplicates(bus, 1.0, again=0.8))
            for _ in range(20):
                await bus.publish("Ping", {}, key="k")
            await bus.drain()
        return seen
    seen = run(main(), seed=1)
    assert max(seen.count(e) for e in set(seen)) >= 3
    for share, again in ((1.5, 0), (0.5, 1.0), (-0.1, 0)):
        with pytest.raises(ValueError):
            late_duplicates(None, share, again=again)


# -- the same order flow, orchestrated ------------------------------------------------------------

def test_the_orchestrated_order_saga_compensates_a_declined_card_and_missing_stock():
    policy = RetryPolicy(maximum_attempts=3, initial_interval=0.1,
                         non_retryable_error_types=("CardDeclined", "OutOfStock"))
    orch, flow = run(orchestrated_order_trial(6, declined=0.5, stock={"book": 10, "lamp": 1},
                                              retry=policy, policy=policy), seed=2)
    outcomes = orchestrated_order_outcomes(orch, flow)
    assert set(outcomes.outcome) <= {"completed", "cancelled"}
    assert (outcomes.outcome == "cancelled").sum() >= 2
    assert order_violations(flow, {"book": 10, "lamp": 1}) == []
    assert half_done_unflagged(outcomes) == []


@PLANS
@given(plan=small_order_plans)
def test_small_budgets_leave_orders_stuck_but_never_without_a_flag(plan):
    assert check_small_order_plan(plan) == []


# -- the saga deadline (lesson 04c, section 13) -------------------------------------------------

from sagalab.saga import PivotShipmentService, SagaDeadline  # noqa: E402

DEADLINE_TRIAL = dict(n=20, stock={"book": 99, "lamp": 99},
                      outages=(("Shipment Service", 0.5, 2.5), ("Inventory Service", 1.0, 1.5)))


def harmed(outcomes):
    """Orders shipped while their money was refunded or their stock released."""
    return outcomes[outcomes.shipped & ~(outcomes.paid & outcomes["holds stock"])].order.tolist()


def test_a_naive_saga_deadline_compensates_orders_the_pivot_then_ships():
    bus, flow = run(order_trial(**DEADLINE_TRIAL, deadline=1.0, ask_the_pivot=False), seed=2)
    assert harmed(order_outcomes(flow))
    assert not any(e.topic == "OrderExpired" for e in bus.log)


def test_a_pivot_aware_deadline_harms_no_order_and_ends_every_one():
    for seed in range(4):
        bus, flow = run(order_trial(**DEADLINE_TRIAL, deadline=1.0), seed=seed)
        outcomes = order_outcomes(flow)
        assert harmed(outcomes) == [] and orders_not_ended(flow) == []
        assert set(outcomes.outcome) <= {"completed", "cancelled"}
        expired = {e.payload["order_id"] for e in bus.log if e.topic == "OrderExpired"}
        granted = {e.payload["order_id"] for e in bus.log if e.topic == "OrderFailed"}
        refused = {r["order"] for r in flow.shipments.refused}
        assert granted == flow.shipments.closed and expired == granted | refused
        assert not refused & granted


def test_without_a_deadline_the_same_outage_only_delays():
    _, flow = run(order_trial(**DEADLINE_TRIAL, semantic_lock=True), seed=2)
    assert set(order_outcomes(flow).outcome) == {"completed"}


def test_the_pivot_refuses_an_expiry_once_the_shipment_has_begun():
    async def main():
        async with Bus() as bus:
            shipments = PivotShipmentService(bus)
            facts = {"order_id": "order-0001", "customer": "c@example.com"}
            for topic in ("PaymentProcessed", "InventoryReserved"):
                await bus.publish(topic, facts, key="order-0001")
            await asyncio.sleep(0)                  # the join runs; the shipment begins
            await bus.publish("OrderExpired", {**facts, "reason": "deadline"}, key="order-0001")
            await bus.drain()
        return bus, shipments
    bus, shipments = run(main(), seed=1)
    assert [r["order"] for r in shipments.refused] == ["order-0001"]
    assert "order-0001" in shipments.shipments
    assert not any(e.topic == "OrderFailed" for e in bus.log)


def test_a_saga_deadline_must_be_positive_and_a_duplicate_starts_no_second_clock():
    async def main():
        async with Bus() as bus:
            flow = order_saga(bus, semantic_lock=True)
            with pytest.raises(ValueError, match="positive number of seconds"):
                SagaDeadline(bus, flow.orders, 0)
            deadline = SagaDeadline(bus, flow.orders, 5.0)
            facts = {"order_id": "order-0001", "customer": "c@example.com", "items": {}, "amount": 1}
            for _ in range(2):
                await bus.publish("OrderPlaced", facts, key="order-0001")
            await bus.drain()
            return len(deadline.timers)
    assert run(main(), seed=1) == 1
