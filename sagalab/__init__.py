"""sagalab: orchestration vs choreography, built, broken and measured in notebooks.

The lesson modules are generated from the notebooks' ``#| export`` cells (each file names its
cells); edit the notebook, then run ``python -m sagalab.authoring.nbexport``.

=====================  ==================================================================
module                 built in
=====================  ==================================================================
``runtime``            00 welcome: simulated time, seeded runs and streams, sequential ids,
                       ``caller``
``core``               01 orchestration: ``Extensible``, the one way to extend every core
``services``           01 orchestration (registration services), 02 choreography (the
                       order flow's services)
``orchestrator``       01 orchestration (the conductor); 02 adds ``order_workflow``
``bus``                02 choreography: the event bus
``faults``, ``retry``  03 failures: fault plans; retry policies, redelivery, idempotency
``saga``               04 compensation: sagas, orchestrated and choreographed
``dlq``                05 dead letters: dead-letter queues, redrive, incidents
``tracing``            06 tracing: spans, W3C traceparent, OpenTelemetry
``load``               07 load testing: open and closed loops, capacity, percentiles
=====================  ==================================================================

Support code, imported by lessons and labs but not built in them: ``checks`` (lab check
cells), ``plots`` (plotly figures), ``prose`` (Markdown stated from computed values). Authoring tools live in ``sagalab.authoring``.
"""
__version__ = "0.1.0"   # as in pyproject.toml
