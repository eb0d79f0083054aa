"""Lesson 06's lag metrics: a scrape per consumer group, a scraper, an alert rule with `for`;
and what OpenTelemetry's exporter holds while a span is still running."""
import asyncio

import pandas as pd
import pytest

from sagalab.bus import Bus
from sagalab.lag import AlertRule, LagMonitor, lag_sample
from sagalab.runtime import run
from sagalab.tracing import CONSUMER, OtelTracer, Tracer, trace_bus


async def stalled(stall_until=10.0, n=6, every=1.0):
    """One group whose handler blocks on its first event until `stall_until`; one that keeps up."""
    async with Bus() as bus:
        async def slow(event):
            if event.payload["n"] == 0:
                await asyncio.sleep(stall_until)

        async def fast(event):
            pass

        bus.subscribe("Tick", slow, group="Slow")
        bus.subscribe("Tick", fast, group="Fast")
        monitor = LagMonitor(bus, every=every).start()
        for i in range(n):
            await bus.publish("Tick", {"n": i}, key=f"k{i}")
            await asyncio.sleep(every)
        await bus.drain()
        await asyncio.sleep(2 * every)
        await monitor.stop()
    return monitor.frame()


def test_a_sample_counts_waiting_and_in_hand_and_the_oldest_age():
    samples = run(stalled(), seed=1)
    at = samples[samples.time == 5.0].set_index("group")
    assert at.lag["Slow"] == 6 and at.lag["Fast"] <= 1       # 6 published, the first in hand
    # (Fast: at most the event published at this very instant)
    assert at.oldest_age["Slow"] == pytest.approx(5.0) and at.oldest_age["Fast"] == 0
    end = samples[samples.time == samples.time.max()]
    assert (end.lag == 0).all() and (end.oldest_age == 0).all()


def test_the_monitor_stops_and_leaves_no_task():
    samples = run(stalled(), seed=1)          # run() reports leftover tasks: there are none
    assert list(samples.columns) == ["time", "group", "lag", "oldest_age"]
    assert samples.time.diff().dropna().ge(0).all()


def test_an_alert_fires_after_for_seconds_and_resolves():
    samples = pd.DataFrame({"time": [0, 1, 2, 3, 4, 5, 6], "group": "g",
                            "lag": [0, 6, 7, 9, 8, 2, 0], "oldest_age": 0.0})
    (alert,) = AlertRule("lag", above=5, for_seconds=2).alerts(samples).itertuples()
    assert (alert.pending, alert.firing, alert.resolved, alert.peak) == (1, 3, 5, 9)
    assert AlertRule("lag", above=5, for_seconds=5).alerts(samples).empty      # too short
    assert len(AlertRule("lag", above=5, for_seconds=5).evaluate(samples)) == 1   # pending only
    assert AlertRule("lag", above=9).alerts(samples).empty                        # strictly above
    assert str(AlertRule("oldest_age", 3, 1.5)) == "oldest_age > 3 for 1.5 s"


def test_a_stuck_group_fires_and_a_healthy_one_does_not():
    samples = run(stalled(), seed=1)
    alerts = AlertRule("oldest_age", above=3, for_seconds=1).alerts(samples)
    assert list(alerts.group) == ["Slow"] and alerts.firing.iloc[0] == 5.0


@pytest.mark.parametrize("rule", [dict(metric="depth", above=1), dict(metric="lag", above=-1),
                                  dict(metric="lag", above=1, for_seconds="2"),
                                  dict(metric="lag", above=True)])
def test_bad_rules_are_refused(rule):
    with pytest.raises(ValueError):
        AlertRule(**rule)


@pytest.mark.parametrize("every", [0, -1, "1", True])
def test_bad_scrape_intervals_are_refused(every):
    with pytest.raises(ValueError):
        LagMonitor(None, every=every)


def test_opentelemetry_exports_a_span_only_when_it_ends():
    """06-T1: while a handler runs, our store holds its span in flight; OpenTelemetry's exporter
    holds nothing of it until it ends."""
    async def go():
        hand, otel = Tracer(), OtelTracer()
        seen = {}
        async with Bus() as bus:
            for tracer in (hand, otel):
                trace_bus(tracer, bus)

            async def slow(event):
                await asyncio.sleep(10)

            bus.subscribe("Tick", slow, group="Slow")
            await bus.publish("Tick", {}, key="k", source="Clock")
            await asyncio.sleep(5)
            seen["hand"], seen["otel"] = hand.frame(), otel.frame()
            seen["sample"] = lag_sample(bus)
            await bus.drain()
        return seen, hand.frame(), otel.frame()

    seen, hand, otel = run(go(), seed=2)
    assert list(seen["hand"].kind) == ["producer", CONSUMER] and seen["hand"].end.isna().sum() == 1
    assert list(seen["otel"].kind) == ["producer"]                     # the send only
    assert seen["sample"] == [{"time": 5.0, "group": "Slow", "lag": 1, "oldest_age": 5.0}]
    assert list(otel.kind) == ["producer", CONSUMER] and otel.end.notna().all()
