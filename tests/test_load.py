"""Load testing (sagalab/load.py, built in notebooks/07_load_testing.ipynb): its contract."""
import asyncio
import math
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sagalab.load import (STYLES, Broker, ClosedLoop, GroupCommit, LoadOrchestrator, OpenLoop, Resource, Setup,
                          arrival_times, capacity, closed_loop, constant, interval, measure,
                          measure_resource, mmc_response_time, mva, open_loop, percentile,
                          percentile_ranks, sweep, table)
from sagalab.orchestrator import Workflow
from sagalab.runtime import now, run

FAST = 2_000          # requests per test here: enough for the properties, quick to run


async def arrivals(rate, duration):
    return arrival_times(rate, duration)


# -- bad input ----------------------------------------------------------------------------------

@pytest.mark.parametrize("call, name", [
    (lambda: OpenLoop(0), "rate"),
    (lambda: OpenLoop(-5), "rate"),
    (lambda: OpenLoop(float("nan")), "rate"),
    (lambda: OpenLoop(5, requests=0), "requests"),
    (lambda: OpenLoop(5, requests=2.5), "requests"),
    (lambda: ClosedLoop(users=0), "users"),
    (lambda: ClosedLoop(users=2, think=-1), "think"),
    (lambda: Setup(steps=0), "steps"),
    (lambda: Setup(steps=True), "steps"),
    (lambda: Setup(service_time=0), "service_time"),
    (lambda: Setup(threads=-1), "threads"),
    (lambda: Setup(workers=2.5), "workers"),
    (lambda: Setup(store_writers=0), "store_writers"),
    (lambda: Setup(consumers=0), "consumers"),
    (lambda: Setup(hop_cost=-0.01), "hop_cost"),
    (lambda: Setup(transition_cost=-0.01), "transition_cost"),
    (lambda: Setup(async_start=1), "async_start"),
    (lambda: run(arrivals(0, 10)), "rate"),
    (lambda: run(arrivals(5, 0)), "duration"),
    (lambda: measure(Setup(), "orchestration", 0), "rate"),
    (lambda: measure(Setup(), "orchestration"), "rate"),
    (lambda: measure(Setup(), "microservices", 1), "style"),
    (lambda: sweep(Setup(), [1, -2]), "rate"),
    (lambda: measure_resource(0, 0.1, 1), "concurrency"),
    (lambda: measure_resource(1, 0, 1), "mean"),
    (lambda: mmc_response_time(0, 1, 0.1), "servers"),
    (lambda: percentile([1, 2], 101), "q"),
])
def test_bad_input_raises_value_error_naming_the_parameter(call, name):
    with pytest.raises(ValueError, match=name):
        call()


def test_a_resource_refuses_a_non_positive_concurrency_when_created():
    async def main():
        Resource("db", 0, constant(1.0))
    with pytest.raises(ValueError, match="db: concurrency"):
        run(main())


def test_percentile_refuses_no_values_and_nan():
    with pytest.raises(ValueError, match="no values"):
        percentile([], 50)
    with pytest.raises(ValueError, match="NaN"):
        percentile([1.0, math.nan], 50)


# -- percentiles and arrivals ---------------------------------------------------------------------

@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=60), st.floats(0, 100))
def test_percentile_is_numpys_linear_interpolation(values, q):
    assert percentile(values, q) == pytest.approx(float(np.percentile(values, q)), rel=1e-9, abs=1e-6)


def test_percentile_of_a_known_distribution():
    async def sample():
        from sagalab.runtime import rng
        return [rng().expovariate(1.0) for _ in range(100_000)]
    xs = run(sample(), seed=1)
    for q in (50, 95, 99):
        assert percentile(xs, q) == pytest.approx(-math.log(1 - q / 100), rel=0.03)


def test_arrival_times_are_a_poisson_process():
    times = np.array(run(arrivals(5, 4000), seed=2))
    gaps = np.diff(times, prepend=0.0)
    assert abs(len(times) - 20_000) < 4 * math.sqrt(20_000)
    assert np.all(gaps > 0) and times[-1] < 4000
    assert gaps.mean() == pytest.approx(0.2, rel=0.03)
    assert gaps.std() / gaps.mean() == pytest.approx(1.0, abs=0.05)


def test_open_loop_never_waits_and_closed_loop_keeps_its_users_busy():
    async def main():
        in_flight, most = 0, 0

        async def slow(i):
            nonlocal in_flight, most
            in_flight += 1
            most = max(most, in_flight)
            await asyncio.sleep(10)
            in_flight -= 1

        tasks = []
        await open_loop(lambda i: tasks.append(asyncio.create_task(slow(i))), rate=100, requests=200)
        open_end = now()
        await asyncio.sleep(0)                    # let the last request start
        open_most = most
        await asyncio.gather(*tasks)
        most = 0
        await closed_loop(slow, users=3, requests=12)
        return open_most, open_end, most, now() - open_end - 10
    open_most, open_end, closed_most, closed_time = run(main(), seed=1)
    assert open_end < 10 and open_most == 200     # all sent before the first answer
    assert closed_most == 3 and closed_time == pytest.approx(40)   # 12 requests, 3 at a time


# -- the capacity model --------------------------------------------------------------------------

def test_resource_serves_concurrency_at_a_time_in_arrival_order():
    async def main():
        db, finished = Resource("db", 2, constant(1.0)), []

        async def request(n):
            await db.use()
            finished.append((n, now()))
        await asyncio.gather(*(request(n) for n in range(5)))
        return finished, db.busy, db.served, db.free
    finished, busy, served, free = run(main())
    assert finished == [(0, 1.0), (1, 1.0), (2, 2.0), (3, 2.0), (4, 3.0)]
    assert (busy, served, free) == (5.0, 5, 2)


def test_broker_publish_returns_once_the_event_is_accepted():
    async def main():
        seen = []

        async def handler(event):
            seen.append(now())
        async with Broker(cost=0.25) as bus:
            bus.subscribe("T", handler)
            await bus.publish("T", {})
            accepted = now()
            await bus.drain()
        return accepted, seen
    assert run(main()) == (0.25, [0.25])


def test_load_orchestrator_keeps_no_history_and_counts_instances():
    async def step(instance):
        await asyncio.sleep(1)

    async def main():
        orchestrator = LoadOrchestrator(Workflow("w", [step]), capacity=1)
        for _ in range(3):
            orchestrator.start({})
        await asyncio.sleep(1.5)
        middle = (orchestrator.began, orchestrator.finished)
        await orchestrator.wait()
        return middle, orchestrator.began, orchestrator.finished, orchestrator.history
    assert run(main()) == ((2, 1), 3, 3, [])


def test_capacity_is_the_utilisation_law():
    s = Setup(steps=3, service_time=0.1, threads=4, workers=6, transition_cost=0.01, store_writers=2,
              hop_cost=0.02, consumers=2)
    assert capacity(s, "orchestration") == pytest.approx(
        {"service": 40.0, "store": 2 / 0.03, "workers": 6 / 0.33})
    assert capacity(s, "choreography") == pytest.approx({"service": 40.0, "consumers": 2 / 0.12})


# -- measurements --------------------------------------------------------------------------------

def test_littles_law_and_erlang_c_hold_on_an_m_m_c_queue():
    test = measure_resource(3, 0.2, 10, requests=10_000, seed=5)    # 67 % busy
    law = test.littles_law()
    assert law["L"] == pytest.approx(law["λW"], rel=0.05)
    assert law["W"] == pytest.approx(mmc_response_time(3, 10, 0.2), rel=0.06)
    assert test.utilisation["server"] == pytest.approx(10 * 0.2 / 3, rel=0.05)
    assert not test.saturated()


def test_erlang_c_formula():
    assert mmc_response_time(1, 5, 0.1) == pytest.approx(0.1 / (1 - 0.5))     # M/M/1
    assert mmc_response_time(2, 10, 0.1) == pytest.approx(0.1 + (1 / 3) * 0.1 / 1)
    assert mmc_response_time(2, 20, 0.1) == math.inf


def test_closed_loop_hides_a_stall_that_the_open_loop_shows():
    stall = (50.0, 2.0)
    opened = measure_resource(1, 0.01, 40, requests=4000, stall=stall, seed=1)
    closed = measure_resource(1, 0.01, load=ClosedLoop(users=1, requests=4000, think=0.015),
                              stall=stall, seed=1)
    assert (closed.response > 0.5).sum() <= 1 < 50 < (opened.response > 0.5).sum()
    assert percentile(closed.response, 99) * 5 < percentile(opened.response, 99)


def test_an_overloaded_open_loop_is_saturated_and_a_closed_loop_never_looks_it():
    opened = measure_resource(1, 0.1, 12, requests=3000, seed=1)      # capacity 10/s
    closed = measure_resource(1, 0.1, load=ClosedLoop(users=20, requests=3000, think=0.5), seed=1)
    assert opened.saturated() and opened.queue_growth() == pytest.approx(2.0, abs=0.6)
    assert opened.throughput == pytest.approx(10, rel=0.1)
    assert not closed.saturated() and closed.throughput == pytest.approx(10, rel=0.1)
    row = opened.summary()
    assert row["status"] == "saturated" and row["queue growth/s"] > 1
    assert all(math.isnan(row[k]) for k in ("answer mean", "done mean", "done p50", "done p99"))
    stable = measure_resource(1, 0.1, 7, requests=3000, seed=1).summary()
    assert stable["status"] == "ok" and stable["queue growth/s"] == 0 and stable["done p99"] > 0


def test_both_styles_finish_every_request_and_answer_as_documented():
    setup = Setup()
    orchestrated = measure(setup, "orchestration", 2, requests=FAST, seed=1)
    choreographed = measure(setup, "choreography", 2, requests=FAST, seed=1)
    for test in (orchestrated, choreographed):
        assert len(test.sent) == len(test.done) == FAST and np.all(test.done > test.sent)
        assert np.all(np.diff(test.sent) > 0)
    assert np.array_equal(orchestrated.answered, orchestrated.done)       # the client waits for all
    assert np.allclose(choreographed.response, setup.hop_cost)         # answered on acceptance
    assert np.all(choreographed.completion >= setup.hop_cost * (setup.steps + 1))
    assert set(orchestrated.utilisation) == {"service 1", "service 2", "service 3", "store", "workers"}


def test_saturation_follows_the_bottleneck_in_both_styles():
    few_workers = Setup(workers=2)              # orchestration: 2 / (3 × 0.165) ≈ 4 requests/s
    assert measure(few_workers, "orchestration", 5, requests=FAST, seed=1).saturated()
    assert not measure(few_workers, "orchestration", 3, requests=FAST, seed=1).saturated()
    one_consumer = Setup()                      # choreography: 1 / 0.1575 ≈ 6.3 requests/s
    over = measure(one_consumer, "choreography", 8, requests=FAST, seed=1)
    assert over.saturated()
    row = over.summary()                        # the client, answered on acceptance, still is
    assert row["answer mean"] == pytest.approx(one_consumer.hop_cost) and math.isnan(row["done mean"])
    assert not measure(Setup(consumers=4), "choreography", 8, requests=FAST, seed=1).saturated()


@pytest.mark.parametrize("style", STYLES)
def test_the_same_seed_gives_the_same_numbers(style):
    first = measure(Setup(), style, 5, requests=FAST, seed=3)
    again = measure(Setup(), style, 5, requests=FAST, seed=3)
    other = measure(Setup(), style, 5, requests=FAST, seed=4)
    assert np.array_equal(first.sent, again.sent) and np.array_equal(first.done, again.done)
    assert first.gauge.equals(again.gauge) and first.summary() == again.summary()
    assert not np.array_equal(first.done, other.done)


def test_sweep_reports_progress_and_returns_rates_times_styles():
    calls = []
    runs = sweep(Setup(), [1, 2], requests=500, progress=lambda done, total: calls.append((done, total)))
    assert calls == [(1, 4), (2, 4), (3, 4), (4, 4)]
    assert [(r.load.rate, r.style) for r in runs] == [(1, "orchestration"), (1, "choreography"),
                                                      (2, "orchestration"), (2, "choreography")]
    frame = table(runs)
    assert list(frame["rate"]) == [1, 1, 2, 2] and set(frame["status"]) == {"ok"}


# -- statistics, closed loops, client contracts ---------------------------------------------------

def test_interval_is_students_t_over_replications():
    mean, half = interval([1.0, 2.0, 3.0])              # s = 1, n = 3, t(0.975, 2) = 4.303
    assert mean == 2.0 and half == pytest.approx(4.303 / math.sqrt(3))
    assert interval([5.0, 5.0]) == (5.0, 0.0)
    for bad in ([1.0], [], [1.0, float("nan")]):
        with pytest.raises(ValueError):
            interval(bad)


def test_percentile_ranks_cover_the_true_percentile_about_95_percent_of_the_time():
    low, high = percentile_ranks(10_000, 99)
    assert low < 9_900 < high and high - low == pytest.approx(2 * 1.96 * math.sqrt(99), abs=2)
    rng_ = np.random.default_rng(1)
    exact = -math.log(0.01)
    covered = 0
    for _ in range(400):
        xs = np.sort(rng_.exponential(1.0, 2_000))
        lo, hi = percentile_ranks(2_000, 99)
        covered += xs[lo] <= exact <= xs[hi]
    assert 0.9 <= covered / 400 <= 0.99


def test_mva_is_exact_for_one_station_and_bounded_by_the_asymptotes():
    table_ = mva([1.0], 0.0, 5).set_index("users")      # no think time: R(n) = n × D
    assert list(table_.response) == pytest.approx([1, 2, 3, 4, 5])
    table_ = mva([1.0, 0.08], 1.15, 10).set_index("users")
    r = table_.response
    assert (round(r[5] / r[1], 2), round(r[10] / r[1], 2)) == (3.6, 8.19)
    assert all(table_.throughput <= 1.0 + 1e-12)        # at most 1 / D_max
    assert r[10] >= 10 * 1.0 - 1.15 - 1e-9              # at least N·D_max − Z
    with pytest.raises(ValueError, match="demands"):
        mva([0.0], 1.0, 3)
    with pytest.raises(ValueError, match="users"):
        mva([1.0], 1.0, 0)


def test_a_simulated_closed_loop_agrees_with_mva_and_does_not_saturate():
    think = 1.67
    exact = mva([1.0], think, 10).set_index("users").response
    for users in (1, 10):
        test = measure_resource(1, 1.0, load=ClosedLoop(users=users, think=think, requests=FAST), seed=2)
        assert not test.saturated()
        assert test.response.mean() == pytest.approx(exact[users], rel=0.08)


def test_an_async_start_answers_once_the_start_is_persisted():
    setup = Setup(async_start=True)
    test = measure(setup, "orchestration", 1, requests=500, seed=1)
    assert np.all(test.response >= setup.transition_cost - 1e-12)
    assert test.response.mean() < 2 * setup.transition_cost          # a handle, not the result
    assert np.all(test.done > test.answered) and test.completion.mean() > 0.4
    sync = measure(Setup(), "orchestration", 1, requests=500, seed=1)
    assert np.array_equal(sync.answered, sync.done)
    assert capacity(setup, "orchestration")["store"] == pytest.approx(1 / (4 * setup.transition_cost))
    assert "async_start=True" in setup.describe()


def test_group_commit_batches_waiting_writes_and_a_finite_broker_queues_events():
    async def main():
        store = GroupCommit("store", 1, 1.0, batch=3)
        done = []

        async def write(k):
            await store.use()
            done.append((k, now()))
        await asyncio.gather(*(write(k) for k in range(5)))
        return done, store.served, store.busy
    done, served, busy = run(main())
    # all five are waiting when the writer starts: a commit of three, then one of two
    assert [t for _, t in done] == [1.0, 1.0, 1.0, 2.0, 2.0] and served == 5 and busy == 2.0

    async def publishes():
        bus = Broker(cost=0.5, writers=1)
        times = []

        async def send():
            await bus.publish("T", {})
            times.append(now())
        await asyncio.gather(send(), send(), send())
        await bus.close()
        return times
    assert run(publishes()) == [0.5, 1.0, 1.5]


def test_batching_and_a_finite_broker_enter_the_utilisation_law():
    s = Setup(steps=6, store_batch=8, broker_writers=2)
    assert capacity(s, "orchestration")["store"] == pytest.approx(8 / (6 * s.transition_cost))
    assert capacity(s, "choreography")["broker"] == pytest.approx(2 / (7 * s.hop_cost))
    assert "broker" not in capacity(Setup(), "choreography")
    with pytest.raises(ValueError, match="store_batch"):
        Setup(store_batch=0)
    with pytest.raises(ValueError, match="broker_writers"):
        Setup(broker_writers=-1)
    busy = measure(replace(s, consumers=8), "choreography", 5, requests=500, seed=1)
    assert 0 < busy.utilisation["broker"] < 1 and not busy.saturated()
