"""Lesson 06's tracing: trace context, spans, propagation through the orchestrator and the bus,
queries, the waterfall, and OpenTelemetry describing the same tree as the hand-built tracer."""
import asyncio
import contextlib
import re

import pandas as pd
import pytest
from opentelemetry import trace as otel_trace
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from sagalab.bus import Bus, event_log
from sagalab.dlq import DeadLetterQueue
from sagalab.faults import FaultPlan
from sagalab.orchestrator import order_workflow
from sagalab.plots import waterfall
from sagalab.retry import RetryingOrchestrator, RetryPolicy, redelivery
from sagalab.runtime import run
from sagalab.saga import (SagaOrchestrator, keep_answers, order_saga, people,
                          registration_saga)
from sagalab.services import (EmailService, ProfileService, UserService, order_flow,
                              sample_orders)
from sagalab.tracing import (CONSUMER, PRODUCER, SERVER, TRACEPARENT, OtelTracer, SpanContext,
                             Tracer, TraceparentError, cause_links, critical_path,
                             parse_traceparent,
                             trace_bus, trace_dead_letters, trace_of, trace_orchestrator,
                             trace_services, tree)

GOOD = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
HEX32, HEX16 = re.compile(r"[0-9a-f]{32}"), re.compile(r"[0-9a-f]{16}")
DELIVERY = RetryPolicy(maximum_attempts=4, initial_interval=0.2, maximum_interval=2.0,
                       non_retryable_error_types=("ValueError",))


# -- W3C trace context ------------------------------------------------------------------------

HEADERS = {
    GOOD: True,
    f"  {GOOD}\t": True,                                   # optional whitespace around
    GOOD[:-2] + "00": True,                                # not sampled: still valid
    "01" + GOOD[2:] + "-what-comes-next": True,            # a later version may add fields
    GOOD.upper(): False,
    GOOD + "-extra": False,                                # version 00 has exactly 4 fields
    "ff" + GOOD[2:]: False,
    f"00-{'0' * 32}-00f067aa0ba902b7-01": False,
    f"00-4bf92f3577b34da6a3ce929d0e0e4736-{'0' * 16}-01": False,
    "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01": False,   # 31 digits
    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1": False,
    "00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01": False,
    "01" + GOOD[2:] + "x": False,                          # a later version, but no dash
    "": False,
    "hello": False,
    GOOD + " " * 500: False,                               # over 512 characters
}


@pytest.mark.parametrize("header, valid", HEADERS.items(), ids=range(len(HEADERS)))
def test_traceparent_parsing_agrees_with_opentelemetry(header, valid):
    try:
        context = parse_traceparent(header)
    except TraceparentError as error:
        assert not valid, f"rejected a valid header: {error}"
        assert str(error)                                  # the reason is named
    else:
        assert valid, f"accepted an invalid header: {context}"
        assert context.traceparent[3:52] == header.strip()[3:52]
    found = otel_trace.get_current_span(
        TraceContextTextMapPropagator().extract({TRACEPARENT: header})).get_span_context()
    assert found.is_valid == valid


def test_span_context_formats_a_traceparent():
    context = parse_traceparent(GOOD)
    assert context == SpanContext("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", True)
    assert context.traceparent == GOOD
    assert not parse_traceparent(GOOD[:-2] + "00").sampled


# -- spans and the tracer ---------------------------------------------------------------------

async def nested():
    tracer = Tracer()

    async def child(name, seconds):
        with tracer.span(name, service="s"):
            await asyncio.sleep(seconds)

    with tracer.span("root", service="s", kind=SERVER):
        await asyncio.gather(child("a", 1.0), child("b", 2.0))
    with pytest.raises(ValueError):
        with tracer.span("fails", service="s"):
            raise ValueError("boom")
    return tracer


def test_context_follows_tasks_and_times_are_simulated():
    spans = run(nested(), seed=1).frame()
    root, a, b, fails = spans.itertuples()
    assert a.parent_id == b.parent_id == root.span_id
    assert a.trace_id == b.trace_id == root.trace_id != fails.trace_id
    assert (root.start, root.end, a.end, b.end) == (0.0, 2.0, 1.0, 2.0)
    assert fails.parent_id is None or pd.isna(fails.parent_id)
    assert (fails.status, fails.error) == ("error", "ValueError: boom")
    assert all(HEX32.fullmatch(t) for t in spans.trace_id)
    assert all(HEX16.fullmatch(s) for s in spans.span_id)


def test_ids_are_the_same_on_every_run_and_differ_between_seeds():
    first, again, other = (run(nested(), seed=s).frame() for s in (1, 1, 2))
    assert first.equals(again)
    assert not set(first.span_id) & set(other.span_id)


def test_inject_and_extract_round_trip():
    async def go():
        tracer = Tracer()
        with tracer.span("send", service="s", kind=PRODUCER) as span:
            headers = tracer.inject({"other": "kept"})
        assert headers["other"] == "kept"
        assert tracer.extract(headers) == (span.context, None)
        assert tracer.extract({}) == (None, None)
        context, reason = tracer.extract({TRACEPARENT: "nonsense"})
        assert context is None and "field" in reason
        assert tracer.inject() == {}               # no current span: nothing to carry
    run(go(), seed=0)


# -- through the orchestrator -----------------------------------------------------------------

async def orchestrated(n=3, faults=None, retry=None):
    tracer = Tracer()
    flow = order_flow()
    if faults is not None:
        faults.attach(flow.payments)
    orchestrator = RetryingOrchestrator(order_workflow(flow), retry=retry)
    trace_services(tracer, *flow.services, flow.notifications.emails)
    trace_orchestrator(tracer, orchestrator)

    async def checkout(order):
        with tracer.span("checkout", service="Shop", kind=SERVER):
            await orchestrator.run(order)

    await asyncio.gather(*(checkout(o) for o in sample_orders(n)))
    return tracer, orchestrator


def test_orchestrated_trace_is_checkout_instance_steps_requests():
    tracer, orchestrator = run(orchestrated(), seed=3)
    spans = tracer.frame()
    assert spans.trace_id.nunique() == 3
    one = tree(trace_of(spans, "flow-0001"))
    assert list(zip(one.depth, one.name, one.service)) == [
        (0, "checkout", "Shop"), (1, "order workflow", "Orchestrator"),
        *[row for step, service in [("place_order", "Order Service"), ("charge", "Payment Service"),
                                    ("reserve", "Inventory Service"),
                                    ("create_shipment", "Shipment Service"),
                                    ("notify_shipped", "Email Service")]
          for row in [(2, step, "Orchestrator"), (3, step, "Orchestrator"), (4, step, service)]]]
    # each call: the step, the orchestrator's client span, the service's server span (06-T3)
    kinds = one.set_index(["depth", "name"]).kind
    assert kinds[(3, "charge")] == "client" and kinds[(4, "charge")] == SERVER
    client = one[(one.depth == 3) & (one.name == "charge")].iloc[0]
    assert client.attributes["server.address"] == "Payment Service"
    charge, reserve = (one[one.name == n].iloc[0] for n in ("charge", "reserve"))
    assert charge.start == reserve.start                  # the parallel group
    steps = orchestrator.steps_frame().query("instance == 'flow-0001'").set_index("name")
    for step in ("charge", "reserve", "create_shipment"):
        span = one[(one.name == step) & (one.service == "Orchestrator")].iloc[0]
        assert (span.start, span.end) == (steps.start[step], steps.end[step])


def test_a_retried_step_is_one_span_with_every_attempt_inside():
    policy = RetryPolicy(maximum_attempts=3, initial_interval=0.1)
    tracer, _ = run(orchestrated(n=1, faults=FaultPlan(script=["error", "error"]), retry=policy), seed=3)
    one = tree(tracer.frame())
    step = one[(one.name == "charge") & (one.service == "Orchestrator") & (one.kind == "internal")]
    requests = one[one.parent_id == step.span_id.iloc[0]]          # a client span per attempt
    assert set(requests.kind) == {"client"}
    servers = one[one.parent_id.isin(requests.span_id)]
    assert list(servers.status) == ["error", "error", "ok"] and set(servers.kind) == {SERVER}
    assert len(step) == 1 and step.status.iloc[0] == "ok"
    assert list(requests.status) == ["error", "error", "ok"]
    assert requests.error.iloc[0].startswith("TransientError")


def test_a_failed_instance_and_its_compensations_are_spans():
    async def go():
        tracer = Tracer()
        users, emails, profiles = (keep_answers(s) for s in (UserService(), EmailService(),
                                                             ProfileService()))
        orchestrator = SagaOrchestrator(registration_saga(users, emails, profiles))
        trace_services(tracer, users, emails, profiles)
        trace_orchestrator(tracer, orchestrator)
        for person in people(3):
            person["email"] = person["email"].replace("@", "-at-")     # every e-mail fails
            orchestrator.start(person)
        await orchestrator.wait()
        return tracer, orchestrator

    tracer, orchestrator = run(go(), seed=4)
    spans = tracer.frame()
    for instance in orchestrator.instances.values():
        assert instance.status == "compensated"
        mine = spans[spans.trace_id == spans[spans.key == instance.id].trace_id.iloc[0]]
        workflow = mine[mine.name == "registration workflow"].iloc[0]
        assert workflow.status == "error" and workflow.attributes["workflow.status"] == "compensated"
        undos = mine[mine.name.str.startswith("undo ")]
        assert list(undos.name) == ["undo send_verification", "undo create_user"]
        assert (undos.parent_id == workflow.span_id).all()
        assert all(a["saga.compensation"] for a in undos.attributes)


# -- through the bus ----------------------------------------------------------------------------

async def choreographed(n=3, every=1.0, tracers=None, shipment_errors=0.0):
    tracers = tracers if tracers is not None else [Tracer()]
    async with Bus() as bus:
        bus.use(redelivery(DELIVERY))
        flow = order_flow(bus)
        FaultPlan(error_rate=shipment_errors).attach(flow.shipments)
        for tracer in tracers:
            trace_services(tracer, *flow.services, flow.notifications.emails)
            trace_bus(tracer, bus, joins=["Shipment Service"])

        async def checkout(order):
            with contextlib.ExitStack() as stack:
                spans = [stack.enter_context(t.span("checkout", service="Shop", kind=SERVER))
                         for t in tracers]
                order_id = await flow.orders.place_order(**order)
                for span in spans:
                    span.set_attribute("order.id", order_id)

        for order in sample_orders(n):
            asyncio.create_task(checkout(order))
            await asyncio.sleep(every)
        await bus.drain()
    return tracers, bus, flow


def test_every_event_carries_its_send_span_and_every_delivery_is_its_child():
    (tracer,), bus, _ = run(choreographed(), seed=7)
    spans = tracer.frame().set_index("span_id")
    for envelope in bus.log:
        context = parse_traceparent(envelope.headers[TRACEPARENT])
        send = spans.loc[context.span_id]
        assert (send["name"], send.kind, send.trace_id) == (f"send {envelope.topic}", PRODUCER,
                                                            context.trace_id)
        assert send.attributes["messaging.message.id"] == envelope.id
        consumers = spans[(spans.kind == CONSUMER)
                          & (spans.attributes.map(lambda a: a.get("messaging.message.id")) == envelope.id)]
        assert len(consumers) == sum(envelope.topic in s.topics for s in bus.subscriptions)
        assert (consumers.parent_id == context.span_id).all()
        assert set(consumers.service) == {s.group for s in bus.subscriptions
                                          if envelope.topic in s.topics}
    assert spans.groupby("trace_id").size().nunique() == 1          # one trace per order, alike


def test_the_shipment_links_to_both_of_its_causes():
    (tracer,), _, _ = run(choreographed(n=1), seed=7)
    spans = tracer.frame()
    by_id = spans.set_index("span_id").name
    shipment = spans[spans.name == "send ShipmentCreated"].iloc[0]
    assert sorted(by_id[shipment.links]) == ["send InventoryReserved", "send PaymentProcessed"]
    # every consumer span links to the creation context it is the child of (the messaging
    # conventions' recommendation); nothing else has links
    consumers = spans[spans.kind == CONSUMER]
    assert all(links == [parent] for links, parent in zip(consumers.links, consumers.parent_id))
    others = spans[(spans.kind != CONSUMER) & (spans.name != "send ShipmentCreated")]
    assert (others.links.map(len) == 0).all()


def test_tracing_changes_nothing_in_the_run():
    async def untraced():
        return None, *(await choreographed(tracers=[]))[1:]
    _, plain_bus, plain_flow = run(untraced(), seed=7)
    _, traced_bus, traced_flow = run(choreographed(), seed=7)
    assert plain_flow.table().equals(traced_flow.table())
    assert event_log(plain_bus).drop(columns="headers").equals(
        event_log(traced_bus).drop(columns="headers"))


@pytest.mark.parametrize("headers, rejected", [
    ({TRACEPARENT: GOOD}, None), ({TRACEPARENT: "00-NOT-VALID-01"}, "00-NOT-VALID-01"),
    ({TRACEPARENT: "ff" + GOOD[2:]}, "ff" + GOOD[2:]), ({}, None)])
def test_a_bad_traceparent_starts_a_new_trace_and_the_event_is_handled(headers, rejected):
    async def go():
        tracer, handled = Tracer(), []

        async def handler(event):
            handled.append(event.id)

        async with Bus() as bus:
            trace_bus(tracer, bus)
            bus.subscribe("Paid", handler, group="Fulfilment")
            await bus.publish("Paid", {}, key="order-1", headers=headers, bare=True)  # not traced
            await bus.drain()
        return tracer.frame(), handled, bus.failures

    spans, handled, failures = run(go(), seed=0)
    (span,) = spans.itertuples()
    assert handled == ["evt-0001"] and not failures and span.status == "ok"
    assert span.attributes.get("sagalab.traceparent.rejected") == rejected
    if headers.get(TRACEPARENT) == GOOD:
        assert (span.trace_id, span.parent_id) == (GOOD[3:35], GOOD[36:52])
    else:
        assert pd.isna(span.parent_id) and span.trace_id != GOOD[3:35]
        assert ("sagalab.traceparent.reason" in span.attributes) == (rejected is not None)


def test_each_redelivery_is_a_span_of_its_own():
    (tracer,), _, _ = run(choreographed(n=20, every=0.5, shipment_errors=0.3), seed=7)
    spans = tracer.frame()
    counts = spans.attributes.map(lambda a: a.get("sagalab.delivery.count", 0))
    again = spans[counts > 1]
    assert len(again) > 0
    for span in again.itertuples():            # same event, same parent, later, one more each
        first = spans[(spans.attributes.map(lambda a: a.get("messaging.message.id"))
                       == span.attributes["messaging.message.id"])
                      & (spans.service == span.service) & (counts == 1)].iloc[0]
        assert span.parent_id == first.parent_id and span.start > first.start


def test_stuck_orders_are_visible_in_their_traces():
    (tracer,), bus, flow = run(choreographed(n=60, every=0.5, shipment_errors=0.1), seed=6)
    spans = tracer.frame()
    never = set(flow.table().query("notified != notified").order)
    assert never and not bus.failures                     # lesson 02's join: silent
    for order in never:
        trace = trace_of(spans, order)
        assert not (trace.name == "notify_shipped").any()
        assert (trace.status == "error").any()


def test_a_dead_letter_is_a_span_in_its_events_trace():
    async def go():
        tracer = Tracer()
        async with Bus() as bus:
            dlq = trace_dead_letters(tracer, DeadLetterQueue())
            dlq.install(bus, retry=DELIVERY)
            flow = order_saga(bus)
            trace_services(tracer, *flow.services, flow.notifications.emails)
            trace_bus(tracer, bus, joins=("Shipment Service", "Order Service"))
            order = sample_orders(1)[0] | {"customer": "not-an-address"}
            with tracer.span("checkout", service="Shop", kind=SERVER):
                await flow.orders.place_order(**order)
            await bus.drain()
        return tracer.frame(), dlq

    spans, dlq = run(go(), seed=0)
    (letter,) = dlq.letters.values()
    dead = spans[spans.name.str.startswith("dead-letter")]
    assert list(dead.name) == ["dead-letter ShipmentCreated"] and dead.status.iloc[0] == "error"
    assert dead.attributes.iloc[0]["sagalab.dead_letter.reason"] == letter.reason == "rejected"
    send = spans[spans.name == "send ShipmentCreated"].iloc[0]
    assert dead.parent_id.iloc[0] == send.span_id and spans.trace_id.nunique() == 1
    links = spans[spans.name == "send OrderCompleted"].links.iloc[0]
    assert len(links) == 3                 # the Order Service heard three events about it


# -- queries and the waterfall ----------------------------------------------------------------

def test_tree_puts_children_under_parents_and_critical_path_ends_last():
    (tracer,), _, _ = run(choreographed(n=1), seed=7)
    spans = tracer.frame()
    ordered = tree(spans)
    position = dict(zip(ordered.span_id, ordered.index))
    for span in ordered.itertuples():
        if span.parent_id in position:
            assert position[span.parent_id] < span.Index
            assert span.depth == ordered.depth[position[span.parent_id]] + 1
    path = critical_path(spans)
    assert path.name.iloc[0] == "checkout" and path.end.iloc[-1] == spans.end.max()
    assert list(path.parent_id.iloc[1:]) == list(path.span_id.iloc[:-1])


def test_critical_path_prefers_spans_in_flight():
    spans = pd.DataFrame({"span_id": ["r", "a", "b"], "parent_id": [None, "r", "r"],
                          "start": [0.0, 0.1, 0.1], "end": [0.2, None, 5.0]})
    assert list(critical_path(spans).span_id) == ["r", "a"]


def test_waterfall_draws_every_span_and_the_links():
    (tracer,), _, _ = run(choreographed(n=1), seed=7)
    spans = tracer.frame()
    fig = waterfall(cause_links(spans), title="one order", now=1.0)     # causes, not parents
    drawn = sum(len(t.y) for t in fig.data if t.name != "link")
    assert drawn == len(spans)
    (link,) = [t for t in fig.data if t.name == "link"]
    assert sum(x is None for x in link.x) == 2               # two links, one segment each
    assert len(fig.layout.annotations) >= len(spans)         # a label per row


# -- OpenTelemetry ----------------------------------------------------------------------------

def test_opentelemetry_and_the_hand_built_tracer_describe_the_same_tree():
    """One run, both tracers on it: the same ids, parents, names, services, kinds, times,
    statuses, errors, keys, links and attributes."""
    async def go():
        hand, otel = Tracer(), OtelTracer()
        _, bus, _ = await choreographed(n=10, every=0.5, tracers=[hand, otel], shipment_errors=0.3)
        return hand, otel, bus

    hand, otel, bus = run(go(), seed=7)
    ours, theirs = hand.frame(), otel.frame()
    assert len(ours) == len(theirs) == len(otel.exporter.get_finished_spans()) > 100
    columns = ["trace_id", "span_id", "parent_id", "name", "service", "kind", "status", "error",
               "key", "links", "attributes"]
    pd.testing.assert_frame_equal(ours[columns], theirs[columns])
    assert (ours[["start", "end"]] - theirs[["start", "end"]]).abs().max().max() < 1e-9
    assert (ours.status == "error").any() and (ours.links.map(len) > 0).any()
    # and OpenTelemetry's propagator put the same W3C header on the wire
    for envelope in bus.log:
        assert parse_traceparent(envelope.headers[TRACEPARENT]).span_id in set(theirs.span_id)


def test_opentelemetry_spans_follow_the_messaging_conventions():
    async def go():
        otel = OtelTracer()
        await choreographed(n=1, tracers=[otel])
        return otel

    otel = run(go(), seed=7)
    finished = {s.name: s for s in otel.exporter.get_finished_spans()}
    send, process = finished["send OrderPlaced"], finished["process ShipmentCreated"]
    assert send.kind == otel_trace.SpanKind.PRODUCER and process.kind == otel_trace.SpanKind.CONSUMER
    assert send.attributes["messaging.operation.type"] == "send"
    assert process.attributes["messaging.consumer.group.name"] == "Notification Service"
    assert process.resource.attributes["service.name"] == "Notification Service"
    assert len(finished["send ShipmentCreated"].links) == 2
    assert finished["checkout"].start_time == 0 and send.start_time == send.end_time > 0
    assert type(otel_trace.get_tracer_provider()).__name__ == "ProxyTracerProvider"  # not set
    assert set(otel.providers) == {s.resource.attributes["service.name"]
                                   for s in otel.exporter.get_finished_spans()}
    assert send.attributes["messaging.operation.name"] == "publish"
    assert process.attributes["messaging.operation.name"] == "handle"
    assert [link.context.span_id for link in process.links] == [process.parent.span_id]


def test_opentelemetry_times_are_the_simulated_clock():
    async def go():
        otel = OtelTracer()
        with otel.span("wait", service="s"):
            await asyncio.sleep(2.5)
        return otel

    (span,) = run(go(), seed=0).exporter.get_finished_spans()
    assert (span.start_time, span.end_time) == (0, 2_500_000_000)


def test_a_redriven_event_links_to_its_dead_letter_span():
    from sagalab.dlq import redrive

    async def go():
        tracer, fixed = Tracer(), []
        async with Bus() as bus:
            dlq = DeadLetterQueue()
            trace_dead_letters(tracer, dlq)
            dlq.install(bus, retry=RetryPolicy(maximum_attempts=2, initial_interval=0.1))
            trace_bus(tracer, bus)

            async def handler(event):
                if not fixed:
                    raise KeyError("not yet")

            bus.subscribe("Paid", handler, group="Fulfilment")
            await bus.publish("Paid", {}, key="order-1", source="Shop")
            await bus.drain()
            fixed.append(True)
            await redrive(dlq)
            await bus.drain()
        return tracer.frame()

    spans = run(go(), seed=5)
    dead = spans[spans.name == "dead-letter Paid"].iloc[0]
    *failed, redriven = spans[spans.name == "process Paid"].itertuples()
    assert dead.attributes["messaging.operation.name"] == "dead_letter"
    assert all(f.links == [f.parent_id] for f in failed)
    assert redriven.status == "ok" and redriven.links == [redriven.parent_id, dead.span_id]


def test_head_sampling_drops_whole_traces_and_keeps_the_rest_intact():
    from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

    async def go():
        otel = OtelTracer(sampler=ParentBased(TraceIdRatioBased(0.3)))
        await choreographed(n=20, every=0.5, tracers=[otel])
        return otel

    otel = run(go(), seed=7)
    spans = otel.frame()
    roots = spans[spans.name == "checkout"]
    assert 0 < len(roots) < 20                                  # some orders traced, not all
    assert spans.groupby("trace_id").size().nunique() == 1      # every kept trace is whole
    assert set(spans.trace_id) == set(roots.trace_id)
