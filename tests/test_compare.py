"""sagalab.compare (notebook 02): fair comparisons of the two styles on the order flow."""
import pytest

from sagalab.compare import (COORDINATOR, STYLES, Outage, arrivals, interval95, trial,
                             utilisation)
from sagalab.runtime import run


def test_bad_input_is_refused_with_the_reason():
    with pytest.raises(ValueError, match="start < end"):
        Outage("Payment Service", 30, 10)
    with pytest.raises(ValueError, match="style must be one of"):
        trial("hybrid")
    with pytest.raises(ValueError, match="rate must be > 0"):
        run(_arrivals(0))
    with pytest.raises(ValueError, match="2 or more numbers"):
        interval95([1.0])
    with pytest.raises(KeyError, match="no service 'Billing'"):
        trial("orchestration", n=2, outage=Outage("Billing", 1, 2))


async def _arrivals(rate):
    return arrivals(rate, 3)


def test_arrivals_are_paired_and_poisson():
    times = run(_arrivals(2.0), seed=3)
    assert times == run(_arrivals(2.0), seed=3) and times == sorted(times)
    many = run(_coro_many(), seed=1)
    assert 0.45 < many[-1] / len(many) < 0.55           # mean gap 1 / rate


async def _coro_many():
    return arrivals(2.0, 4000)


def test_free_coordination_and_one_consumer_make_the_styles_identical():
    a, b = (trial(style, seed=2, n=40, rate=2.0).orders for style in STYLES)
    assert a.end_to_end.round(9).tolist() == b.end_to_end.round(9).tolist()


def test_costs_add_to_their_own_style_only():
    base = trial("choreography", seed=1, n=20).orders.done.mean()
    hop = trial("choreography", seed=1, n=20, hop=0.01).orders.done.mean()
    engine = trial("orchestration", seed=1, n=20, transition=0.01).orders.done.mean()
    assert hop == pytest.approx(base + 0.03, abs=0.005)       # three hops on the critical path
    assert engine == pytest.approx(base + 0.03, abs=0.005)    # three transitions


def test_a_leaf_down_degrades_both_styles_alike_and_loses_nothing():
    outage = Outage("Notification Service", 5, 15)
    runs = [trial(style, seed=4, n=30, outage=outage).orders for style in STYLES]
    for orders in runs:
        assert orders.notified.notna().all()
        assert not orders.notified.between(5, 15, inclusive="left").any()
    assert runs[0].shipped.round(9).tolist() == runs[1].shipped.round(9).tolist()


def test_the_in_memory_orchestrator_refuses_and_loses_the_durable_one_does_not():
    outage = Outage(COORDINATOR, 5, 15)
    crashed = trial("orchestration", seed=4, n=30, outage=outage, crash=True)
    durable = trial("orchestration", seed=4, n=30, outage=outage)
    assert crashed.refused > 0 and crashed.orders.notified.isna().sum() >= 0
    assert durable.refused == 0 and durable.orders.notified.notna().all()


def test_utilisation_is_the_bottleneck_share():
    assert utilisation(1.0) == pytest.approx(0.3 * 2.718281828 ** (0.3 ** 2 / 2), rel=1e-6)
    assert utilisation(3.0, 3) == pytest.approx(utilisation(1.0))
