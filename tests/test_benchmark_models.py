"""benchmarks/order_flow.py times three models of one order flow; its timing means something
only if they do the same work. These tests run the three on a few hundred orders: they agree,
and the agreement check catches a model that does different work."""
import importlib.util
from pathlib import Path

from sagalab import runtime

ROOT = Path(__file__).resolve().parents[1]


def load_benchmark(name: str = "order_flow"):
    spec = importlib.util.spec_from_file_location(f"{name}_benchmark",
                                                  ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


bench = load_benchmark()
ORDERS, RATE, ERRORS, SEED = 600, 8.0, 0.01, 1


def three_models(error_rate_elsewhere: float = ERRORS):
    arrivals = bench.gaps(ORDERS, RATE, SEED)
    latencies, _ = bench.service_latencies(RATE, ERRORS)
    ours = bench.summarise_sagalab(*runtime.run(bench.flow_sagalab(arrivals, ERRORS),
                                                seed=SEED))
    theirs = bench.flow_simpy(arrivals, error_rate_elsewhere, latencies, SEED)
    loop = bench.flow_loop(arrivals, error_rate_elsewhere, latencies, SEED)
    return ours, theirs, loop


def test_the_three_models_do_the_same_work():
    ours, theirs, loop = three_models()
    assert bench.agree(ORDERS, ERRORS, ours, theirs, loop, tolerance=0.03) == []
    assert ours["completed"] + ours["refused"] == ORDERS
    assert loop["completed"] + loop["refused"] == ORDERS


def test_a_model_doing_different_work_is_caught():
    """SimPy and the loop-only model refusing 30 % of payments instead of 1 %."""
    problems = bench.agree(ORDERS, ERRORS, *three_models(error_rate_elsewhere=0.3),
                           tolerance=0.03)
    assert any(p.startswith("SimPy completed") for p in problems), problems
    assert any(p.startswith("loop completed") for p in problems), problems


records_cost = load_benchmark("records_cost")


def test_dropping_the_records_keeps_the_outcome_and_nothing_else():
    """benchmarks/records_cost.py's what-if: the same flow computes the same outcome with its
    records dropped; it keeps none of them then, and keeps them again after the block."""
    kept = records_cost.flow_outcome(300)
    with records_cost.dropped_records():
        dropped = records_cost.flow_outcome(300)
    again = records_cost.flow_outcome(300)
    assert kept["calls kept"] > 0 and kept["log kept"] > 0 and kept["timings kept"] > 0
    assert dropped["calls kept"] == dropped["log kept"] == dropped["timings kept"] == 0
    assert {k: v for k, v in dropped.items() if "kept" not in k} == \
        {k: v for k, v in kept.items() if "kept" not in k}
    assert again == kept
