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
    # Exercise 2 — a tail-sampling policy
    Mutant("Exercise 2", "slow judged by the longest span, not the trace's length",
           "if trace.end.max() - trace.start.min() > SLOW:", "if trace.duration.max() > SLOW:"),
    Mutant("Exercise 2", "slow judged by the root span alone",
           "if trace.end.max() - trace.start.min() > SLOW:",
           "if trace.end.iloc[0] - trace.start.iloc[0] > SLOW:"),
    Mutant("Exercise 2", "the share taken above the bound (keeps nine in ten)",
           "return int(trace.trace_id.iloc[0][-16:], 16) < RATIO * 2**64",
           "return int(trace.trace_id.iloc[0][-16:], 16) > RATIO * 2**64"),
    Mutant("Exercise 2", "the share read from the first 16 hex digits, not the lower 64 bits",
           "return int(trace.trace_id.iloc[0][-16:], 16) < RATIO * 2**64",
           "return int(trace.trace_id.iloc[0][:16], 16) < RATIO * 2**64"),
    Mutant("Exercise 2", "a failed span looked for under the wrong status",
           'if (trace.status == "error").any():', 'if (trace.status == "failed").any():'),
    Mutant("Exercise 2", "no share at all: only failed and slow traces kept",
           "return int(trace.trace_id.iloc[0][-16:], 16) < RATIO * 2**64", "return False"),
    # Exercise 3 — an alert rule for the warehouse
    Mutant("Exercise 3", "lesson 06's lag rule as it was (pages for the sale)",
           'return AlertRule("oldest_age", above=20, for_seconds=5)',
           'return AlertRule("lag", above=5, for_seconds=3)'),
    Mutant("Exercise 3", "lag held for longer (the stall pages too late)",
           'return AlertRule("oldest_age", above=20, for_seconds=5)',
           'return AlertRule("lag", above=5, for_seconds=30)'),
    Mutant("Exercise 3", "lag above the sale's peak (the stall never pages)",
           'return AlertRule("oldest_age", above=20, for_seconds=5)',
           'return AlertRule("lag", above=60, for_seconds=0)'),
    Mutant("Exercise 3", "the age threshold too low (pages for the sale)",
           'return AlertRule("oldest_age", above=20, for_seconds=5)',
           'return AlertRule("oldest_age", above=3, for_seconds=0)'),
    Mutant("Exercise 3", "the age held too long (the stall pages after 30 s)",
           'return AlertRule("oldest_age", above=20, for_seconds=5)',
           'return AlertRule("oldest_age", above=20, for_seconds=20)'),
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
