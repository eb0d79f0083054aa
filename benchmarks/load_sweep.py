"""A full rate sweep of both styles in simulated time (a benchmark, not a test).

The article setup of notebooks/07_load_testing.ipynb (`sagalab.load.Setup()`), both styles, at
each rate: `--requests` open-loop requests per test, through lesson 01's Orchestrator and
lesson 02's Bus. Prints each test's summary and the wall time, then how many simulated requests
the whole sweep pushed through per second of wall time (process CPU time is printed too: on a
busy machine it says more than the wall clock).

    python benchmarks/load_sweep.py [--rates 1 2 5 8 10] [--requests 10000] [--seed 0]

Last line: RESULT simulated_requests_per_wall_second <requests / wall seconds>
"""
from __future__ import annotations

import argparse
import time

import pandas as pd

from sagalab.load import STYLES, Setup, measure, table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", type=float, nargs="+", default=[1, 2, 5, 8, 10])
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    setup = Setup()
    runs, walls = [], []
    wall0, cpu0 = time.perf_counter(), time.process_time()
    for rate in args.rates:
        for style in STYLES:
            started = time.perf_counter()
            runs.append(measure(setup, style, rate, requests=args.requests, seed=args.seed))
            walls.append(time.perf_counter() - started)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    frame = table(runs)
    frame["wall s"] = walls
    pd.set_option("display.width", 200)
    print(setup.describe())
    print(frame[["rate", "style", "throughput/s", "status", "queue growth/s", "answer mean",
                 "done mean", "done p99", "busiest", "utilisation", "wall s"]].round(3)
          .to_string(index=False))
    total = len(runs) * args.requests
    print(f"{total:,} simulated requests in {wall:.2f} s wall ({cpu:.2f} s CPU): "
          f"{total / wall:,.0f} per wall second, {total / cpu:,.0f} per CPU second")
    print(f"RESULT simulated_requests_per_wall_second {total / wall:.0f}")


if __name__ == "__main__":
    main()
