"""The event bus (sagalab/bus.py, built in notebooks/02_choreography.ipynb): its contract."""
import asyncio
import functools

import pytest

from sagalab.bus import Bus, Envelope, deliveries, event_log, queue_depth, topology
from sagalab.runtime import now, rng, run


def on_bus(scenario, seed=0):
    """Run `await scenario(bus)` on a fresh bus in simulated time; return (bus, result)."""
    async def main():
        async with Bus() as bus:
            result = await scenario(bus)
            return bus, result
    return run(main(), seed=seed)


def test_envelope_is_immutable_and_replace_returns_a_new_one():
    env = Envelope("evt-0001", "OrderPlaced", "order-0001", 0.0, {"amount": 1}, {})
    with pytest.raises(AttributeError):
        env.key = "order-0002"
    again = env._replace(headers={"attempt": "2"})
    assert again.headers == {"attempt": "2"} and env.headers == {} and again.id == env.id


def test_publish_returns_before_any_handler_runs_and_drain_waits_for_them():
    async def scenario(bus):
        seen = []

        async def handler(event):
            await asyncio.sleep(1)
            seen.append((now(), event.payload["n"]))
        bus.subscribe("T", handler)
        for n in range(3):
            await bus.publish("T", {"n": n})
        assert seen == [] and now() == 0          # nobody waited for the handler
        await bus.drain()
        return seen
    _, seen = on_bus(scenario)
    assert seen == [(1.0, 0), (2.0, 1), (3.0, 2)]     # one at a time, in publish order


@pytest.mark.parametrize("seed", range(5))
def test_per_key_order_holds_in_a_group_of_competing_members(seed):
    async def scenario(bus):
        handled = []

        async def handler(event):
            await asyncio.sleep(rng().uniform(0.1, 2.0))
            handled.append((event.key, event.payload["step"]))
        for _ in range(3):
            bus.subscribe("T", handler, group="workers")
        for step in range(5):
            for k in range(8):
                await bus.publish("T", {"step": step}, key=f"order-{k:04d}")
        await bus.drain()
        return handled
    bus, handled = on_bus(scenario, seed)
    assert len(handled) == 40
    for k in range(8):
        assert [s for key, s in handled if key == f"order-{k:04d}"] == list(range(5))
    runs = deliveries(bus)
    assert runs.groupby("key").subscription.nunique().max() == 1   # a key sticks to one member
    assert runs.subscription.nunique() == 3                          # and the work is shared


def test_groups_compete_inside_and_each_group_gets_every_event():
    async def scenario(bus):
        async def work(event):
            await asyncio.sleep(1)
        for _ in range(4):
            bus.subscribe("T", work, group="competing")
        bus.subscribe("T", work, group="audit")
        bus.subscribe(["T", "U"], work, group="both")
        for n in range(20):
            await bus.publish("T", {"n": n})        # no key: spread by event id
        await bus.publish("U", {})
        await bus.drain()
    bus, _ = on_bus(scenario)
    runs = deliveries(bus)
    per_group = runs.groupby("group").event.agg(["size", "nunique"])
    assert per_group.loc["competing"].tolist() == [20, 20]   # each T event once in the group
    assert per_group.loc["audit"].tolist() == [20, 20]
    assert per_group.loc["both"].tolist() == [21, 21]
    assert runs[runs.group == "competing"].subscription.nunique() == 4
    assert sorted(s.name for s in bus.subscriptions if s.group == "competing") == [
        "competing#1", "competing#2", "competing#3", "competing#4"]


def test_a_slow_subscriber_delays_nobody_else():
    async def scenario(bus):
        done = {"fast": [], "slow": []}

        async def fast(event):
            await asyncio.sleep(0.01)
            done["fast"].append(now())

        async def slow(event):
            await asyncio.sleep(10)
            done["slow"].append(now())
        bus.subscribe("T", slow, group="slow")
        bus.subscribe("T", fast, group="fast")
        for _ in range(5):
            await bus.publish("T")
        await bus.drain()
        return done
    bus, done = on_bus(scenario)
    assert max(done["fast"]) == pytest.approx(0.05)
    assert max(done["slow"]) == pytest.approx(50)


def test_drain_counts_events_that_handlers_publish_meanwhile():
    async def scenario(bus):
        async def first(event):
            await asyncio.sleep(1)
            await bus.publish("Second", key=event.key)

        async def second(event):
            await asyncio.sleep(2)
            await bus.publish("Third", key=event.key)

        async def third(event):
            await asyncio.sleep(3)
        bus.subscribe("First", first)
        bus.subscribe("Second", second)
        bus.subscribe("Third", third)
        await bus.publish("First", key="k")
        await bus.drain()
        return now()
    bus, drained_at = on_bus(scenario)
    assert drained_at == 6
    assert [e.topic for e in bus.log] == ["First", "Second", "Third"]
    # the bus stamps who published each event and which event caused it
    assert [(e.source, e.caused_by) for e in bus.log] == [
        (None, None), ("test_drain_counts_events_that_handlers_publish_meanwhile.<locals>."
                       "scenario.<locals>.first", "evt-0001"),
        ("test_drain_counts_events_that_handlers_publish_meanwhile.<locals>.scenario.<locals>."
         "second", "evt-0002")]
    assert queue_depth(bus).groupby("group").backlog.last().eq(0).all()


def test_drain_on_an_idle_bus_returns_at_once():
    _, t = on_bus(lambda bus: _drain_now(bus))
    assert t == 0


async def _drain_now(bus):
    await bus.drain()
    return now()


def test_a_paused_group_builds_a_backlog_and_catches_up_on_resume():
    async def scenario(bus):
        async def handler(event):
            await asyncio.sleep(0.5)

        async def other(event):
            pass
        bus.subscribe("T", handler, group="down")
        bus.subscribe("T", other, group="up")
        bus.pause("down")
        for _ in range(6):
            await bus.publish("T")
            await asyncio.sleep(1)
        waiting = [s.backlog for s in bus.subscriptions]
        bus.resume("down")
        await bus.drain()
        return waiting, now()
    bus, (waiting, end) = on_bus(scenario)
    assert waiting == [6, 0]
    assert end == pytest.approx(6 + 6 * 0.5)
    depth = queue_depth(bus)
    assert depth[depth.group == "down"].backlog.max() == 6


def test_outage_takes_a_group_down_for_a_window_only():
    async def scenario(bus):
        handled = []

        async def handler(event):
            handled.append((event.payload["n"], now()))
        bus.subscribe("T", handler, group="mail")
        with pytest.raises(KeyError, match="no subscription in group 'nobody'"):
            await bus.outage("nobody", 1, 2)          # refused at once, not a second later
        window = asyncio.create_task(bus.outage("mail", 2.5, 5.5))
        for n in range(8):
            await bus.publish("T", {"n": n})
            await asyncio.sleep(1)
        await window
        await bus.drain()
        return handled
    _, handled = on_bus(scenario)
    # events 3, 4 and 5 arrive while the group is down and are handled at t = 5.5, in order
    assert handled == [(0, 0), (1, 1), (2, 2), (3, 5.5), (4, 5.5), (5, 5.5), (6, 6), (7, 7)]


def test_non_async_handlers_are_refused_at_subscribe_time():
    async def scenario(bus):
        def plain(event):
            return None

        class Callable:
            async def __call__(self, event):
                pass

        async def with_extra(event, extra):
            pass
        for bad in (plain, lambda event: None, "not a function", None):
            with pytest.raises(TypeError, match="async function"):
                bus.subscribe("T", bad)
        assert bus.subscriptions == []
        bus.subscribe("T", Callable(), group="callable")            # async __call__ is fine
        bus.subscribe("T", functools.partial(with_extra, extra=1))  # so is a partial of one
        for bad_topics in ("", [], ["T", ""], [3]):
            with pytest.raises(ValueError, match="topics"):
                bus.subscribe(bad_topics, Callable())
        with pytest.raises(ValueError, match="topic"):
            await bus.publish("")
        with pytest.raises(KeyError, match="no subscription in group 'nobody'"):
            bus.pause("nobody")
        with pytest.raises(TypeError, match="middleware"):
            bus.use(lambda sub, env, call_next: None)
        return len(bus.subscriptions)
    _, count = on_bus(scenario)
    assert count == 2


def test_a_raising_handler_is_recorded_and_the_bus_goes_on():
    async def scenario(bus):
        handled = []

        async def fragile(event):
            if event.payload["n"] == 1:
                raise ValueError("cannot handle one")
            handled.append(event.payload["n"])

        async def steady(event):
            handled.append(("steady", event.payload["n"]))
        bus.subscribe("T", fragile, group="fragile")
        bus.subscribe("T", steady, group="steady")
        for n in range(3):
            await bus.publish("T", {"n": n}, key=f"k{n}")
        await bus.drain()
        return handled
    bus, handled = on_bus(scenario)
    assert [h for h in handled if not isinstance(h, tuple)] == [0, 2]
    assert len([h for h in handled if isinstance(h, tuple)]) == 3
    (failure,) = bus.failures
    assert (failure.event_id, failure.subscription, failure.key, failure.topic) == (
        "evt-0002", "fragile#1", "k1", "T")
    assert failure.error == "ValueError: cannot handle one"
    runs = deliveries(bus)
    assert runs.error.notna().sum() == 1


def test_middleware_wraps_every_handler_call_first_one_outermost():
    async def scenario(bus):
        trail = []

        def named(name):
            async def middleware(sub, env, call_next):
                trail.append(f"{name} in {sub.group}")
                await call_next(env)
                trail.append(f"{name} out")
            return middleware

        async def retry_once(sub, env, call_next):
            try:
                await call_next(env)
            except RuntimeError:
                await call_next(env._replace(headers={"attempt": "2"}))

        async def flaky(event):
            trail.append(f"handler attempt {event.headers.get('attempt', '1')}")
            if "attempt" not in event.headers:
                raise RuntimeError("first attempt fails")
        bus.subscribe("T", flaky, group="g")
        bus.use(named("outer"))
        bus.use(named("inner"))
        bus.use(retry_once)
        await bus.publish("T")
        await bus.drain()
        return trail
    bus, trail = on_bus(scenario)
    assert trail == ["outer in g", "inner in g", "handler attempt 1", "handler attempt 2",
                     "inner out", "outer out"]
    assert bus.failures == []


def test_enqueue_redelivers_to_one_subscription_without_publishing_again():
    async def scenario(bus):
        got = []

        async def handler(event):
            got.append(event.id)
        sub = bus.subscribe("T", handler, group="a")
        bus.subscribe("T", handler, group="b")
        env = await bus.publish("T")
        await bus.drain()
        bus.enqueue(sub, env)
        await bus.drain()
        return got
    bus, got = on_bus(scenario)
    assert got == ["evt-0001", "evt-0001", "evt-0001"] and len(bus.log) == 1


def test_a_closed_bus_refuses_work():
    async def main():
        bus = Bus()

        async def handler(event):
            pass
        bus.subscribe("T", handler)
        await bus.close()
        with pytest.raises(RuntimeError, match="closed"):
            await bus.publish("T")
        with pytest.raises(RuntimeError, match="closed"):
            bus.subscribe("T", handler)
        return bus
    run(main())


def test_reports_and_determinism():
    async def scenario(bus):
        async def relay(event):
            await asyncio.sleep(rng().expovariate(1.0))
            await bus.publish("Relayed", dict(event.payload), key=event.key)

        async def sink(event):
            await asyncio.sleep(rng().expovariate(2.0))
        bus.subscribe("Start", relay, group="relay")
        bus.subscribe("Relayed", sink, group="sink")
        for n in range(10):
            await bus.publish("Start", {"n": n}, key=f"k{n % 3}", source="client")
        await bus.drain()
    first, _ = on_bus(scenario, seed=3)
    again, _ = on_bus(scenario, seed=3)
    other, _ = on_bus(scenario, seed=4)
    assert event_log(first).equals(event_log(again))
    assert not event_log(first).equals(event_log(other))
    log = event_log(first)
    assert list(log.columns) == ["id", "time", "topic", "key", "source", "caused_by", "payload",
                                 "headers"]
    assert log.id.tolist() == [f"evt-{n:04d}" for n in range(1, 21)]
    edges = topology(first)
    assert edges[["publisher", "topic", "subscriber"]].values.tolist() == [
        ["client", "Start", "relay"], ["relay", "Relayed", "sink"]]
    assert edges.published.tolist() == [10, 10] and edges.received.tolist() == [10, 10]
    runs = deliveries(first)
    assert len(runs) == 20 and (runs.waited >= 0).all() and (runs.took >= 0).all()


def test_ids_stay_sequential_past_a_formatting_batch_and_times_are_exact():
    # ids are formatted in batches of 512; a handled event's start is the previous one's end
    # unless its worker had to wait for it
    async def scenario(bus):
        async def handler(event):
            await asyncio.sleep(1 if event.payload["n"] < 3 else 0)
        bus.subscribe("T", handler)
        for n in range(1100):
            await bus.publish("T", {"n": n})
        await bus.drain()
        await asyncio.sleep(10)
        await bus.publish("T", {"n": 0})
        await bus.drain()
    bus, _ = on_bus(scenario)
    assert [env.id for env in bus.log] == [f"evt-{n:04d}" for n in range(1, 1102)]
    runs = deliveries(bus)
    assert runs.started.tolist()[:4] == [0.0, 1.0, 2.0, 3.0]
    assert runs.finished.tolist()[:4] == [1.0, 2.0, 3.0, 3.0]
    last = runs.iloc[-1]
    assert (last.arrived, last.started, last.finished) == (13.0, 13.0, 14.0)
