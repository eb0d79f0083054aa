"""Lesson 03's remedies and load models (sagalab/faults.py and sagalab/retry.py, from
notebooks/03_failures.ipynb): Capacity and SlowSpells, hedged requests, Retry-After, retry
budgets, non-blocking redelivery, the lost acknowledgement, and the Order Service's
idempotency key."""
import asyncio

import pytest

from sagalab.bus import Bus
from sagalab.faults import Capacity, FaultPlan, SlowSpells, TransientError
from sagalab.retry import (DELIVERY_COUNT, GAVE_UP, NO_BUDGET, Attempts, IdempotentOrderService,
                           RetryBudget, RetryPolicy, hedged_call, redeliver_later, redelivery,
                           retry_call)
from sagalab.runtime import now, run
from sagalab.services import OrderService, Service


def fixed(seconds=1.0, name="S"):
    return Service(name, median=seconds, spread=0.0)


# -- Capacity and SlowSpells -------------------------------------------------------------------
def test_capacity_queues_requests_first_come_first_served():
    async def main():
        service = Capacity(2).attach(fixed(1.0))
        ends = []

        async def one():
            await service.call("op", lambda: None)
            ends.append(now())
        await asyncio.gather(*(one() for _ in range(5)))
        return ends
    assert run(main()) == pytest.approx([1, 1, 2, 2, 3])


def test_an_abandoned_request_keeps_its_server():
    async def main():
        service = Capacity(1).attach(fixed(1.0))
        try:
            async with asyncio.timeout(0.1):
                await service.call("op", lambda: None)
        except TimeoutError:
            pass
        start = now()
        await service.call("op", lambda: None)
        return now() - start
    assert run(main()) == pytest.approx(1.9)     # waited for the abandoned one


def test_slow_spells_are_reproducible_and_slow_calls_inside_them():
    spells = SlowSpells(every=5.0, lasting=2.0, factor=10.0)

    async def main():
        capacity = Capacity(100, spells=spells)
        service = capacity.attach(fixed(0.1))
        took = []
        for _ in range(400):
            start = now()
            await service.call("op", lambda: None)
            took.append((start, round(now() - start, 6)))
            await asyncio.sleep(0.1)
        inside = [t for s, t in took if capacity.slow_at("S", s)]
        return took, inside
    took, inside = run(main(), seed=4)
    assert run(main(), seed=4)[0] == took and run(main(), seed=5)[0] != took
    assert inside and all(t == pytest.approx(1.0) for t in inside)
    assert sum(t == pytest.approx(0.1) for _, t in took) == len(took) - len(inside)
    assert 0.03 < len(inside) / len(took) < 0.5         # fewer calls fit in a slow second


def test_capacity_and_spells_refuse_nonsense():
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="servers"):
            Capacity(bad)
    with pytest.raises(ValueError, match="every"):
        SlowSpells(every=0)
    with pytest.raises(ValueError, match="factor"):
        SlowSpells(factor=0.5)


# -- hedged requests ---------------------------------------------------------------------------
class Latencies:
    """An async call whose copies take the given seconds, in order."""

    def __init__(self, *seconds, fail=()):
        self.seconds, self.fail, self.started, self.finished = list(seconds), set(fail), [], []

    async def __call__(self):
        n = len(self.started)
        self.started.append(now())
        await asyncio.sleep(self.seconds[n])
        self.finished.append(n)
        if n in self.fail:
            raise TransientError(f"copy {n} failed")
        return f"copy {n}"


def test_a_fast_answer_sends_no_backup():
    call = Latencies(0.1, 0.1)
    assert run(hedged_call(call, after=0.5)) == "copy 0" and len(call.started) == 1


def test_a_slow_answer_gets_a_backup_and_the_first_answer_wins():
    async def main():
        call, log = Latencies(5.0, 0.2), Attempts()
        result = await hedged_call(call, after=0.5, log=log)
        return result, now(), call.started, log.frame().verdict.tolist()
    result, ended, started, verdicts = run(main())
    assert result == "copy 1" and ended == pytest.approx(0.7)
    assert started == pytest.approx([0.0, 0.5])
    assert verdicts == ["abandoned", "ok"]


def test_the_first_copy_is_not_abandoned_when_it_answers_first():
    call = Latencies(0.8, 5.0)
    assert run(hedged_call(call, after=0.5)) == "copy 0"


def test_a_failed_copy_starts_the_next_at_once_and_all_failed_raises_the_last_error():
    call = Latencies(0.1, 0.1, fail={0, 1})
    with pytest.raises(TransientError, match="copy 1"):
        run(hedged_call(call, after=5.0, hedges=1))
    assert call.started == pytest.approx([0.0, 0.1])


# -- Retry-After and the retry budget ----------------------------------------------------------
class Busy(TransientError):
    def __init__(self, retry_after):
        super().__init__("429")
        self.retry_after = retry_after


def test_retry_after_sets_the_wait_unless_told_not_to():
    async def main(honour):
        calls = []

        async def fn():
            calls.append(now())
            if len(calls) == 1:
                raise Busy(retry_after=7.0)
            return "ok"
        await retry_call(fn, RetryPolicy(maximum_attempts=2, initial_interval=1.0, jitter="none"),
                         retry_after=honour)
        return calls
    assert run(main(True)) == pytest.approx([0.0, 7.0])
    assert run(main(False)) == pytest.approx([0.0, 1.0])


def test_a_retry_budget_allows_a_share_of_requests_plus_a_reserve_and_forgets_old_deposits():
    async def main():
        budget = RetryBudget(percent=0.2, min_per_second=0.5, ttl=10.0)
        for _ in range(50):
            budget.deposit()
        allowed = sum(budget.withdraw() for _ in range(100))   # 0.2 × 50 + 0.5 × 10 = 15
        await asyncio.sleep(10.5)
        later = sum(budget.withdraw() for _ in range(100))     # deposits expired: the reserve
        return allowed, later, budget.refused
    assert run(main()) == (15, 5, 180)


def test_a_spent_budget_ends_the_call_with_no_budget():
    async def main():
        budget = RetryBudget(percent=0.0, min_per_second=0.0)
        calls = []

        async def fn():
            calls.append(now())
            raise TransientError("503")
        with pytest.raises(TransientError) as caught:
            await retry_call(fn, RetryPolicy(maximum_attempts=5), budget=budget)
        return len(calls), caught.value.retry_outcome.verdict
    assert run(main()) == (1, NO_BUDGET)


def test_a_retry_budget_refuses_nonsense():
    with pytest.raises(ValueError):
        RetryBudget(percent=-0.1)
    with pytest.raises(ValueError):
        RetryBudget(ttl=0)


# -- redelivery: in place, later, and a lost acknowledgement -----------------------------------
POLICY = RetryPolicy(maximum_attempts=3, initial_interval=1.0, jitter="none")


async def keyed_flow(middleware_for, fail_first=("e1",)):
    """Events e0..e3 of one key; the handler refuses the first delivery of `fail_first`."""
    handled, failed_once = [], set()
    async with Bus() as bus:
        mw = middleware_for(bus)
        bus.use(mw)

        async def handler(env):
            if env.payload["n"] in fail_first and env.payload["n"] not in failed_once:
                failed_once.add(env.payload["n"])
                raise TransientError("503")
            handled.append((env.payload["n"], now(), env.headers.get(DELIVERY_COUNT)))
        bus.subscribe("T", handler, group="G")
        for i in range(4):
            await bus.publish("T", {"n": f"e{i}"}, key="k")
        await (mw.settle() if hasattr(mw, "settle") else bus.drain())
        return handled, list(bus.failures)


def test_redelivery_in_place_keeps_per_key_order_and_stalls_the_rest():
    handled, failures = run(keyed_flow(lambda bus: redelivery(POLICY)))
    assert [h[0] for h in handled] == ["e0", "e1", "e2", "e3"]
    assert handled[2][1] == pytest.approx(1.0)          # e2 waited for e1's retry
    assert handled[1][2] == "2" and not failures


def test_redelivery_later_keeps_the_flow_and_loses_the_order():
    handled, failures = run(keyed_flow(lambda bus: redeliver_later(bus, POLICY)))
    assert [h[0] for h in handled] == ["e0", "e2", "e3", "e1"]
    assert handled[1][1] == pytest.approx(0.0)          # e2 did not wait
    assert handled[3][1] == pytest.approx(1.0) and handled[3][2] == "2" and not failures


def test_redelivery_later_gives_up_per_policy_and_the_bus_records_it():
    async def main():
        async with Bus() as bus:
            later, log = None, Attempts()
            later = redeliver_later(bus, POLICY, log=log)
            bus.use(later)

            async def always_fails(env):
                raise TransientError("503")
            bus.subscribe("T", always_fails, group="G")
            await bus.publish("T", {}, key="k")
            await later.settle()
            return [a.verdict for a in log], len(bus.failures), now()
    verdicts, failures, ended = run(main())
    assert verdicts == ["retry", "retry", GAVE_UP] and failures == 1
    assert ended == pytest.approx(3.0)                  # waits 1 s, then 2 s


def test_a_lost_acknowledgement_redelivers_an_event_whose_handler_succeeded():
    async def main():
        async with Bus() as bus:
            plan, handled = FaultPlan(script=["lost", "ok"]), []
            bus.use(redelivery(POLICY))
            bus.use(plan.lost_acks("G"))

            async def handler(env):
                handled.append(env.id)
            bus.subscribe("T", handler, group="G")
            await bus.publish("T", {}, key="k")
            await bus.drain()
            return handled, plan.counts(), len(bus.failures)
    handled, counts, failures = run(main())
    assert handled == ["evt-0001", "evt-0001"]           # succeeded, and came back
    assert counts == {"ack lost": 1} and failures == 0


# -- the Order Service's idempotency key --------------------------------------------------------
def test_without_a_key_the_order_service_behaves_as_lesson_02s():
    async def main(cls):
        async with Bus() as bus:
            orders = cls(bus)
            ids = [await orders.place_order("a@example.com", {"book": 1}, 20.0) for _ in range(2)]
            return ids, [e.payload for e in bus.log], len(orders.orders)
    assert run(main(IdempotentOrderService)) == run(main(OrderService))


def test_a_key_records_the_order_once_and_refuses_another_order_under_it():
    async def main():
        async with Bus() as bus:
            orders = IdempotentOrderService(bus)
            first = await orders.place_order("a@example.com", {"book": 1}, 20.0, idempotency_key="k1")
            again = await orders.place_order("a@example.com", {"book": 1}, 20.0, idempotency_key="k1")
            other = await orders.place_order("a@example.com", {"book": 1}, 20.0, idempotency_key="k2")
            with pytest.raises(ValueError, match="another order"):
                await orders.place_order("b@example.com", {"lamp": 1}, 45.0, idempotency_key="k1")
            with pytest.raises(ValueError, match="at least one item"):
                await orders.place_order("b@example.com", {}, 45.0, idempotency_key="k3")
            return first, again, other, len(orders.orders), [e.key for e in bus.log]
    first, again, other, recorded, announced = run(main())
    assert first == again != other and recorded == 2
    assert announced == [first, first, other]            # a repeat is announced again


def test_a_client_retry_after_a_lost_reply_makes_one_order_with_a_key():
    async def main(keyed):
        orders = IdempotentOrderService()
        api = FaultPlan(script=["lost", "lost", "ok"]).wrap(orders.place_order, target="Order API")
        key = {"idempotency_key": "checkout-1"} if keyed else {}
        await retry_call(lambda: api("a@example.com", {"book": 1}, 20.0, **key),
                         RetryPolicy(maximum_attempts=3, initial_interval=0.1))
        return len(orders.orders)
    assert run(main(True)) == 1 and run(main(False)) == 3
