"""Event bus vs a bare asyncio.Queue, in real time (a benchmark, not a test).

In one run (`runtime.run(..., realtime=True)`), the same payloads go:
* through the bus: `await bus.publish(...)` for each, one subscription whose handler counts
  them, until `drain()` returns -- events published -> handled per second;
* through a bare `asyncio.Queue`: `await queue.put(...)` for each, one consumer task doing
  `await queue.get()` until it has them all -- items put -> got per second.

The bus does more per event, on purpose: an envelope with an id and a timestamp, an append-only
log, per-delivery timings and a handler call. Each side runs `--repeat` times, alternating,
after a garbage collection; the best time counts (as timeit does).

Also as timeit does, the cyclic garbage collector is paused while a run is timed, and the
RESULT line compares those times. With the collector running, the bus pays for something the
queue does not: it keeps every envelope (the log), so the collector's full passes come more
often, and each walks every object in the process -- pandas' import-time objects too. That cost
depends on the process more than on the bus, so it is printed beside the RESULT, not in it.

    python benchmarks/bus_throughput.py [--events 100000] [--repeat 5]

Last line: RESULT bus_vs_queue_ratio <bus events/s / queue items/s>   (information: the former
target >= 0.5 is retired; the bus a learner reads is kept plain, and speed lives in the runtime)
"""
from __future__ import annotations

import argparse
import asyncio
import gc
import time

from sagalab import runtime
from sagalab.bus import Bus


async def through_bus(events: int) -> float:
    handled = 0

    async def count(event):
        nonlocal handled
        handled += 1

    async with Bus() as bus:
        bus.subscribe("Tick", count)
        started = time.perf_counter()
        for n in range(events):
            await bus.publish("Tick", {"n": n}, key="k")
        await bus.drain()
        elapsed = time.perf_counter() - started
    assert handled == events, (handled, events)
    return elapsed


async def through_queue(events: int) -> float:
    queue: asyncio.Queue = asyncio.Queue()

    async def consume():
        for _ in range(events):
            await queue.get()

    started = time.perf_counter()
    consumer = asyncio.create_task(consume())
    for n in range(events):
        await queue.put({"n": n})
    await consumer
    return time.perf_counter() - started


async def compare(events: int, repeat: int, collector: bool) -> tuple[float, float]:
    """Best bus time and best queue time, in seconds, the collector running or paused."""
    bus_times, queue_times = [], []
    for _ in range(repeat):
        for runner, times in ((through_bus, bus_times), (through_queue, queue_times)):
            gc.collect()
            if not collector:
                gc.disable()
            try:
                times.append(await runner(events))
            finally:
                gc.enable()
    return min(bus_times), min(queue_times)


def report(label: str, events: int, bus_s: float, queue_s: float) -> float:
    bus_rate, queue_rate = events / bus_s, events / queue_s
    print(f"{label}:")
    print(f"  bus:           {bus_rate:12,.0f} events/s published -> handled "
          f"({bus_s / events * 1e6:.2f} µs each)")
    print(f"  asyncio.Queue: {queue_rate:12,.0f} items/s put -> got "
          f"({queue_s / events * 1e6:.2f} µs each)")
    print(f"  bus / queue:   {bus_rate / queue_rate:.3f}")
    return bus_rate / queue_rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print(f"events: {args.events:,}, best of {args.repeat}")
    report("with the collector running (informational)", args.events,
           *runtime.run(compare(args.events, args.repeat, collector=True), realtime=True))
    ratio = report("with the collector paused while timed, as timeit does", args.events,
                   *runtime.run(compare(args.events, args.repeat, collector=False),
                                realtime=True))
    print(f"RESULT bus_vs_queue_ratio {ratio:.3f}")


if __name__ == "__main__":
    main()
