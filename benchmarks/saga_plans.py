"""Lesson 04's sagas against many random fault plans (the long run of tests/test_saga.py).

Hypothesis draws `--plans` fault plans for each style (tests/saga_fault_plans.py says what a
plan holds: error and lost-reply rates, outages, timeouts, late duplicates, paused services,
consumers, declined cards, short stock); each is run to the end in simulated time and checked
against the invariants of `sagalab.saga`. Generation is derandomized: the same plans every run.

    python benchmarks/saga_plans.py [--plans 500]

Prints, per style (and for small retry budgets), the plans run, the violations found, what the plans exercised and the wall
time; the first violations in full, if any; then a control: the same registration plans with
compensations registered *after* their step, which the invariants must catch; last line:
RESULT saga_plans_violations <plans> <violations>     (target: 0 violations over >= 500 plans)
"""
from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

from hypothesis import HealthCheck, given, settings

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from saga_fault_plans import (order_plans, registration_plans, run_order_plan,  # noqa: E402
                              run_registration_plan, small_order_plans)
from sagalab.faults import FaultPlan  # noqa: E402
from sagalab.retry import RetryPolicy  # noqa: E402
from sagalab.runtime import run  # noqa: E402
from sagalab.saga import (half_done_unflagged, order_outcomes, order_trial,  # noqa: E402
                          order_violations, registration_violations, stock_not_conserved)


def sweep(strategy, check, plans: int) -> tuple[int, list, Counter, float]:
    """Run `check(plan)` on `plans` plans drawn from `strategy`; never stop at a failure."""
    seen, violations, tally = 0, [], Counter()

    @settings(max_examples=plans, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def body(plan):
        nonlocal seen
        seen += 1
        found = check(plan, tally)
        violations.extend((plan, v) for v in found)

    start = time.perf_counter()
    body()
    return seen, violations, tally, time.perf_counter() - start


def check_registrations(plan, tally) -> list[str]:
    orch, services = run_registration_plan(plan)
    tally.update(orch.table().status)
    return registration_violations(orch, *services)


def check_registrations_after(plan, tally) -> list[str]:
    """The same plans with compensations registered after their step: a deliberately weaker
    saga, to show that the invariants catch what it leaves behind."""
    orch, services = run_registration_plan(plan, register="after")
    found = registration_violations(orch, *services)
    tally["plans with a violation"] += bool(found)
    return found


def check_orders(plan, tally) -> list[str]:
    bus, flow = run_order_plan(plan)
    tally.update(order_outcomes(flow).outcome)
    tally["late or duplicate events ignored"] += len(flow.orders.ignored)
    tally["deliveries given up"] += len(bus.failures)
    return ([f"the bus gave up {f.event_id} ({f.topic})" for f in bus.failures]
            + order_violations(flow, plan["stock"]))


def check_small_orders(plan, tally) -> list[str]:
    """Small budgets (1-3 deliveries, semantic lock): orders may be left stuck, never unflagged."""
    bus, flow = run_order_plan(plan)
    outcomes = order_outcomes(flow)
    tally.update(outcomes.outcome)
    tally["OrderFailed announced"] += sum(e.topic == "OrderFailed" for e in bus.log)
    return half_done_unflagged(outcomes) + stock_not_conserved(flow, plan["stock"])


def check_small_orders_unlocked(plan, tally) -> list[str]:
    """The same small-budget plans without the semantic lock: the control, which must be caught."""
    plan = {**plan}
    attempts = plan.pop("attempts")
    faults = FaultPlan(error_rate=plan["error"], lost_rate=plan["lost"], outages=plan["outages"])
    bus, flow = run(order_trial(
        plan["n"], declined=plan["declined"], stock=plan["stock"], faults=faults,
        retry=RetryPolicy(maximum_attempts=attempts, initial_interval=0.05),
        duplicates=plan["duplicates"], again=plan["again"], outages=tuple(plan["pauses"]),
        consumers=plan["consumers"], every=plan["every"]), seed=plan["seed"])
    found = half_done_unflagged(order_outcomes(flow))
    tally["plans with a violation"] += bool(found)
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plans", type=int, default=500, help="plans per style (default 500)")
    args = parser.parse_args(argv)
    total_plans = total_violations = 0
    for style, strategy, check in (("orchestrated registrations", registration_plans, check_registrations),
                                   ("choreographed orders", order_plans, check_orders),
                                   ("choreographed orders, small budgets (1-3 deliveries; registrations "
                                    "already draw 1-6 compensation attempts)", small_order_plans,
                                    check_small_orders)):
        seen, violations, tally, seconds = sweep(strategy, check, args.plans)
        total_plans += seen
        total_violations += len(violations)
        print(f"{style}: {seen} plans, {len(violations)} violations, {seconds:.1f} s")
        print("  exercised: " + ", ".join(f"{k} {v}" for k, v in sorted(tally.items())))
        for plan, violation in violations[:5]:
            print(f"  VIOLATION {violation}\n    plan: {plan}")
    seen, violations, tally, seconds = sweep(registration_plans, check_registrations_after, args.plans)
    print(f"control, compensations registered AFTER their step (not counted): {seen} plans, "
          f"{len(violations)} violations in {tally['plans with a violation']} of them, {seconds:.1f} s")
    seen, violations, tally, seconds = sweep(small_order_plans, check_small_orders_unlocked, args.plans)
    print(f"control, small budgets WITHOUT the semantic lock (not counted): {seen} plans, "
          f"{len(violations)} orders half done without a flag in {tally['plans with a violation']} "
          f"of them, {seconds:.1f} s")
    print(f"RESULT saga_plans_violations {total_plans} {total_violations}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
