"""What keeping its records costs the order-flow benchmark (a what-if, not a test).

benchmarks/order_flow.py's sagalab model (`flow_sagalab`: the lesson-02 order flow, 4 consumers
per group, a fault plan) run twice over: as it is, and with the records a run keeps for the
lessons to read dropped as soon as they are made -- each service's `calls`, the bus's `log` and
`failures`, each subscription's `arrivals`, `started` and `finished` become lists that keep
nothing. What the flow itself needs stays: the subscriptions' queues (`received`) and the
services' business records (orders, payments, ...). `flow_outcome` shows that the two variants
compute the same outcome (tests/test_benchmark_models.py checks it).

Each variant runs in a process of its own, the two alternating, `--repeat` times each; the best
wall time counts, with the cyclic garbage collector paused (as in order_flow.py). Wall time on
a shared 2-core machine is noisy (the same run varies by 20 % and more over minutes); for
counts that do not move, run one variant under cachegrind:

    valgrind --tool=cachegrind --cache-sim=yes .venv/bin/python benchmarks/records_cost.py \\
        --variant dropped --orders 3000

    .venv/bin/python benchmarks/records_cost.py [--orders 20000] [--repeat 5]

Last line: RESULT records_cost_ratio <best s with the records kept / best s with them dropped>
"""
from __future__ import annotations

import argparse
import contextlib
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import order_flow  # noqa: E402  (benchmarks/order_flow.py, beside this file)

from sagalab import bus, runtime, services  # noqa: E402

VARIANTS = ("kept", "dropped")


class Dropped(list):
    """A record list that keeps nothing appended to it."""

    def append(self, item) -> None:
        pass


@contextlib.contextmanager
def dropped_records():
    """Inside this block, new services, buses and subscriptions keep no records."""
    def nothing(retention=None):
        return Dropped()

    def subscription(self, *args, **kwargs):
        made(self, *args, **kwargs)
        self.arrivals, self.started, self.finished = Dropped(), Dropped(), Dropped()

    kept_records, made = runtime.records, bus.Subscription.__init__
    services.records = runtime.records = nothing      # Service.calls; Bus.log, Bus.failures
    bus.Subscription.__init__ = subscription
    try:
        yield
    finally:
        services.records = runtime.records = kept_records
        bus.Subscription.__init__ = made


def flow_outcome(orders: int, seed: int = 1) -> dict:
    """Run the flow once; what it computed (for the check that both variants agree)."""
    flow, the_bus, plan, end = runtime.run(
        order_flow.flow_sagalab(order_flow.gaps(orders, 8.0, seed), 0.01), seed=seed)
    return {"notified": dict(flow.notifications.notified), "end": end,
            "refused": plan.counts().get("error", 0), "calls kept": len(flow.payments.calls),
            "log kept": len(the_bus.log),
            "timings kept": sum(len(sub.started) for sub in the_bus.subscriptions)}


def run_seconds(orders: int, seed: int = 1) -> float:
    """Wall time of one run of the flow, timed as order_flow.py times it (`timed`)."""
    arrivals = order_flow.gaps(orders, 8.0, seed)
    seconds, _ = order_flow.timed(
        lambda: runtime.run(order_flow.flow_sagalab(arrivals, 0.01), seed=seed))
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5, help="processes of each variant")
    parser.add_argument("--variant", choices=VARIANTS,
                        help="run one variant once, in this process, and print its time")
    args = parser.parse_args()
    if args.variant:
        with dropped_records() if args.variant == "dropped" else contextlib.nullcontext():
            print(f"{args.variant} {run_seconds(args.orders):.3f}")
        return
    times = {variant: [] for variant in VARIANTS}
    for _ in range(args.repeat):
        for variant in VARIANTS:
            out = subprocess.run([sys.executable, __file__, "--variant", variant,
                                  "--orders", str(args.orders)],
                                 check=True, capture_output=True, text=True).stdout.split()
            times[variant].append(float(out[-1]))
    for variant, seconds in times.items():
        print(f"records {variant:7}: best {min(seconds):.3f} s of {args.repeat} "
              f"({', '.join(f'{s:.3f}' for s in seconds)})")
    print(f"RESULT records_cost_ratio {min(times['kept']) / min(times['dropped']):.3f}")


if __name__ == "__main__":
    main()
