"""sagalab.streams on a real Redis server (127.0.0.1, a random port, a password; started and
stopped here, also when a test fails): redelivery after a crashed consumer counts deliveries as
Redis does, the dead-letter entry carries lesson 05's metadata and its original is acknowledged,
lesson 02's order flow balances, "$" misses what came before, nothing pending vanishes.
Under CI nothing here is skipped."""
import asyncio
import json
import os

import pytest

from sagalab import servers

pytest.importorskip("redis")

from sagalab.bus import EARLIEST, LATEST  # noqa: E402
from sagalab.dlq import DELIVERY_LIMIT, INVALID, InvalidMessage  # noqa: E402
from sagalab.dlqshop import OrderServiceV2, validate_order_placed  # noqa: E402
from sagalab.runtime import run  # noqa: E402
from sagalab.services import (InventoryService, NotificationService, OrderFlow,  # noqa: E402
                              PaymentService, ShipmentService, sample_orders)
from sagalab.streams import (DELETED, RedisBus, create_group, dead_letters,  # noqa: E402
                             decode, delivery_count, dlq_stream, encode)

CI = os.environ.get("CI", "").lower() == "true"


def _have_redis() -> bool:
    try:
        servers.redis_command()
    except servers.ServerMissing:
        return False
    return True


def test_under_ci_the_redis_binary_is_found_so_nothing_here_skips():
    if not CI:
        pytest.skip("not CI: the check that the binary is installed applies in CI only")
    assert _have_redis(), "CI must install redis-tools (tests/ensure_redis.sh)"


needs_redis = pytest.mark.skipif(
    not _have_redis() and not CI,
    reason="no Redis server here: sudo apt-get install redis-tools (or brew install redis)")


@pytest.fixture
def redis_server():
    with servers.start_redis() as server:      # stopped by pid on the way out, pass or fail
        yield server
    assert not server.running


def on(server, body):
    """Run `body(client)` on a fresh event loop with its own client, closed afterwards."""
    async def main():
        client = server.client()
        try:
            return await body(client)
        finally:
            await client.aclose()
    return asyncio.run(main())


# -- no server needed ---------------------------------------------------------------------------

def test_an_event_survives_the_trip_through_a_stream_entry():
    fields = encode("OrderPlaced", {"order_id": "order-0001", "amount": 20.0}, key="order-0001",
                    event="OrderPlaced/1-0", source="Order Service", headers={"traceparent": "x"})
    assert all(isinstance(v, str) for v in fields.values())
    envelope = decode(fields)
    assert (envelope.id, envelope.topic, envelope.key, envelope.source) == (
        "OrderPlaced/1-0", "OrderPlaced", "order-0001", "Order Service")
    assert envelope.payload == {"order_id": "order-0001", "amount": 20.0}
    assert envelope.headers == {"traceparent": "x"}


@pytest.mark.parametrize("fields, says", [
    ({"order": "order-9999"}, "missing field(s) event, topic, payload"),
    ({"event": "e", "topic": "t", "payload": "{not json"}, "payload is not JSON"),
    ({"event": "e", "topic": "t", "payload": "[1, 2]"}, "JSON list, not an object"),
    ({"event": "e", "topic": "t", "payload": json.dumps({"order_id": "o"})}, "missing field 'customer'"),
])
def test_a_malformed_entry_is_refused_with_what_is_wrong(fields, says):
    with pytest.raises(InvalidMessage, match=says.replace("(", r"\(").replace(")", r"\)")
                       .replace("[", r"\[")):
        decode(fields, validate_order_placed)


def test_a_limit_below_one_attempt_is_refused():
    for limit in (0, -1, 1.5, "3"):
        with pytest.raises(ValueError, match="limit"):
            RedisBus(client=None, limit=limit)


# -- on the server ------------------------------------------------------------------------------

async def _crash_with_pending(client, n=3, poison="2-0"):
    """n entries on "orders"; group "payment"; consumer "pay-1" reads them all, acknowledges all
    but `poison`, and crashes (is never used again)."""
    for i in range(1, n + 1):
        await client.xadd("orders", encode("OrderPlaced", {"order_id": f"order-{i:04d}"},
                                           key=f"order-{i:04d}", event=f"OrderPlaced/{i}-0"),
                          id=f"{i}-0")
    assert await create_group(client, "orders", "payment", EARLIEST)
    reply = await client.xreadgroup("payment", "pay-1", {"orders": ">"}, count=10)
    ids = [entry_id for entry_id, _ in reply[0][1]]
    assert ids == [f"{i}-0" for i in range(1, n + 1)]
    await client.xack("orders", "payment", *[i for i in ids if i != poison])


@needs_redis
@pytest.mark.parametrize("limit", [1, 3])
def test_a_crashed_consumers_entry_is_redelivered_counted_then_dead_lettered(redis_server, limit):
    async def body(client):
        await _crash_with_pending(client)
        summary = await client.xpending("orders", "payment")
        assert summary["pending"] == 1 and summary["consumers"] == [{"name": "pay-1", "pending": 1}]
        calls, counts = [], []

        async def pay(envelope):
            calls.append(envelope.key)
            raise RuntimeError("card declined")

        bus = RedisBus(client, limit=limit, idle_ms=0)
        member = bus.subscribe("orders", pay, group="payment")
        for _ in range(limit + 2):          # more claims than needed: the last ones find nothing
            await bus.claim(member, "orders")
            counts.append(await delivery_count(client, "orders", "payment", "2-0"))
        return calls, counts, await dead_letters(client, "orders", "payment"), \
            await client.xpending("orders", "payment")

    calls, counts, letters, pending = on(redis_server, body)
    # Redis counted the crashed consumer's delivery, then one per claim; the handler ran on
    # every delivery but the crashed one and the last (which found the count over the limit).
    assert calls == ["order-0002"] * (limit - 1)
    assert counts[: limit - 1] == list(range(2, limit + 1)) and counts[limit - 1:] == [0] * 3
    assert pending["pending"] == 0                      # the original is acknowledged
    assert len(letters) == 1
    letter = letters.iloc[0]
    assert (letter.reason, letter.attempts, letter.group, letter.subscription, letter.offset,
            letter.stream) == (DELIVERY_LIMIT, limit, "payment", "payment#1", "2-0", "orders")
    assert (letter.key, letter.event, json.loads(letter.payload)) == (
        "order-0002", "OrderPlaced/2-0", {"order_id": "order-0002"})
    if limit > 1:                                       # this process saw the handler fail
        assert (letter.error_type, letter.error) == ("RuntimeError", "card declined")
    else:                                               # only the crashed consumer did
        assert letter.error_type == "" and letter.error.startswith("unknown")


@needs_redis
def test_an_entry_deleted_while_pending_is_dead_lettered_not_lost(redis_server):
    async def body(client):
        await _crash_with_pending(client)
        await client.xdel("orders", "2-0")
        bus = RedisBus(client, idle_ms=0)

        async def never(envelope):
            raise AssertionError("a deleted entry must not reach the handler")

        await bus.claim(bus.subscribe("orders", never, group="payment"), "orders")
        return await dead_letters(client, "orders", "payment"), await client.xpending("orders", "payment")

    letters, pending = on(redis_server, body)
    assert letters[["offset", "reason"]].values.tolist() == [["2-0", DELETED]]
    assert pending["pending"] == 0


@needs_redis
def test_a_group_created_at_dollar_misses_what_came_before_and_keeps_its_position(redis_server):
    async def body(client):
        bus = RedisBus(client)
        for i in (1, 2):
            assert await bus.publish("orders", {"n": i}, key=f"k{i}") == f"{i}-0"
        read = {}
        for start in (LATEST, EARLIEST):
            assert await create_group(client, "orders", start, start)
            reply = await client.xreadgroup(start, "c", {"orders": ">"}, count=10)
            read[start] = len(reply[0][1]) if reply else 0
        assert not await create_group(client, "orders", LATEST, EARLIEST)   # exists: kept
        reply = await client.xreadgroup(LATEST, "c", {"orders": ">"}, count=10)
        again = await RedisBus(client).publish("orders", {"n": 3}, key="k3")  # another producer
        return read, reply, again

    read, reply, again = on(redis_server, body)
    assert read == {LATEST: 0, EARLIEST: 2}
    assert not reply                        # still at "$": re-creating at "0" moved nothing
    assert again == "3-0"                   # a second bus carries on after the ids there


class _DeclinedForOne(PaymentService):
    def __init__(self, bus, **options):
        super().__init__(bus, **options)
        self.attempts: dict[str, int] = {}

    async def charge(self, order_id, amount):
        self.attempts[order_id] = self.attempts.get(order_id, 0) + 1
        if order_id == "order-0002":
            raise TimeoutError("card network timeout")
        return await super().charge(order_id, amount)


@needs_redis
def test_lesson_02s_order_flow_on_redis_balances_on_the_server(redis_server):
    async def shop():
        client = redis_server.client()
        bus = RedisBus(client, limit=3, idle_ms=300,
                       validators={"OrderPlaced": validate_order_placed})
        m = 0.005
        flow = OrderFlow(OrderServiceV2(bus, median=m), _DeclinedForOne(bus, median=m, consumers=2),
                         InventoryService(bus, median=m, consumers=2),
                         ShipmentService(bus, median=m, consumers=2),
                         NotificationService(bus, median=m, consumers=2))
        try:
            async with bus:
                for number, order in enumerate(sample_orders(6), 1):
                    flow.orders.buggy = number == 4          # lesson 05's poison release
                    await flow.orders.place_order(**order)
                await client.xadd("OrderPlaced", {"junk": "1"}, id="100-0")   # not an event
                await bus.drain()
            groups = {}
            for stream in ("OrderPlaced", "PaymentProcessed", "InventoryReserved", "ShipmentCreated"):
                for g in await client.xinfo_groups(stream):
                    row = groups.setdefault(g["name"], {"read": 0, "pending": 0})
                    row["read"] += g["entries-read"]
                    row["pending"] += g["pending"]
            letters = {g: await dead_letters(client, "OrderPlaced", g)
                       for g in ("Payment Service", "Inventory Service")}
            return flow, bus, groups, letters
        finally:
            await client.aclose()

    flow, bus, groups, letters = run(shop(), realtime=True, until=60)
    table = flow.table()
    assert table.notified.notna().sum() == 4            # order 2 declined, order 4 poison
    assert flow.payments.attempts["order-0002"] == 3
    pay, stock = letters["Payment Service"], letters["Inventory Service"]
    assert sorted(pay.reason) == [DELIVERY_LIMIT, INVALID, INVALID]
    assert sorted(stock.reason) == [INVALID, INVALID]
    assert pay.set_index("reason").loc[DELIVERY_LIMIT, "attempts"] == 3
    assert set(pay[pay.reason == INVALID].offset) == {"4-0", "100-0"}
    for group, row in groups.items():                   # every entry: handled or dead-lettered
        handled = sum(m.handled for m in bus.members if m.group == group)
        dead = len(letters.get(group, ()))
        assert row["pending"] == 0 and row["read"] == handled + dead, (group, row, handled, dead)
    assert {m.name for m in bus.members if m.group == "Payment Service"} == {
        "Payment Service#1", "Payment Service#2"}
    assert all(m.task.done() for m in bus.members)      # the members stopped with the bus


@needs_redis
def test_a_claim_timeout_shorter_than_the_handler_delivers_twice(redis_server):
    async def body(client, idle_ms):
        await client.delete("reports")
        bus, calls = RedisBus(client, idle_ms=idle_ms), []

        async def slow(envelope):
            calls.append(envelope.key)
            await asyncio.sleep(0.5)

        for _ in range(2):
            bus.subscribe("reports", slow, group="reporting")
        async with bus:
            await bus.publish("reports", {"q": 3}, key="r1")
            await bus.drain()
        return len(calls)

    assert on(redis_server, lambda c: body(c, 50)) == 2
    assert on(redis_server, lambda c: body(c, 2000)) == 1


@needs_redis
def test_the_server_is_stopped_by_pid_when_the_code_using_it_fails():
    with pytest.raises(ZeroDivisionError):
        with servers.start_redis() as server:
            pid = server.pid
            1 / 0
    assert not server.running
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


@needs_redis
def test_the_dead_letter_and_its_acknowledgement_are_one_transaction(redis_server):
    """MULTI/EXEC: the letter and the XACK reach the server together (MONITOR shows them
    between MULTI and EXEC)."""
    async def body(client):
        await _crash_with_pending(client)
        bus = RedisBus(client, limit=1, idle_ms=0)
        member = bus.subscribe("orders", lambda e: asyncio.sleep(0), group="payment")
        monitor_client = redis_server.client()
        commands = []
        async with monitor_client.monitor() as monitor:
            async def listen():
                async for command in monitor.listen():
                    commands.append(command["command"].split()[0].upper())
            listener = asyncio.create_task(listen())
            await asyncio.sleep(0.05)
            await bus.claim(member, "orders")
            await asyncio.sleep(0.1)
            listener.cancel()
        await monitor_client.aclose()
        return commands

    commands = on(redis_server, body)
    start = commands.index("MULTI")
    assert commands[start:start + 4] == ["MULTI", "XADD", "XACK", "EXEC"], commands
    assert dlq_stream("orders", "payment") == "orders:dlq:payment"
