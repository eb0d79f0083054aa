"""Paired randomness (common random numbers), issue 17 item 1: each service's latencies and
each fault plan's decisions for a target come from a stream of the run seeded from (run seed,
name), so adding a service, a subscriber or a retry changes nobody else's draws."""
import asyncio

from sagalab.bus import Bus, event_log
from sagalab.faults import FaultPlan
from sagalab.runtime import rng, run, stream
from sagalab.services import BusService, UserService, order_flow, sample_orders


def test_fault_decisions_do_not_depend_on_earlier_draws():
    """The review's t7: 0, 1 or 5 earlier draws used to give three different fault sequences."""
    def decisions(earlier):
        async def main():
            for _ in range(earlier):
                rng().random()
            plan = FaultPlan(error_rate=0.3)
            return "".join("E" if plan.decide("User Service") == "error" else "."
                           for _ in range(30))
        return run(main(), seed=3)

    assert decisions(0) == decisions(1) == decisions(5)
    assert "E" in decisions(0) and "." in decisions(0)


def test_a_target_meets_the_same_faults_however_calls_interleave():
    async def main(order):
        plan = FaultPlan(error_rate=0.5)
        seen = {"A": [], "B": []}
        for target in order:
            seen[target].append(plan.decide(target))
        return seen

    first = run(main("AABBABAB" * 4), seed=1)
    second = run(main("BBBBAAAA" * 4), seed=1)
    assert first == second


def test_a_service_draws_its_latencies_from_its_own_stream():
    async def latencies(other_draws):
        users = UserService()
        seen = []
        for _ in range(5):
            for _ in range(other_draws):
                stream("latency/Another Service").random()
                rng().random()
            seen.append(users.latency())
        return seen

    assert run(latencies(0), seed=7) == run(latencies(3), seed=7)
    assert run(latencies(0), seed=7) != run(latencies(0), seed=8)


def test_adding_a_subscriber_that_draws_random_numbers_changes_nobody_else():
    class Lottery(BusService):
        """Draws from the run's generator and from its own latency stream on every payment."""

        def __init__(self, bus=None):
            super().__init__("Lottery Service", bus, median=0.1, spread=0.5)
            self.react("PaymentProcessed", self.on_payment)

        async def on_payment(self, event):
            rng().random()
            await self.call("draw", lambda: None)

    async def shop(with_lottery):
        async with Bus() as bus:
            flow = order_flow(bus, consumers=2)
            if with_lottery:
                Lottery(bus)
            for order in sample_orders(30):
                await flow.orders.place_order(**order)
                await asyncio.sleep(0.5)
            await bus.drain()
        log = event_log(bus)
        return log[log.source != "Lottery Service"][["topic", "key", "time"]], flow.table()

    (log_a, table_a), (log_b, table_b) = run(shop(False), seed=5), run(shop(True), seed=5)
    assert log_a.reset_index(drop=True).equals(log_b.reset_index(drop=True))
    assert table_a.equals(table_b)
