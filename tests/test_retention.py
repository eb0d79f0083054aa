"""Retention: long runs keep memory flat, and nothing that is not yet handled is dropped.

The soak benchmark (benchmarks/soak.py) runs a million orders; these tests prove the same
properties on small runs: every record the cores keep is bounded by the retention setting,
no delivery is lost or duplicated, and a bad setting is refused.
"""
import importlib.util
from pathlib import Path

import pytest

from sagalab.bus import Bus
from sagalab.dlq import DeadLetterQueue
from sagalab.faults import FaultPlan
from sagalab.orchestrator import Orchestrator, Workflow
from sagalab.runtime import Retained, RetainedMap, records, run
from sagalab.services import Service

ROOT = Path(__file__).resolve().parents[1]


def load_soak():
    spec = importlib.util.spec_from_file_location("soak", ROOT / "benchmarks" / "soak.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def containers(obj, seen=None, depth=0):
    """(path, size) of every list, dict and set reachable through attributes, a few levels deep."""
    seen = set() if seen is None else seen
    if id(obj) in seen or depth > 3:
        return
    seen.add(id(obj))
    for name, value in vars(obj).items():
        if isinstance(value, (list, dict, set)):
            yield f"{type(obj).__name__}.{name}", len(value)
            items = value.values() if isinstance(value, dict) else value
            if isinstance(value, list) and value and hasattr(value[0], "__dict__"):
                items = value[:3]            # records: look inside a few
            for item in list(items)[:50]:
                if hasattr(item, "__dict__") and not isinstance(item, type):
                    yield from containers(item, seen, depth + 1)
        elif hasattr(value, "__dict__") and type(value).__module__.startswith("sagalab"):
            yield from containers(value, seen, depth + 1)


def test_retained_keeps_the_newest_between_keep_and_twice_keep():
    window = Retained(3)
    for record in range(1, 8):
        window.append(record)
    assert window == [4, 5, 6, 7] and window.dropped == 3
    keyed = RetainedMap(2)
    for key in "abcde":
        keyed.setdefault(key, []).append(key)
    assert list(keyed) == ["c", "d", "e"] and keyed.dropped == 2


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "10"])
def test_a_retention_that_is_not_a_whole_number_of_at_least_one_is_refused(bad):
    async def main():
        return 1
    with pytest.raises(ValueError, match="retention must be a whole number ≥ 1"):
        run(main(), retention=bad)

    async def cores():
        for make in (lambda: Bus(retention=bad), lambda: DeadLetterQueue(retention=bad),
                     lambda: Orchestrator(Workflow("w", [main]), retention=bad)):
            with pytest.raises(ValueError, match="retention must be a whole number ≥ 1"):
                make()
    run(cores())


def test_without_retention_records_are_plain_lists():
    async def main():
        return type(records()), type(records(5))
    assert run(main()) == (list, Retained)
    assert run(main(), retention=5) == (Retained, Retained)


def test_the_soak_flow_under_faults_keeps_every_record_bounded_and_loses_nothing():
    soak = load_soak()
    keep = 50
    report = run(soak.soak(3_000, checkpoints=0, error_rate=0.3, keep_objects=True), seed=3, retention=keep)
    assert report["lost"] == 0 and report["duplicated"] == 0
    assert report["finished"] == report["events"] + 3_000      # OrderPlaced goes to 2 groups
    assert report["dead_letters"] > 0 and sum(report["faults"].values()) > 100
    big = [(path, size) for obj in report["objects"] for path, size in containers(obj)
           if size > 2 * keep]
    assert not big, f"records beyond 2 x retention={keep}: {big}"


def test_a_paused_backlog_larger_than_the_retention_is_kept_and_handled_in_order():
    handled = []

    async def main():
        async with Bus(retention=3) as bus:
            async def handler(env):
                handled.append(env.payload["n"])
            sub = bus.subscribe("Tick", handler)
            bus.pause(sub.group)
            for n in range(40):
                await bus.publish("Tick", {"n": n})
            assert sub.backlog == 40                   # waiting events are never dropped
            bus.resume(sub.group)
            await bus.drain()
            return len(bus.log), len(sub.received), sub.trimmed + sub.offset
    log, kept, handled_offset = run(main())
    assert handled == list(range(40))
    assert log <= 6 and kept <= 6 and handled_offset == 40


def test_an_orchestrator_keeps_its_running_instances_and_the_newest_ended_ones():
    async def main():
        service = Service("S", median=1.0, spread=0.0)

        async def step(instance):
            return await service.call("work", lambda: instance.id)
        orch = Orchestrator(Workflow("w", [step], id_prefix="w"), retention=3)
        first = await orch.run({})
        ids = [orch.start({}) for _ in range(10)]
        running = len(orch.instances)
        await orch.wait()
        return first, ids, running, orch
    first, ids, running, orch = run(main())
    assert first.status == "completed"                 # run() returns it although it went
    assert running == 11                               # nothing running is ever dropped
    assert len(orch.instances) == 3 and set(orch.instances) <= set(ids)   # the last to end
    assert all(instance.status == "completed" for instance in orch.instances.values())
    assert len(orch.history) <= 6 and len(orch._tasks) == 3
    with pytest.raises(Exception, match="no instance 'w-0001'"):
        orch.status("w-0001")


def test_fault_counts_stay_exact_when_the_record_is_retained():
    async def main():
        plan = FaultPlan(error_rate=0.5)
        service = plan.attach(Service("S", median=0.1))
        for _ in range(200):
            try:
                await service.call("work", lambda: None)
            except Exception:
                pass
        return plan.counts(), len(plan.injected), len(service.calls)
    counts, kept, calls = run(main(), seed=2, retention=10)
    assert 70 < counts["error"] < 130 and kept <= 20 and calls <= 20
