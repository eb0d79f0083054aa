"""The lesson-02 order flow in sagalab vs the same flow in SimPy (a benchmark, not a test).

What it measures: the wall time of one simulated run of the choreographed order flow of
notebook 02 -- `order_flow(bus, consumers=4)`: Order, Payment, Inventory, Shipment and
Notification services on one `Bus`, 4 competing consumers in each subscribing group, a
`FaultPlan(error_rate=...)` attached to the Payment Service, no tracing -- for `--orders`
orders arriving as a Poisson stream, against the wall time of an equivalent SimPy model of the
same flow, in the same process:

* the same arrival times (both models read one list of inter-arrival gaps);
* the same latency distributions: lognormal around each service's `median` with its `spread`,
  as `Service.latency` draws (the SimPy model reads median and spread off the sagalab services,
  so the two cannot drift apart);
* the same consumers: each group has 4 members, each with its own queue and worker (a
  `simpy.Store` and a process), and an event goes to the member its key picks, with the bus's
  own rule (`crc32(key) % 4`). A pooled `Resource(capacity=4)` would be a different queue
  (M/G/4 instead of 4 x M/G/1) with shorter waits, so the check below would fail;
* the same join: a shipment once both PaymentProcessed and InventoryReserved arrived;
* the same fault: a refused payment takes its latency, then fails; that order never ships.

The random draws are not the same ones (sagalab draws from its run's generator in its own
order), so the models must agree statistically: orders completed within 4 binomial standard
deviations of orders x (1 - error rate), and mean placed -> notified time within
`--tolerance` (3 %) of SimPy's. The script checks that before timing means anything
(tests/test_benchmark_models.py runs the check on 600 orders), and prints the
utilisation rho = lambda x E[S] / c of each group (E[S] of a lognormal: median x exp(spread^2/2)).

A third model says where the difference lies: the SimPy model line for line in asyncio, run on
sagalab's simulated loop (`flow_loop`: a Queue and a worker task per member, no bus, no
services, no records). Its time over SimPy's is what the loop and asyncio cost; the rest of
sagalab's time is what the bus and the services do beyond it (envelopes, call records, ids,
middleware chains: what the lessons read afterwards).

Each model runs `--repeat` times, alternating; the best time counts and, as timeit does, the
cyclic garbage collector is paused while a run is timed (after a `gc.collect()`): the flow keeps
every envelope and call record, so full collections would walk a growing heap, a cost of the
process more than of either simulator. The machine's noise is large (on a shared 2-core machine
the same run varies by 20 % and more over minutes), so the script also prints the ratio of each
round (the models run one after the other) as a median and a range.

    .venv/bin/python benchmarks/order_flow.py [--orders 20000] [--rate 8] [--repeat 5]
    .venv/bin/python benchmarks/order_flow.py --profile    # cProfile of one sagalab run only

Last lines: RESULT order_flow_loop_vs_simpy_ratio <loop-only model s / SimPy s>
            RESULT order_flow_vs_simpy_ratio <sagalab s / SimPy s>   (target <= 2.0)
            RESULT order_flow_orders_per_s <orders per wall second, sagalab>
Information, not a test: nothing fails on a slow machine; only a disagreement between the two
models stops the script (then the timing would compare different work).
"""
from __future__ import annotations

import argparse
import asyncio
import gc
import math
import random
import statistics
import time
import zlib
from typing import Callable

import simpy

from sagalab import runtime
from sagalab.bus import Bus
from sagalab.faults import FaultPlan
from sagalab.services import order_flow, sample_orders

CONSUMERS = 4                       # members per subscribing group
PLENTY = 10 ** 9                    # stock: no order may fail for want of it


def gaps(orders: int, rate: float, seed: int) -> list[float]:
    """Inter-arrival times of a Poisson stream, the same for both models."""
    rnd = random.Random(f"{seed}:arrivals")
    return [rnd.expovariate(rate) for _ in range(orders)]


def mean_service(median: float, spread: float) -> float:
    """E[S] of `median * exp(spread * N(0, 1))`."""
    return median * math.exp(spread ** 2 / 2)


# -- sagalab ------------------------------------------------------------------------------------
async def flow_sagalab(arrivals: list[float], error_rate: float):
    orders = sample_orders(len(arrivals))
    async with Bus() as bus:
        flow = order_flow(bus, consumers=CONSUMERS, stock={"book": PLENTY, "lamp": PLENTY})
        plan = FaultPlan(error_rate=error_rate)
        plan.attach(flow.payments)
        running: set[asyncio.Task] = set()
        for gap, order in zip(arrivals, orders):
            await asyncio.sleep(gap)
            task = asyncio.create_task(flow.orders.place_order(**order))
            running.add(task)
            task.add_done_callback(running.discard)
        while running:
            await asyncio.gather(*running)
        await bus.drain()
        end = runtime.now()
    return flow, bus, plan, end


def summarise_sagalab(flow, bus, plan, end) -> dict:
    placed = flow.orders.orders
    notified = flow.notifications.notified
    e2e = [record["time"] - placed[order_id]["placed"] for order_id, record in notified.items()]
    payment_members = [len(s.received) for s in bus.subscriptions
                       if s.group == flow.payments.name]
    busy = sum(c.end - c.start for c in flow.payments.calls)
    return {"completed": len(notified), "e2e": e2e, "end": end,
            "refused": plan.counts().get("error", 0), "failures": len(bus.failures),
            "payment_busy": busy / (CONSUMERS * end),
            "payment_share": max(payment_members) / sum(payment_members)}


# -- what the two hand-written models share -------------------------------------------------------
NEEDS = frozenset({"PaymentProcessed", "InventoryReserved"})    # the shipment's join


class Model:
    """The plumbing of a hand-written model (SimPy's, and the loop-only one): a latency draw
    per service (lognormal around its median, as `Service.latency`), a fault stream, the join's
    memory, and routes from a topic to each group's members' `put` (the member an order's key
    picks, with the bus's rule)."""

    def __init__(self, name: str, latencies: dict, seed: int):
        self.latencies = latencies
        self.gauss = random.Random(f"{seed}:{name} latencies").gauss
        self.faults = random.Random(f"{seed}:{name} faults")
        self.placed: dict[str, float] = {}
        self.notified: dict[str, float] = {}
        self.seen: dict[str, set[str]] = {}
        self.refused = 0
        self.routes: dict[str, list[list[Callable]]] = {}

    def latency(self, service: str) -> float:
        median, spread = self.latencies[service]
        return median * math.exp(spread * self.gauss(0.0, 1.0))

    def route(self, topics: tuple[str, ...], puts: list[Callable]) -> None:
        for topic in topics:
            self.routes.setdefault(topic, []).append(puts)

    def publish(self, topic: str, order_id: str) -> None:
        for puts in self.routes.get(topic, ()):
            puts[zlib.crc32(order_id.encode()) % len(puts)]((topic, order_id))

    def joined(self, topic: str, order_id: str) -> bool:
        """True once per order: when the second prerequisite arrives (a repeat is ignored)."""
        got = self.seen.setdefault(order_id, set())
        if topic in got:
            return False
        got.add(topic)
        return got == NEEDS

    def result(self, end: float) -> dict:
        e2e = [t - self.placed[order_id] for order_id, t in self.notified.items()]
        return {"completed": len(self.notified), "e2e": e2e, "end": end, "refused": self.refused}


# -- SimPy --------------------------------------------------------------------------------------
def flow_simpy(arrivals: list[float], error_rate: float, latencies: dict, seed: int) -> dict:
    """The same choreography, written for SimPy: one process per customer, a Store and a worker
    process per group member, generator functions as handlers."""
    env, m = simpy.Environment(), Model("simpy", latencies, seed)
    timeout, latency, publish = env.timeout, m.latency, m.publish

    def on_order_placed_payment(topic, order_id):
        fails = m.faults.random() < error_rate      # decided on arrival, as FaultPlan does
        yield timeout(latency("payment"))
        if fails:
            m.refused += 1
            return
        publish("PaymentProcessed", order_id)

    def on_order_placed_inventory(topic, order_id):
        yield timeout(latency("inventory"))
        publish("InventoryReserved", order_id)

    def on_prerequisite(topic, order_id):
        if m.joined(topic, order_id):
            yield timeout(latency("shipment"))
            publish("ShipmentCreated", order_id)

    def on_shipment_created(topic, order_id):
        yield timeout(latency("notification"))
        m.notified[order_id] = env.now

    def worker(queue: simpy.Store, handler):
        while True:
            topic, order_id = yield queue.get()
            yield from handler(topic, order_id)

    def group(topics: tuple[str, ...], handler) -> None:
        members = [simpy.Store(env) for _ in range(CONSUMERS)]
        for queue in members:
            env.process(worker(queue, handler))
        m.route(topics, [queue.put for queue in members])

    group(("OrderPlaced",), on_order_placed_payment)
    group(("OrderPlaced",), on_order_placed_inventory)
    group(("InventoryReserved", "PaymentProcessed"), on_prerequisite)
    group(("ShipmentCreated",), on_shipment_created)

    ids = iter(range(1, len(arrivals) + 1))

    def customer():
        yield timeout(latency("order"))
        order_id = f"order-{next(ids):04d}"         # numbered when placed, as new_id does
        m.placed[order_id] = env.now
        publish("OrderPlaced", order_id)

    def source():
        for gap in arrivals:
            yield timeout(gap)
            env.process(customer())

    env.process(source())
    env.run()
    return m.result(env.now)


# -- the same model on sagalab's loop, without the bus and the services ------------------------
def flow_loop(arrivals: list[float], error_rate: float, latencies: dict, seed: int) -> dict:
    """The SimPy model line for line in asyncio, run by `runtime.run` (sagalab's simulated
    loop): an `asyncio.Queue` and a worker task per group member, coroutines as handlers, a
    task per customer. No bus, no services, no records: what the loop itself costs."""
    return runtime.run(_flow_loop(arrivals, error_rate, latencies, seed))


async def _flow_loop(arrivals, error_rate, latencies, seed) -> dict:
    m = Model("loop", latencies, seed)
    sleep, latency, publish = asyncio.sleep, m.latency, m.publish

    async def on_order_placed_payment(topic, order_id):
        fails = m.faults.random() < error_rate
        await sleep(latency("payment"))
        if fails:
            m.refused += 1
            return
        publish("PaymentProcessed", order_id)

    async def on_order_placed_inventory(topic, order_id):
        await sleep(latency("inventory"))
        publish("InventoryReserved", order_id)

    async def on_prerequisite(topic, order_id):
        if m.joined(topic, order_id):
            await sleep(latency("shipment"))
            publish("ShipmentCreated", order_id)

    async def on_shipment_created(topic, order_id):
        await sleep(latency("notification"))
        m.notified[order_id] = runtime.now()

    async def worker(queue: asyncio.Queue, handler):
        while True:
            topic, order_id = await queue.get()
            await handler(topic, order_id)
            queue.task_done()

    workers, queues = [], []

    def group(topics: tuple[str, ...], handler) -> None:
        members = [asyncio.Queue() for _ in range(CONSUMERS)]
        for queue in members:
            workers.append(asyncio.create_task(worker(queue, handler)))
        queues.extend(members)
        m.route(topics, [queue.put_nowait for queue in members])

    group(("OrderPlaced",), on_order_placed_payment)
    group(("OrderPlaced",), on_order_placed_inventory)
    group(("InventoryReserved", "PaymentProcessed"), on_prerequisite)
    group(("ShipmentCreated",), on_shipment_created)

    ids = iter(range(1, len(arrivals) + 1))

    async def customer():
        await sleep(latency("order"))
        order_id = f"order-{next(ids):04d}"
        m.placed[order_id] = runtime.now()
        publish("OrderPlaced", order_id)

    running: set[asyncio.Task] = set()
    for gap in arrivals:
        await sleep(gap)
        task = asyncio.create_task(customer())
        running.add(task)
        task.add_done_callback(running.discard)
    while running:
        await asyncio.gather(*running)
    while any(q.qsize() or q._unfinished_tasks for q in queues):   # every event handled
        await asyncio.gather(*(q.join() for q in queues))
    end = runtime.now()
    for task in workers:
        task.cancel()
    await asyncio.gather(*workers, return_exceptions=True)
    return m.result(end)


# -- timing -------------------------------------------------------------------------------------
def timed(fn, *args):
    """Seconds `fn(*args)` takes with the cyclic collector paused (as timeit does), and its value."""
    gc.collect()
    gc.disable()
    try:
        start = time.perf_counter()
        value = fn(*args)
        return time.perf_counter() - start, value
    finally:
        gc.enable()


def service_latencies(arrivals_rate: float, error_rate: float) -> tuple[dict, dict]:
    """Median and spread of each service, read off a flow built like the benchmarked one, and
    rho = lambda E[S] / c of each subscribing group."""
    async def build():
        async with Bus() as bus:
            flow = order_flow(bus, consumers=CONSUMERS)
            return {"order": flow.orders, "payment": flow.payments,
                    "inventory": flow.inventory, "shipment": flow.shipments,
                    "notification": flow.notifications.emails}   # the e-mail is the work

    services = runtime.run(build())
    latencies = {name: (s.median, s.spread) for name, s in services.items()}
    ok = 1 - error_rate       # refused payments never reach shipment or notification
    load = {"payment": 1.0, "inventory": 1.0, "shipment": ok, "notification": ok}
    rho = {name: arrivals_rate * share * mean_service(*latencies[name]) / CONSUMERS
           for name, share in load.items()}
    return latencies, rho


def agree(orders: int, error_rate: float, ours: dict, theirs: dict, loop: dict,
          tolerance: float) -> list[str]:
    problems = []
    expected = orders * (1 - error_rate)
    sigma = math.sqrt(orders * error_rate * (1 - error_rate))
    for name, result in (("sagalab", ours), ("SimPy", theirs), ("loop", loop)):
        if abs(result["completed"] - expected) > 4 * sigma + 1:
            problems.append(f"{name} completed {result['completed']} orders, expected "
                            f"{expected:.0f} ± {4 * sigma:.0f}")
    if ours["completed"] + ours["refused"] != orders or ours["failures"] != ours["refused"]:
        problems.append(f"sagalab: {ours['completed']} completed + {ours['refused']} refused "
                        f"!= {orders} orders, or {ours['failures']} handler failures")
    for name, result in (("SimPy", theirs), ("loop", loop)):
        if result["completed"] + result["refused"] != orders:
            problems.append(f"{name}: {result['completed']} completed + {result['refused']} "
                            f"refused != {orders} orders")
    b = statistics.fmean(theirs["e2e"])
    for name, result in (("sagalab", ours), ("loop", loop)):
        a = statistics.fmean(result["e2e"])
        if abs(a - b) > tolerance * b:
            problems.append(f"mean placed -> notified: {name} {a:.4f} s vs SimPy {b:.4f} s "
                            f"({(a - b) / b:+.1%}, tolerance {tolerance:.0%})")
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=20_000)
    parser.add_argument("--rate", type=float, default=8.0, help="orders per simulated second")
    parser.add_argument("--error-rate", type=float, default=0.01,
                        help="share of payments the fault plan refuses")
    parser.add_argument("--repeat", type=int, default=5, help="runs of each model (timeit's 5)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--tolerance", type=float, default=0.03,
                        help="allowed relative difference of the mean placed -> notified time")
    parser.add_argument("--profile", action="store_true",
                        help="profile one sagalab run (cProfile, top 15 by tottime) and stop")
    args = parser.parse_args()

    arrivals = gaps(args.orders, args.rate, args.seed)
    latencies, rho = service_latencies(args.rate, args.error_rate)
    sagalab_run = lambda: runtime.run(flow_sagalab(arrivals, args.error_rate), seed=args.seed)

    if args.profile:
        import cProfile
        import pstats
        profiler = cProfile.Profile()
        gc.collect()
        gc.disable()
        profiler.enable()
        sagalab_run()
        profiler.disable()
        gc.enable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(15)
        return

    simpy_times, loop_times, sagalab_times = [], [], []
    for _ in range(args.repeat):
        t, theirs = timed(flow_simpy, arrivals, args.error_rate, latencies, args.seed)
        simpy_times.append(t)
        t, loop = timed(flow_loop, arrivals, args.error_rate, latencies, args.seed)
        loop_times.append(t)
        raw = None                 # let the previous run's records go before the next run
        t, raw = timed(sagalab_run)
        sagalab_times.append(t)
    ours = summarise_sagalab(*raw)

    busiest = max(rho, key=rho.get)
    print(f"order flow, {args.orders:,} orders, Poisson arrivals at {args.rate:g}/s, "
          f"{CONSUMERS} consumers per group, payment error rate {args.error_rate:g}, "
          f"seed {args.seed}")
    print("utilisation rho = lambda E[S] / c: "
          + ", ".join(f"{name} {value:.2f}" for name, value in rho.items())
          + f"; busiest: {busiest} {rho[busiest]:.2f} (measured in sagalab: "
          f"{ours['payment_busy']:.2f}; its busiest member takes {ours['payment_share']:.1%} "
          f"of the events)")
    for name, result in (("sagalab", ours), ("SimPy", theirs), ("loop", loop)):
        e2e = sorted(result["e2e"])
        print(f"{name:8}: {result['completed']:,} completed, {result['refused']} payments "
              f"refused, mean placed -> notified {statistics.fmean(e2e):.4f} s, "
              f"p95 {e2e[int(0.95 * len(e2e))]:.4f} s, simulated {result['end']:,.0f} s")
    a, b = statistics.fmean(ours["e2e"]), statistics.fmean(theirs["e2e"])
    print(f"agreement: completed {ours['completed'] - theirs['completed']:+d}, "
          f"mean placed -> notified {(a - b) / b:+.2%}")
    if problems := agree(args.orders, args.error_rate, ours, theirs, loop, args.tolerance):
        raise SystemExit("the two models disagree, so the timing comparison would be "
                         "meaningless:\n  " + "\n  ".join(problems))

    print(f"SimPy   : best {min(simpy_times):.3f} s of {args.repeat} "
          f"({', '.join(f'{t:.3f}' for t in simpy_times)})")
    print(f"loop    : best {min(loop_times):.3f} s of {args.repeat} "
          f"({', '.join(f'{t:.3f}' for t in loop_times)})   the SimPy model in asyncio, "
          f"on sagalab's loop")
    print(f"sagalab : best {min(sagalab_times):.3f} s of {args.repeat} "
          f"({', '.join(f'{t:.3f}' for t in sagalab_times)})")
    rounds = sorted(ours_t / theirs_t for ours_t, theirs_t in zip(sagalab_times, simpy_times))
    print(f"ratio per round (sagalab / SimPy, run one after the other): median "
          f"{statistics.median(rounds):.2f}, {rounds[0]:.2f} to {rounds[-1]:.2f}   the machine's noise")
    print(f"RESULT order_flow_loop_vs_simpy_ratio {min(loop_times) / min(simpy_times):.2f}")
    print(f"RESULT order_flow_vs_simpy_ratio {min(sagalab_times) / min(simpy_times):.2f}")
    print(f"RESULT order_flow_orders_per_s {args.orders / min(sagalab_times):.0f}")


if __name__ == "__main__":
    main()
