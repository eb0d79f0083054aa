"""Simulated-time runtime vs SimPy on the same M/M/1 queue (a benchmark, not a test).

The same model is written idiomatically for each: one process (SimPy) / one asyncio task
(sagalab) per customer, a single server (simpy.Resource / asyncio.Lock), exponential
inter-arrival and service times drawn from one seeded generator in the same order. Both must
therefore report the *same* mean time in system; the script checks that before timing means
anything. Each side runs `--repeat` times, alternating, and the best time counts (as timeit
does: the minimum is the run least disturbed by the rest of the machine).

    python benchmarks/sim_vs_simpy.py [--customers 100000] [--repeat 3]

Last line: RESULT sim_vs_simpy_ratio <sagalab seconds / SimPy seconds>   (target <= 2.0)
"""
from __future__ import annotations

import argparse
import asyncio
import random
import time

import simpy

from sagalab import runtime

ARRIVAL_RATE = 0.9   # customers per second (lambda)
SERVICE_RATE = 1.0   # customers per second one server can serve (mu): utilisation 0.9


def mm1_simpy(customers: int, seed: int) -> float:
    rng = random.Random(seed)
    env = simpy.Environment()
    server = simpy.Resource(env, capacity=1)
    in_system: list[float] = []

    def customer(env):
        arrived = env.now
        with server.request() as turn:
            yield turn
            yield env.timeout(rng.expovariate(SERVICE_RATE))
        in_system.append(env.now - arrived)

    def source(env):
        for _ in range(customers):
            yield env.timeout(rng.expovariate(ARRIVAL_RATE))
            env.process(customer(env))

    env.process(source(env))
    env.run()
    return sum(in_system) / len(in_system)


async def mm1_sagalab(customers: int) -> float:
    rng = runtime.rng()
    server = asyncio.Lock()
    in_system: list[float] = []
    running: set[asyncio.Task] = set()

    async def customer():
        arrived = runtime.now()
        async with server:
            await asyncio.sleep(rng.expovariate(SERVICE_RATE))
        in_system.append(runtime.now() - arrived)

    for _ in range(customers):
        await asyncio.sleep(rng.expovariate(ARRIVAL_RATE))
        task = asyncio.create_task(customer())
        running.add(task)
        task.add_done_callback(running.discard)
    while running:
        await asyncio.gather(*running)
    return sum(in_system) / len(in_system)


def timed(fn, *args):
    start = time.perf_counter()
    value = fn(*args)
    return time.perf_counter() - start, value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    simpy_times, sagalab_times = [], []
    for _ in range(args.repeat):
        t, simpy_mean = timed(mm1_simpy, args.customers, args.seed)
        simpy_times.append(t)
        t, sagalab_mean = timed(lambda: runtime.run(mm1_sagalab(args.customers), seed=args.seed))
        sagalab_times.append(t)
    if abs(simpy_mean - sagalab_mean) > 1e-9 * max(1.0, simpy_mean):
        raise SystemExit(f"the two models disagree: SimPy mean {simpy_mean} vs sagalab "
                         f"{sagalab_mean}; the timing comparison would be meaningless")

    print(f"M/M/1, {args.customers:,} customers, lambda={ARRIVAL_RATE}, mu={SERVICE_RATE}, "
          f"seed={args.seed}; mean time in system {simpy_mean:.4f} s (both)")
    print(f"SimPy   : best {min(simpy_times):.3f} s of {args.repeat} "
          f"({', '.join(f'{t:.3f}' for t in simpy_times)})")
    print(f"sagalab : best {min(sagalab_times):.3f} s of {args.repeat} "
          f"({', '.join(f'{t:.3f}' for t in sagalab_times)})")
    print(f"RESULT sim_vs_simpy_ratio {min(sagalab_times) / min(simpy_times):.2f}")


if __name__ == "__main__":
    main()
