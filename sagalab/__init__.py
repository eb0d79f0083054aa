"""sagalab: orchestration vs choreography, built, broken and measured in notebooks.

The lesson modules are generated from the notebooks' ``#| export`` cells (each file names its
cells); edit the notebook, then run ``python -m sagalab.authoring.nbexport``.

=====================  ==================================================================
module                 built in
=====================  ==================================================================
``runtime``            00 welcome: simulated time, seeded runs and streams, sequential ids,
                       ``caller``, retention (``records``, ``keyed``)
``core``               01 orchestration: ``Extensible``, the one way to extend every core
``services``           01 orchestration (registration services), 02 choreography (the
                       order flow's services)
``orchestrator``       01 orchestration (the conductor); 02 adds ``order_workflow``
``engine``             01b durable engine: history as state, a slot per transition
``bus``                02 choreography: the event bus
``compare``            02 and 02b: driving the order flow, fair comparisons of the styles
``faults``, ``retry``  03 and 03b: fault plans; retry policies, redelivery, idempotency
``trials``             03: repeated experiments over seeds, with 95 % intervals
``saga``, ``sagaview`` 04, 04b and 04c: sagas, orchestrated and choreographed; their timelines
``dlq``, ``dlqshop``   05 and 05b: dead-letter queues, redrive, incidents; the lessons' shop
``outbox``             05b: the transactional outbox, a relay and an inbox
``tracing``            06 and 06b: spans, W3C traceparent, OpenTelemetry
``stuckshop``          06: the stuck-order scenario both tracing parts use
``lag``                06b: consumer lag and oldest-event age, alert rules
``load``               07 and 07b: open and closed loops, capacity, intervals, MVA
``hybrid``             08: orchestrate inside a bounded context, choreograph between
``migration``          08b and 08c: strangler fig, canary, parallel run, interception,
                       branch by abstraction, dual write vs outbox vs change data capture
``durable``            09: a durable journal in SQLite, code replay, the determinism check
``temporal_flows``     09: lesson 04's saga on Temporal: workflows, activities, a worker
``streams``            09b: the order flow on Redis Streams, claims and a dead-letter stream
``controlroom``        10 capstone: one workload, three designs, faults and load on controls
=====================  ==================================================================

Support code, imported by lessons and labs but not built in them: ``checks`` (lab check
cells), ``plots`` (plotly figures), ``prose`` (Markdown stated from computed values),
``tables`` (DataFrames printed compactly, as the lessons' stored outputs show them),
``servers`` (real servers for lesson 09: Redis and the Temporal dev server on 127.0.0.1).
Authoring tools live in ``sagalab.authoring``.
"""
__version__ = "0.1.0"   # as in pyproject.toml
