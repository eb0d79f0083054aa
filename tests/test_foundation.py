"""Foundation v2: one way to extend every core (middleware through `use`), one status machine,
no method of a live object replaced anywhere."""
from __future__ import annotations

import ast
import asyncio
from pathlib import Path

import nbformat
import pytest

from sagalab.bus import Bus
from sagalab.dlq import SupervisedOrchestrator
from sagalab.faults import FaultPlan, TransientError
from sagalab.orchestrator import (INSTANCE, STEP, Orchestrator, OrchestratorDown,
                                  Workflow, registration)
from sagalab.retry import RetryPolicy
from sagalab.runtime import run
from sagalab.saga import (COMPENSATED, COMPENSATING, SagaOrchestrator, keep_answers,
                          registration_saga, saga)
from sagalab.services import EmailService, ProfileService, Service, UserService
from sagalab.tracing import Tracer, trace_orchestrator

ROOT = Path(__file__).resolve().parent.parent


def _recorder(seen, name):
    """Middleware that notes when a call goes in and out: a service's `(request, call_next)`
    passes the request on; the orchestrator's `(instance, [step,] call_next)` does not."""
    async def mw(*args):
        *head, call_next = args
        seen.append(f"{name} in")
        is_request = type(head[0]).__name__ == "Request"
        result = await (call_next(head[0]) if is_request else call_next())
        seen.append(f"{name} out")
        return result
    mw.__qualname__ = name
    return mw


def test_service_middleware_first_added_is_outermost_and_printable():
    seen = []
    service = Service("Echo", median=0.1, spread=0)
    service.use(_recorder(seen, "a")).use(_recorder(seen, "b"))
    service.use(_recorder(seen, "tracing"), outermost=True)

    async def main():
        return await service.call("echo", lambda: "done")

    assert run(main()) == "done"
    assert seen == ["tracing in", "a in", "b in", "b out", "a out", "tracing out"]
    assert [m.__qualname__ for m in service.middleware["request"]] == ["tracing", "a", "b"]
    assert "uses request: tracing, a, b" in repr(service)


def test_orchestrator_middleware_at_each_point_in_order():
    seen = []

    async def only(job):
        return "ok"

    async def main():
        orch = Orchestrator(Workflow("job", [only]))
        for name in ("a", "b"):
            orch.use(_recorder(seen, f"step {name}"), on=STEP)
            orch.use(_recorder(seen, f"instance {name}"), on=INSTANCE)
        orch.use(_recorder(seen, "first"), on=INSTANCE, outermost=True)
        await orch.run({})
        return orch

    orch = run(main())
    assert seen == ["first in", "instance a in", "instance b in", "step a in", "step b in",
                    "step b out", "step a out", "instance b out", "instance a out", "first out"]
    assert [m.__qualname__ for m in orch.middleware[INSTANCE]] == ["first", "instance a",
                                                                   "instance b"]


# The bus's delivery middleware order: tests/test_bus.py,
# test_middleware_wraps_every_handler_call_first_one_outermost.


@pytest.mark.parametrize("core", ["service", "orchestrator"])
def test_use_refuses_what_cannot_work_naming_it(core):
    def not_async(*args):
        return None

    async def main():
        target = (Service("Echo") if core == "service" else
                  Orchestrator(registration(UserService(), EmailService(), ProfileService())))
        with pytest.raises(TypeError, match="async"):
            target.use(not_async)
        if core == "orchestrator":
            async def mw(instance, call_next):
                await call_next()
            with pytest.raises(ValueError, match="no interception point 'steps'.*step, instance, compensation"):
                target.use(mw, on="steps")
            await target.stop()
            with pytest.raises(OrchestratorDown, match="stopped"):
                target.use(mw, on="instance")

    run(main())


def test_use_on_a_closed_bus_or_an_unknown_point_fails_at_once():
    async def mw(subscription, envelope, call_next):
        await call_next(envelope)

    async def main():
        bus = Bus()
        with pytest.raises(ValueError, match="no interception point 'delivery'.*deliver, publish"):
            bus.use(mw, on="delivery")
        await bus.close()
        with pytest.raises(RuntimeError, match="closed"):
            bus.use(mw)

    run(main())


def test_ended_is_set_only_on_a_terminal_status():
    """A saga instance that is still compensating has no `ended` (it had one before)."""
    snapshots = []

    async def watch(orch):
        while not orch.instances or any(i.status not in orch.TERMINAL
                                        for i in orch.instances.values()):
            snapshots.extend((i.status, i.ended) for i in orch.instances.values())
            await asyncio.sleep(0.01)

    async def main():
        users, emails, profiles = (keep_answers(s) for s in (UserService(), EmailService(),
                                                            ProfileService()))
        FaultPlan(outages=[(0.0, 1.0)]).attach(users)          # the undo waits out the outage
        orch = SagaOrchestrator(registration_saga(users, emails, profiles),
                                policy=RetryPolicy(maximum_attempts=20, initial_interval=0.2))
        orch.start({"email": "grace-at-example.com", "name": "Grace"})
        await watch(orch)
        return orch

    orch = run(main())
    instance = orch.instances["reg-0001"]
    assert instance.status == COMPENSATED and instance.ended is not None
    assert any(status == COMPENSATING for status, _ in snapshots)
    for status, ended in snapshots:
        assert (ended is not None) == (status in orch.TERMINAL), (status, ended)


def test_a_resolved_instance_stays_in_its_trace():
    """Review §4.3: resolve(id, "retry") with tracing on used to start a new root trace."""
    calls = {"n": 0}

    async def a(job):
        return "a ok"

    async def b(job):
        calls["n"] += 1
        if calls["n"] == 1:
            raise TransientError("b broke")
        return "b ok"

    async def undo_a(job):
        return "undone"

    async def main():
        tracer = Tracer()
        orch = SupervisedOrchestrator(saga(Workflow("w", [a, b]), {"a": undo_a}),
                                      on_failure="hold")
        trace_orchestrator(tracer, orch)
        await orch.run({})
        status = await orch.resolve("w-0001", "retry")
        return tracer.frame(), status

    spans, status = run(main())
    assert status == "completed"
    assert spans.trace_id.nunique() == 1, spans[["name", "trace_id", "parent_id"]]
    roots = spans[spans.parent_id.isna()]
    assert list(roots.name) == ["w workflow"]
    continued = spans[spans.name == "w workflow (continued)"].iloc[0]
    assert continued.status == "ok"
    retried = spans[(spans.name == "b")].iloc[-1]
    assert retried.parent_id == continued.span_id and retried.status == "ok"


# -- nothing replaces a method of a live object ---------------------------------------------

def _sources():
    for path in sorted((ROOT / "sagalab").rglob("*.py")):
        yield str(path.relative_to(ROOT)), path.read_text(encoding="utf-8")
    for folder in ("notebooks", "solutions"):
        for path in sorted((ROOT / folder).glob("*.ipynb")):
            nb = nbformat.read(path, as_version=4)
            for index, cell in enumerate(nb.cells):
                if cell.cell_type == "code":
                    yield f"{folder}/{path.name} cell {index}", cell.source


METHODS = {"call", "latency", "publish", "run_instance", "run_compensation", "run_step",
           "middleware", "set_status", "record", "deliver", "handle", "send"}


def _patches(source: str) -> list[str]:
    """`x.method = ...` and `x.middleware.insert(...)` where x is not `self` or a class."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    found = []
    for node in ast.walk(tree):
        targets = node.targets if isinstance(node, ast.Assign) else []
        for target in targets:
            for leaf in ast.walk(target):
                # `self.x = ...` sets up an object; a middleware's `request` is data it may change
                if (isinstance(leaf, ast.Attribute) and leaf.attr in METHODS
                        and not (isinstance(leaf.value, ast.Name)
                                 and leaf.value.id in ("self", "request"))):
                    found.append(f"line {leaf.lineno}: {ast.unparse(leaf)} = ...")
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr == "insert" and isinstance(node.func.value, ast.Attribute)
                and node.func.value.attr == "middleware"
                and not (isinstance(node.func.value.value, ast.Name)
                         and node.func.value.value.id == "self")):
            found.append(f"line {node.lineno}: {ast.unparse(node.func)}(...)")
    return found


def test_no_method_of_a_live_object_is_replaced():
    problems = [f"{where}, {patch}" for where, source in _sources() for patch in _patches(source)]
    assert not problems, "later lessons extend cores with use(...), never by patching:\n  " + \
        "\n  ".join(problems)


def test_the_patch_scan_can_fail():
    assert _patches("service.call = wrapped\n") == ["line 1: service.call = ..."]
    assert _patches("orch.middleware.insert(0, span)\n") == ["line 1: orch.middleware.insert(...)"]
    assert _patches("self.latency = 1\n") == []


def test_publish_middleware_can_add_a_header_and_a_bare_client_bypasses_it():
    seen = []

    async def stamp(message, call_next):
        message.headers = {**message.headers, "stamped": "yes"}
        envelope = await call_next(message)
        seen.append(envelope.id)
        return envelope

    async def main():
        async with Bus() as bus:
            bus.use(stamp, on="publish")
            first = await bus.publish("Ping", {"n": 1})
            second = await bus.publish("Ping", {"n": 2}, bare=True)
            return first, second, repr(bus)

    first, second, shown = run(main())
    assert first.headers == {"stamped": "yes"} and dict(second.headers) == {}
    assert seen == [first.id] and "publish: " in shown and shown.endswith(".stamp>")


def test_a_retried_call_says_why_it_ended_as_data():
    from sagalab.retry import GAVE_UP, NOT_RETRYABLE, retry_call

    async def fails(error):
        raise error

    async def main(error):
        try:
            await retry_call(lambda: fails(error), RetryPolicy(maximum_attempts=3,
                                                               initial_interval=0.1,
                                                               non_retryable_error_types=("ValueError",)))
        except Exception as raised:
            return raised.retry_outcome

    gave_up = run(main(TransientError("503")))
    assert gave_up.verdict == GAVE_UP and [a.attempt for a in gave_up.attempts] == [1, 2, 3]
    refused = run(main(ValueError("bad card")))
    assert refused.verdict == NOT_RETRYABLE and len(refused.attempts) == 1


def test_subscribe_rejects_an_option_no_middleware_reads():
    from sagalab.retry import redelivery

    async def handler(envelope):
        pass

    async def main():
        async with Bus() as bus:
            with pytest.raises(TypeError, match="unknown option.*retires.*reads no options"):
                bus.subscribe("T", handler, retires=RetryPolicy())
            bus.use(redelivery())
            with pytest.raises(TypeError, match="unknown option.*retires.*reads retry, timeout"):
                bus.subscribe("T", handler, retires=RetryPolicy())
            return bus.subscribe("T", handler, retry=RetryPolicy(), timeout=2.0).options

    assert set(run(main())) == {"retry", "timeout"}
