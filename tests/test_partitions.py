"""Partitions and consumer groups as Kafka has them: per-key order through scale-out and
scale-in, no key on two members at once, where a new group starts (issue 17, item 2)."""
import asyncio

import pytest

from sagalab.bus import EARLIEST, Bus, deliveries
from sagalab.runtime import now, run

KEYS = [f"order-{n}" for n in range(6)]


def _per_key_order_and_overlap(handled, frame):
    per_key = {}
    for key, step, _ in sorted(handled, key=lambda x: x[2]):
        per_key.setdefault(key, []).append(step)
    overlapping = []
    for key, rows in frame.groupby("key"):
        rows = rows.sort_values("started")
        if any(a > b for a, b in zip(rows.finished.values[:-1], rows.started.values[1:])):
            overlapping.append(key)
    return per_key, overlapping


async def _traffic(change):
    """Two members, 18 events queued (6 keys × 3 steps), `change(bus, members)`, 18 more."""
    handled = []

    async def pack(event):
        await asyncio.sleep(1.0)
        handled.append((event.key, event.payload["step"], now()))

    async with Bus() as bus:
        members = [bus.subscribe("OrderPaid", pack, group="Packing") for _ in range(2)]
        for step in range(3):
            for key in KEYS:
                await bus.publish("OrderPaid", {"step": step}, key=key)
        await asyncio.sleep(1.5)                 # a handler is running on each member
        change(bus, pack, members)
        for step in range(3, 6):
            for key in KEYS:
                await bus.publish("OrderPaid", {"step": step}, key=key)
        await bus.drain()
        frame = deliveries(bus)
    return handled, frame[frame.group == "Packing"], bus


@pytest.mark.parametrize("change", ["join", "leave", "join and leave"])
def test_per_key_order_holds_when_members_join_or_leave_mid_stream(change):
    def act(bus, pack, members):
        if "join" in change:
            bus.subscribe("OrderPaid", pack, group="Packing")
        if "leave" in change:
            bus.unsubscribe(members[0])

    handled, frame, bus = run(_traffic(act))
    per_key, overlapping = _per_key_order_and_overlap(handled, frame)
    assert per_key == {key: list(range(6)) for key in KEYS}, per_key
    assert not overlapping, f"handled on two members at once: {overlapping}"
    assert len(handled) == 36 and not bus.failures


def test_a_member_that_leaves_hands_its_waiting_events_on_and_stops():
    def act(bus, pack, members):
        bus.unsubscribe(members[0])

    handled, frame, _ = run(_traffic(act))
    after = frame[frame.started > 1.5]
    assert set(after.subscription) == {"Packing#2"}   # the one that left took no new event
    assert len(frame) == 36                            # none lost, none twice


def test_the_last_member_cannot_leave_with_events_waiting():
    async def main():
        async def slow(event):
            await asyncio.sleep(1)

        async with Bus() as bus:
            only = bus.subscribe("T", slow, group="G")
            for _ in range(3):
                await bus.publish("T", {})
            await asyncio.sleep(0.1)
            with pytest.raises(ValueError, match="last member of 'G'.*pause the group"):
                bus.unsubscribe(only)
            await bus.drain()
            bus.unsubscribe(only)                      # nothing waiting: it may go
            return only.active

    assert run(main()) is False


def test_a_new_group_starts_at_the_end_of_the_log_or_at_its_beginning():
    async def main(start):
        seen = []

        async def audit(event):
            seen.append(event.payload["n"])

        async with Bus() as bus:
            for n in range(3):
                await bus.publish("OrderPlaced", {"n": n})
            bus.subscribe("OrderPlaced", audit, group="Audit", start=start)
            await bus.publish("OrderPlaced", {"n": 3})
            await bus.drain()
        return seen

    assert run(main("latest")) == [3]
    assert run(main(EARLIEST)) == [0, 1, 2, 3]


@pytest.mark.parametrize("bad", [0, -1, 2.5, "12", True])
def test_a_partition_count_below_one_is_refused(bad):
    async def main():
        Bus(partitions=bad)
    with pytest.raises(ValueError, match="partitions must be a whole number ≥ 1"):
        run(main())


def test_an_unknown_start_position_is_refused_naming_both():
    async def handler(event):
        pass

    async def main():
        async with Bus() as bus:
            bus.subscribe("T", handler, start="beginning")
    with pytest.raises(ValueError, match="'earliest' or 'latest'"):
        run(main())


def test_more_members_than_partitions_leaves_some_idle():
    async def main():
        async def handle(event):
            await asyncio.sleep(0.1)

        async with Bus(partitions=2) as bus:
            members = [bus.subscribe("T", handle, group="G") for _ in range(3)]
            for n in range(20):
                await bus.publish("T", {}, key=f"k{n}")
            await bus.drain()
            return [len(m.received) for m in members]

    counts = run(main())
    assert counts[2] == 0 and sum(counts) == 20      # partition p goes to member p mod 3


# -- delivery semantics (issue 17, item 3) ----------------------------------------------------

def test_a_lost_acknowledgement_delivers_the_event_again_after_success():
    from sagalab.faults import FaultPlan
    from sagalab.retry import RetryPolicy, redelivery

    async def main():
        done = []

        async def charge(event):
            done.append((event.id, event.headers.get("delivery-count", "1")))

        plan = FaultPlan(script=["lost"])           # the first acknowledgement is lost
        async with Bus() as bus:
            bus.use(redelivery(RetryPolicy(maximum_attempts=3, initial_interval=0.1)))
            bus.use(plan.lost_acks("Payment"))
            bus.subscribe("OrderPlaced", charge, group="Payment")
            await bus.publish("OrderPlaced", {}, key="order-1")
            await bus.drain()
        return done, plan.counts(), bus.failures

    done, counts, failures = run(main())
    assert done == [("evt-0001", "1"), ("evt-0001", "2")]   # handled twice: a duplicate after success
    assert counts == {"ack lost": 1} and not failures


def test_a_failing_handler_is_not_delivered_again_without_redelivery():
    """The bus's own contract: at most once for a failing handler (lesson 03 adds redelivery)."""
    async def main():
        calls = []

        async def flaky(event):
            calls.append(event.id)
            raise RuntimeError("boom")

        async with Bus() as bus:
            bus.subscribe("T", flaky)
            await bus.publish("T", {})
            await bus.drain()
        return calls, [f.error for f in bus.failures]

    assert run(main()) == (["evt-0001"], ["RuntimeError: boom"])


def test_an_event_published_from_a_task_a_handler_started_names_its_real_cause():
    async def main():
        async def slow_follow_up(event):
            async def later():
                await asyncio.sleep(5)            # meanwhile the subscription moved on
                await bus.publish("Followed", {"of": event.id})
            asyncio.create_task(later())

        async def nothing(event):
            pass

        async with Bus() as bus:
            bus.subscribe("Started", slow_follow_up, group="Worker")
            bus.subscribe("Followed", nothing, group="Sink")
            for _ in range(3):
                await bus.publish("Started", {})
            await asyncio.sleep(10)
            await bus.drain()
        return [(e.payload["of"], e.caused_by, e.source) for e in bus.log if e.topic == "Followed"]

    for of, caused_by, source in run(main()):
        assert caused_by == of and source == "Worker"
