"""Random fault plans for lesson 04's sagas: hypothesis strategies and the runs that check them.

Shared by tests/test_saga.py (a fast property test) and benchmarks/saga_plans.py (500+ plans
of each style).
A plan is a dictionary of what goes wrong; `check_*_plan(plan)` runs it to the end in simulated
time and returns the invariant violations found (an empty list when the saga did its job).
"""
from hypothesis import strategies as st

from sagalab.faults import FaultPlan, LongTail
from sagalab.retry import RetryPolicy
from sagalab.runtime import run
from sagalab.saga import (half_done_unflagged, order_outcomes, order_trial, order_violations,
                          registration_trial, registration_violations, stock_not_conserved)

# Choreography has no parked state: a delivery the bus gives up leaves its order stuck (lesson 05's
# dead letters). So the order plans get a budget that outlasts every fault they can inject; the
# registration plans may run out and park, which their invariants allow.
GENEROUS = RetryPolicy(maximum_attempts=30, initial_interval=0.05, maximum_interval=0.5)
GROUPS = ["Order Service", "Payment Service", "Inventory Service", "Shipment Service"]

seeds = st.integers(0, 2**16)
rates = st.floats(0, 0.4)
windows = st.tuples(st.floats(0, 2), st.floats(0.1, 2)).map(lambda w: (w[0], w[0] + w[1]))

registration_plans = st.fixed_dictionaries({
    "seed": seeds,
    "n": st.integers(1, 8),
    "invalid": st.floats(0, 0.5),                  # share of addresses the Email Service rejects
    "error": rates,                                # requests refused
    "lost": st.floats(0, 0.3),                     # work done, reply lost
    "outages": st.lists(windows, max_size=1),      # every service down in that window
    "timeouts": st.sampled_from([None, 0.3]),      # per attempt of a forward step
    "tail": st.floats(0, 0.3),                     # share of slow requests (with timeouts)
    "in_parallel": st.booleans(),                  # e-mail and profile at once
    "forward_attempts": st.integers(1, 3),
    "compensation_attempts": st.integers(1, 6),
    "every": st.sampled_from([0.0, 0.05]),
})

ORDER_PLAN = {
    "seed": seeds,
    "n": st.integers(1, 10),
    "declined": st.floats(0, 0.5),                 # share of customers whose card is declined
    "stock": st.fixed_dictionaries({"book": st.integers(0, 8), "lamp": st.integers(0, 5)}),
    "error": rates,
    "lost": st.floats(0, 0.3),
    "outages": st.lists(windows, max_size=1),      # Payment and Inventory down in that window
    "duplicates": st.floats(0, 0.5),               # deliveries repeated late
    "again": st.floats(0, 0.6),                    # ... and each duplicate repeated again
    "pauses": st.lists(st.tuples(st.sampled_from(GROUPS), windows).map(
        lambda p: (p[0], *p[1])), max_size=2),     # a group takes no events in that window
    "consumers": st.integers(1, 2),
    "every": st.sampled_from([0.0, 0.02, 0.2]),
}
order_plans = st.fixed_dictionaries({
    **ORDER_PLAN,
    "lock": st.booleans(),                         # semantic lock + OrderFailed on give-up
})

# Small budgets: deliveries run out of redeliveries. Expected: orders left stuck, but always with a
# flag (the Order Service's state says the order has not ended: cancelling, placed, ...), never
# "cancelled" or "completed" with money or stock left behind. Only the semantic lock promises that.
small_order_plans = st.fixed_dictionaries({**ORDER_PLAN, "attempts": st.integers(1, 3)})


def run_registration_plan(plan: dict, register: str = "before"):
    """Run a registration plan to the end: (orchestrator, (users, emails, profiles))."""
    latency = LongTail(median=0.1, tail=plan["tail"]) if plan["timeouts"] else None
    faults = FaultPlan(error_rate=plan["error"], lost_rate=plan["lost"], latency=latency,
                       outages=plan["outages"])
    return run(registration_trial(
        plan["n"], invalid=plan["invalid"], faults=faults,
        retry=RetryPolicy(maximum_attempts=plan["forward_attempts"], initial_interval=0.1),
        timeouts=plan["timeouts"], register=register, in_parallel=plan["in_parallel"],
        policy=RetryPolicy(maximum_attempts=plan["compensation_attempts"], initial_interval=0.1),
        every=plan["every"]), seed=plan["seed"])


def check_registration_plan(plan: dict, register: str = "before") -> list[str]:
    orch, services = run_registration_plan(plan, register)
    return registration_violations(orch, *services)


def run_order_plan(plan: dict):
    """Run an order plan until the bus is drained: (bus, flow). A plan with "attempts" (a small
    plan) gets that many deliveries per handler and the semantic lock; others GENEROUS."""
    faults = FaultPlan(error_rate=plan["error"], lost_rate=plan["lost"], outages=plan["outages"])
    small = "attempts" in plan
    retry = RetryPolicy(maximum_attempts=plan["attempts"], initial_interval=0.05) if small else GENEROUS
    return run(order_trial(
        plan["n"], declined=plan["declined"], stock=plan["stock"], faults=faults, retry=retry,
        duplicates=plan["duplicates"], again=plan["again"], outages=tuple(plan["pauses"]),
        consumers=plan["consumers"], every=plan["every"],
        semantic_lock=small or plan["lock"]), seed=plan["seed"])


def check_order_plan(plan: dict) -> list[str]:
    bus, flow = run_order_plan(plan)
    gave_up = [f"the bus gave up {f.event_id} ({f.topic}) in {f.subscription}: {f.error}"
               for f in bus.failures]
    return gave_up + order_violations(flow, plan["stock"])


def check_small_order_plan(plan: dict) -> list[str]:
    """A small-budget plan: orders may be left stuck, but never without a flag."""
    bus, flow = run_order_plan(plan)
    return half_done_unflagged(order_outcomes(flow)) + stock_not_conserved(flow, plan["stock"])
