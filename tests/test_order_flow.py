"""The order flow as a choreography (sagalab/services.py, second part, from notebook 02)."""
import asyncio
import itertools

import pytest

from sagalab.bus import Bus, event_log
from sagalab.orchestrator import Orchestrator, order_workflow
from sagalab.runtime import run
from sagalab.services import (NotificationService, OrderService, ShipmentService,
                              order_flow, sample_orders)


async def choreographed(n=10, every=1.0, consumers=1, stock=None, outage=None):
    async with Bus() as bus:
        flow = order_flow(bus, consumers=consumers, stock=stock)

        tasks = [asyncio.create_task(bus.outage(*outage))] if outage else []
        for order in sample_orders(n):
            tasks.append(asyncio.create_task(flow.orders.place_order(**order)))
            await asyncio.sleep(every)
        await asyncio.gather(*tasks)
        await bus.drain()
    return bus, flow


def test_one_order_flows_through_every_service_in_the_articles_order():
    bus, flow = run(choreographed(1), seed=7)
    topics = [e.topic for e in bus.log]
    assert topics[0] == "OrderPlaced" and topics[-1] == "ShipmentCreated"
    assert sorted(topics[1:3]) == ["InventoryReserved", "PaymentProcessed"]
    log = event_log(bus)
    assert log.caused_by.iloc[1:3].tolist() == ["evt-0001", "evt-0001"]
    assert log.source.tolist()[0] == "Order Service"
    row = flow.table().iloc[0]
    assert row.placed < min(row.paid, row.reserved) and row.shipped >= max(row.paid, row.reserved)
    assert row.notified > row.shipped
    assert flow.notifications.emails.sent[0]["to"] == "customer1@example.com"
    assert not bus.failures


def test_every_order_ships_once_and_is_notified_with_competing_consumers():
    bus, flow = run(choreographed(30, every=0.1, consumers=3), seed=1)
    table = flow.table()
    assert table.notified.notna().all() and len(table) == 30
    assert len(flow.shipments.shipments) == 30 and len(flow.notifications.emails.sent) == 30
    assert sum(e.topic == "ShipmentCreated" for e in bus.log) == 30
    assert flow.inventory.stock == {"book": 1000 - 30, "lamp": 1000 - 20}


PREREQUISITES = [("PaymentProcessed", {"payment_id": "payment-x", "amount": 20.0}),
                 ("InventoryReserved", {"reservation_id": "reservation-x"})]


@pytest.mark.parametrize("arrivals", sorted(set(itertools.permutations([0, 0, 1, 1, 1]))))
def test_the_shipment_join_ships_once_whatever_the_order_and_duplicates(arrivals):
    async def main():
        async with Bus() as bus:
            shipments = ShipmentService(bus)
            for i in arrivals:
                topic, extra = PREREQUISITES[i]
                await bus.publish(topic, {"order_id": "order-0001", "customer": "a@example.com",
                                          **extra}, key="order-0001")
            await bus.drain()
        return bus, shipments
    bus, shipments = run(main())
    assert list(shipments.shipments) == ["order-0001"]
    assert [e.topic for e in bus.log].count("ShipmentCreated") == 1


@pytest.mark.parametrize("only", [0, 1])
def test_the_shipment_join_waits_for_both(only):
    async def main():
        async with Bus() as bus:
            shipments = ShipmentService(bus)
            topic, extra = PREREQUISITES[only]
            for _ in range(2):
                await bus.publish(topic, {"order_id": "order-0001", "customer": "a@example.com",
                                          **extra}, key="order-0001")
            await bus.drain()
        return shipments
    assert run(main()).shipments == {}


def test_out_of_stock_is_announced_and_nothing_ships():
    bus, flow = run(choreographed(3, stock={"book": 1, "lamp": 0}), seed=2)
    topics = [e.topic for e in bus.log]
    assert topics.count("InventoryUnavailable") == 2 and topics.count("ShipmentCreated") == 1
    unavailable = [e for e in bus.log if e.topic == "InventoryUnavailable"]
    assert "not enough stock" in unavailable[0].payload["reason"]
    assert flow.inventory.stock == {"book": 0, "lamp": 0}


def test_a_service_down_degrades_gracefully_and_catches_up():
    bus, flow = run(choreographed(30, outage=("Notification Service", 5.0, 15.0)), seed=7)
    table = flow.table()
    assert table.shipped.between(5, 15).sum() == 10          # shipping went on
    assert not table.notified.between(5, 15).any()           # notifying did not
    assert table.notified.notna().all()                      # and caught up afterwards
    late = table[(table.placed >= 5) & (table.placed < 15)]
    assert (late.notified >= 15).all()


def test_choreography_and_orchestration_take_the_same_time_at_low_load():
    async def conduct(n):
        flow = order_flow()
        orchestrator = Orchestrator(order_workflow(flow))
        for order in sample_orders(n):
            orchestrator.start(order)
            await asyncio.sleep(1.0)
        await orchestrator.wait()
        return flow, orchestrator
    _, choreo = run(choreographed(10), seed=7)
    orch_flow, orchestrator = run(conduct(10), seed=7)
    assert (orchestrator.table().status == "completed").all()
    assert choreo.table().end_to_end.round(9).tolist() == orch_flow.table().end_to_end.round(9).tolist()


def test_services_without_a_bus_are_plain_services():
    async def main():
        orders = OrderService()
        order_id = await orders.place_order("a@example.com", {"book": 1}, 20.0)
        with pytest.raises(ValueError, match="at least one item"):
            await orders.place_order("a@example.com", {}, 0.0)
        return orders, order_id
    orders, order_id = run(main())
    assert order_id == "order-0001" and orders.orders[order_id]["amount"] == 20.0
    with pytest.raises(ValueError, match="consumers"):
        NotificationService(consumers=0)
