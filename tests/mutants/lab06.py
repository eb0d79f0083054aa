"""Wrong answers for lab 06 (tracing)."""
from mutants import Mutant

MUTANTS = [
    # Exercise 1 — continue the trace through a new subscriber
    Mutant("Exercise 1", "the trace context not propagated (parent= not passed)",
           "                         parent=parent,\n", ""),
    Mutant("Exercise 1", "headers injected before the producer span opens",
           '            with tracer.span("send PointsAwarded", service="Loyalty Service", kind=PRODUCER):\n'
           '                await bus.publish("PointsAwarded", {"order_id": event.payload["order_id"],\n'
           '                                                    "points": points},\n'
           '                                  key=event.key, headers=tracer.inject())',
           '            headers = tracer.inject()\n'
           '            with tracer.span("send PointsAwarded", service="Loyalty Service", kind=PRODUCER):\n'
           '                await bus.publish("PointsAwarded", {"order_id": event.payload["order_id"],\n'
           '                                                    "points": points},\n'
           '                                  key=event.key, headers=headers)'),
    Mutant("Exercise 1", "PointsAwarded published without headers",
           "key=event.key, headers=tracer.inject())", "key=event.key)"),
    Mutant("Exercise 1", "publish not awaited",
           '                await bus.publish("PointsAwarded",', '                bus.publish("PointsAwarded",'),
    Mutant("Exercise 1", "the reason recorded instead of the rejected header",
           'span.set_attribute("sagalab.traceparent.rejected", event.headers[TRACEPARENT])',
           'span.set_attribute("sagalab.traceparent.rejected", rejected)'),
    Mutant("Exercise 1", "points rounded to the nearest instead of down",
           'points = int(event.payload["amount"])', 'points = round(event.payload["amount"])'),
    Mutant("Exercise 1", "a server span instead of a consumer span",
           'service="Loyalty Service", kind=CONSUMER,', 'service="Loyalty Service", kind=SERVER,'),
    # Exercise 2 — the critical path
    Mutant("Exercise 2", "a span in flight counted as ended at 0",
           'ends = spans.end.fillna(float("inf")).to_list()', "ends = spans.end.fillna(0).to_list()"),
    Mutant("Exercise 2", "a tie goes to the first row (max of end alone)",
           "key=lambda i: (ends[i], i))", "key=lambda i: ends[i])"),
    Mutant("Exercise 2", "the path returned leaf first",
           "    return path[::-1]", "    return path"),
    Mutant("Exercise 2", "the walk stops only at parent None (a missing parent kept)",
           "while parents.get(path[-1]) in parents:", "while parents.get(path[-1]) is not None:"),
    Mutant("Exercise 2", "the span that started last instead of ended last",
           'ends = spans.end.fillna(float("inf")).to_list()', "ends = spans.start.to_list()"),
    # Exercise 3 — where the time went
    Mutant("Exercise 3", "each span's own duration instead of what it holds",
           "budget[who] = budget.get(who, 0.0) + starts[i + 1] - starts[i]",
           "budget[who] = budget.get(who, 0.0) + path.end.iloc[i] - path.start.iloc[i]"),
    Mutant("Exercise 3", "sends counted for their service, not as queue",
           'who = "queue" if kind == PRODUCER else service', "who = service"),
    Mutant("Exercise 3", "off by one: the last span holds nothing",
           "starts = list(path.start) + [path.end.iloc[-1]]",
           "starts = list(path.start) + [path.start.iloc[-1]]"),
    Mutant("Exercise 3", "every span of the trace, not the critical path",
           'path = spans.set_index("span_id").loc[critical_path_ids(spans)]',
           'path = spans.set_index("span_id")'),
    # Exercise 4 — find the stuck orders
    Mutant("Exercise 4", "any notify_shipped span counts as done, even a failed one",
           '((trace.name == "notify_shipped") & (trace.status == "ok")).any()',
           '(trace.name == "notify_shipped").any()'),
    Mutant("Exercise 4", "the first failed span instead of the last",
           "failed.error.iloc[-1]", "failed.error.iloc[0]"),
    Mutant("Exercise 4", "the failed span that started last, not ended last",
           'sort_values("end", kind="stable")', 'sort_values("start", kind="stable")'),
    Mutant("Exercise 4", "the last failed span in table order (not sorted by end)",
           '.sort_values("end", kind="stable")', ""),
    Mutant("Exercise 4", "a silent order (no failed span) left out",
           "        stuck[order] = failed.error.iloc[-1] if len(failed) else None",
           "        if len(failed):\n            stuck[order] = failed.error.iloc[-1]"),
]
