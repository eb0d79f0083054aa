"""A million orders with flat memory: retention, retries and a DLQ on (a benchmark, not a test).

What it runs: the lesson-02 order flow (`order_flow(bus, consumers=4)`) in simulated time, with
lesson 05's dead-letter queue and lesson 03's redelivery installed (`RetryPolicy(3 attempts)`),
a `FaultPlan` that fails and loses replies at random on the Payment and Inventory services,
and a retention setting (`run(..., retention=10_000)`) that bounds every record the cores keep:
the bus's log and its subscriptions' records, the services' calls and business records, the
dead-letter queue and the fault plan's record.

What it checks, outside the bus (so the bus does not vouch for itself): a ledger on the bus's
outermost middleware writes down every delivery due (each published event, once per group
subscribed to its topic) when it is published, and crosses it out when a handler finishes
with it, handled or dead-lettered. A delivery met that is not (or no longer) due is
duplicated; a delivery still due once the bus has drained is lost. The ledger holds only the
deliveries in flight, so it stays small too.

Each order count runs in a process of its own (peak memory is a process's figure):

    .venv/bin/python benchmarks/soak.py [--orders 100000 1000000] [--retention 10000]
    .venv/bin/python benchmarks/soak.py --orders 100000 --no-retention   # what it was before

Lines: RESULT soak_orders <n> lost <k> duplicated <d> peak_mb <m>   (one per order count)
       RESULT soak_peak_ratio <peak of the largest / peak of the smallest>   (flat: <= 1.2)
Targets: lost 0, duplicated 0, peak <= 500 MB. Information, not a test: nothing fails on a
slow machine; a lost or duplicated delivery makes the script exit 1.
"""
from __future__ import annotations

import argparse
import asyncio
import resource
import subprocess
import sys
import time

from sagalab import runtime
from sagalab.bus import DELIVER, PUBLISH, Bus
from sagalab.dlq import DeadLetterQueue
from sagalab.faults import FaultPlan
from sagalab.retry import RetryPolicy
from sagalab.services import order_flow, sample_orders

CONSUMERS = 4
RATE = 8.0                          # orders per simulated second: payment utilisation ~0.63
PLENTY = 10 ** 12
BASKETS = sample_orders(3)          # the three baskets the course's orders cycle through
POLICY = RetryPolicy(maximum_attempts=3, initial_interval=0.2)


class Ledger:
    """Deliveries due and not yet finished, kept outside the bus: bus middleware, outermost."""

    def __init__(self, bus: Bus):
        self.bus, self.due, self.groups = bus, set(), None
        self.finished = self.duplicated = self.failed = self.peak_in_flight = 0

    async def on_publish(self, message, call_next):
        env = await call_next(message)     # queued for its groups; no handler has run yet
        if self.groups is None:            # every subscription is made before the first order
            self.groups = {}
            for sub in self.bus.subscriptions:
                for topic in sub.topics:
                    self.groups.setdefault(topic, set()).add(sub.group)
        for group in self.groups.get(env.topic, ()):
            self.due.add((group, env.id))
        self.peak_in_flight = max(self.peak_in_flight, len(self.due))
        return env

    async def on_deliver(self, sub, env, call_next):
        try:
            await call_next(env)           # the DLQ inside takes what fails for good
        except Exception:
            self.failed += 1               # reached the bus: neither handled nor dead-lettered
            raise
        key = (sub.group, env.id)
        if key in self.due:
            self.due.remove(key)
            self.finished += 1
        else:
            self.duplicated += 1


def rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize() / 2 ** 20


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024   # KiB on Linux


async def soak(orders: int, checkpoints: int = 5, *, error_rate: float = 0.03,
               lost_rate: float = 0.01, keep_objects: bool = False) -> dict:
    """Run `orders` orders; report the ledger's counts (and, if asked, the cores, to inspect)."""
    async with Bus() as bus:
        ledger = Ledger(bus)
        dlq = DeadLetterQueue().install(bus, retry=POLICY)
        bus.use(ledger.on_publish, on=PUBLISH, outermost=True)
        bus.use(ledger.on_deliver, on=DELIVER, outermost=True)
        dead_letters = 0

        def count(letter, sub, env):
            nonlocal dead_letters
            dead_letters += 1
        dlq.on_dead_letter(count)
        flow = order_flow(bus, consumers=CONSUMERS, stock={"book": PLENTY, "lamp": PLENTY})
        plan = FaultPlan(error_rate=error_rate, lost_rate=lost_rate)
        plan.attach(flow.payments)
        plan.attach(flow.inventory)
        arrivals = runtime.stream("arrivals")
        running: set[asyncio.Task] = set()
        every = max(1, orders // checkpoints) if checkpoints else 0
        for i in range(orders):
            await asyncio.sleep(arrivals.expovariate(RATE))
            basket = BASKETS[i % 3]
            task = asyncio.create_task(flow.orders.place_order(
                f"customer{i}@example.com", dict(basket["items"]), basket["amount"]))
            running.add(task)
            task.add_done_callback(running.discard)
            if every and (i + 1) % every == 0:
                print(f"  {i + 1:>9,} orders at t={runtime.now():>9,.0f} s: rss {rss_mb():6.1f} MB, "
                      f"kept {len(bus.log):,} events, {len(flow.payments.calls):,} payment calls, "
                      f"{len(bus.subscriptions[1].received):,} records in "
                      f"{bus.subscriptions[1].name}; in flight {len(ledger.due):,}", flush=True)
        while running:
            await asyncio.gather(*running)
        await bus.drain()
        objects = [bus, *bus.subscriptions, *flow.services, flow.notifications.emails, dlq,
                   dlq.attempts, plan, ledger] if keep_objects else []
        return {"orders": orders, "lost": len(ledger.due) + ledger.failed, "objects": objects,
                "duplicated": ledger.duplicated, "finished": ledger.finished,
                "dead_letters": dead_letters, "faults": plan.counts(),
                "events": int(bus.log[-1].id.split("-")[1]), "simulated": runtime.now(),
                "peak_in_flight": ledger.peak_in_flight}


def one(orders: int, retention: int | None, checkpoints: int) -> int:
    started = time.perf_counter()
    report = runtime.run(soak(orders, checkpoints), seed=1, retention=retention)
    wall = time.perf_counter() - started
    print(f"  {report['events']:,} events published, {report['finished']:,} deliveries finished "
          f"({report['dead_letters']:,} of them dead-lettered), faults injected "
          f"{report['faults']}, at most {report['peak_in_flight']:,} deliveries in flight; "
          f"{report['simulated']:,.0f} simulated s in {wall:.0f} wall s "
          f"({orders / wall:,.0f} orders/s)")
    print(f"RESULT soak_orders {orders} lost {report['lost']} duplicated {report['duplicated']} "
          f"peak_mb {peak_mb():.0f}", flush=True)
    return 0 if report["lost"] == report["duplicated"] == 0 else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--retention", type=int, default=10_000)
    parser.add_argument("--no-retention", action="store_true", help="keep every record")
    parser.add_argument("--checkpoints", type=int, default=5)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    retention = None if args.no_retention else args.retention
    if args.child:
        return one(args.orders[0], retention, args.checkpoints)
    peaks, status = {}, 0
    for orders in args.orders:
        print(f"{orders:,} orders, retention {retention or 'none'}:", flush=True)
        command = [sys.executable, __file__, "--child", "--orders", str(orders),
                   "--checkpoints", str(args.checkpoints)]
        command += ["--no-retention"] if retention is None else ["--retention", str(retention)]
        done = subprocess.run(command, capture_output=True, text=True)
        sys.stdout.write(done.stdout)
        sys.stderr.write(done.stderr)
        status |= done.returncode
        for line in done.stdout.splitlines():
            if line.startswith("RESULT soak_orders"):
                peaks[orders] = float(line.split()[-1])
    if len(peaks) > 1:
        print(f"RESULT soak_peak_ratio {peaks[max(peaks)] / peaks[min(peaks)]:.2f}")
    return status


if __name__ == "__main__":
    sys.exit(main())
