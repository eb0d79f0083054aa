"""The transactional outbox (sagalab/outbox.py) and the dead-letter queue's second retry mode,
publish-side validation and broker limits (sagalab/dlq.py), built in notebook 05."""
import asyncio

import pytest

from sagalab.bus import Bus
from sagalab.dlq import (DEAD, DELIVERY_LIMIT, InvalidMessage, DeadLetterQueue, broker_limits,
                         conservation, validate_on_publish)
from sagalab.outbox import OUTBOX_ID, Crash, Database, Inbox, Relay
from sagalab.retry import RetryPolicy
from sagalab.runtime import now, run, stream

POLICY = RetryPolicy(maximum_attempts=4, initial_interval=0.2, non_retryable_error_types=("ValueError",))


def test_commit_writes_state_and_row_together():
    async def main():
        db = Database("Payments")
        row = db.commit("order-1", "charged", topic="PaymentProcessed", payload={"amount": 5})
        return db.state, [r.id for r in db.unsent()], row.key
    state, unsent, key = run(main(), seed=1)
    assert state == {"order-1": "charged"} and unsent == ["out-0001"] and key == "order-1"


@pytest.mark.parametrize("seed", range(5))
def test_relay_never_loses_and_inbox_applies_once(seed):
    async def main():
        crashes = stream("crashes")
        async with Bus() as bus:
            db, inbox, applied = Database("Payments"), Inbox(), []

            async def apply(env):
                applied.append(env.headers[OUTBOX_ID])
            bus.subscribe("Paid", inbox.once(apply), group="Shipping")
            relay = Relay(db, bus, crash=lambda: crashes.random() < 0.3)
            task = asyncio.create_task(relay.run())
            for i in range(40):
                db.commit(f"order-{i}", "charged", topic="Paid", payload={})
                await asyncio.sleep(0.02)
            await relay.flush()
            task.cancel()
            await bus.drain()
        return applied, relay.crashes, inbox.duplicates, len(bus.log)
    applied, crashes, duplicates, published = run(main(), seed=seed)
    assert sorted(applied) == sorted(set(applied)) and len(applied) == 40
    assert published == 40 + crashes and duplicates == crashes > 0


def test_a_crash_before_the_mark_publishes_the_row_again():
    async def main():
        async with Bus() as bus:
            db = Database("Payments")
            db.commit("k", 1, topic="T", payload={})
            answers = iter([True, False])
            relay = Relay(db, bus, crash=lambda: next(answers))
            with pytest.raises(Crash):
                await relay.relay_once()
            assert db.unsent()
            await relay.relay_once()
            return [e.headers[OUTBOX_ID] for e in bus.log], db.outbox["out-0001"].publishes
    assert run(main(), seed=1) == (["out-0001", "out-0001"], 2)


@pytest.mark.parametrize("blocking", [True, False])
def test_both_retry_modes_balance_and_keep_the_limit(blocking):
    async def main():
        async with Bus() as bus:
            dlq = DeadLetterQueue().install(bus, retry=POLICY, blocking=blocking)
            order = []

            async def handle(env):
                await asyncio.sleep(0.01)
                if env.payload["n"] % 4 == 0:
                    raise KeyError("customer")
                order.append(env.payload["n"])
            bus.subscribe("T", handle, group="G")
            for n in range(12):
                await bus.publish("T", {"n": n}, key=f"k{n}")
            await dlq.drain()
            return conservation(bus, dlq), [l.attempts for l in dlq.letters.values()], order, now()
    books, attempts, order, end = run(main(), seed=3)
    assert books["balanced"] and books["dead-lettered"] == 3
    assert attempts == [POLICY.maximum_attempts] * 3
    assert order == [n for n in range(12) if n % 4]          # only the failing ones move


def test_non_blocking_lets_the_others_pass():
    async def day(blocking):
        async with Bus() as bus:
            dlq = DeadLetterQueue().install(bus, retry=POLICY, blocking=blocking)
            done = {}

            async def handle(env):
                if env.payload["n"] == 0:
                    raise KeyError("poison")
                done[env.payload["n"]] = now()
            bus.subscribe("T", handle, group="G")
            for n in range(5):
                await bus.publish("T", {"n": n}, key=f"k{n}")
            await dlq.drain()
            return max(done.values())
    assert run(day(False), seed=1) < run(day(True), seed=1)


def test_timeouts_need_blocking():
    async def main():
        async with Bus() as bus:
            DeadLetterQueue().install(bus, retry=POLICY, timeouts=1.0, blocking=False)
    with pytest.raises(ValueError, match="blocking"):
        run(main(), seed=1)


def test_validate_on_publish_refuses_with_the_reason():
    async def main():
        async with Bus() as bus:
            bus.use(validate_on_publish({"T": lambda p: [] if "id" in p else ["missing field 'id'"]}),
                    on="publish")
            await bus.publish("T", {"id": 1})
            with pytest.raises(InvalidMessage, match="missing field 'id'"):
                await bus.publish("T", {"name": "x"})
            return len(bus.log)
    assert run(main(), seed=1) == 1


def test_broker_limits_and_rabbitmq_delivery_count():
    assert broker_limits(4) == {"SQS maxReceiveCount": 4, "RabbitMQ quorum queue x-delivery-limit": 3}
    with pytest.raises(ValueError):
        broker_limits(0)

    async def main():
        async with Bus() as bus:
            dlq = DeadLetterQueue().install(bus, retry=POLICY)

            async def fail(env):
                raise KeyError("always")
            bus.subscribe("T", fail, group="G")
            await bus.publish("T", {})
            await bus.drain()
            letter = next(iter(dlq.letters.values()))
            return letter.status, letter.reason, letter.headers("rabbitmq"), letter.headers("sqs")
    status, reason, rabbit, sqs = run(main(), seed=1)
    assert (status, reason) == (DEAD, DELIVERY_LIMIT)
    assert rabbit["x-delivery-count"] == 3 and sqs["ApproximateReceiveCount"] == 4
