"""The control room (lesson 10, sagalab/controlroom.py): fair, reproducible, and able to fail.

Small workloads (30 orders, 2 seeds) keep these fast; each test states what it would catch."""
from __future__ import annotations

from dataclasses import replace

import pytest

from sagalab.controlroom import (
    COMPENSATED,
    DEAD,
    DESIGNS,
    PATIENCE,
    PRESETS,
    ControlError,
    Controls,
    Knobs,
    _target,
    control_room,
    design_trial,
    measures,
    outcomes,
    preset,
    ranking,
    report,
    violations,
)
from sagalab.hybrid import CHAIN

SMALL = dict(orders=30, seeds=(0, 1))


def test_same_seed_same_numbers_and_another_seed_differs():
    knobs = Knobs(fault_rate=0.2, **SMALL)
    first = measures(design_trial("hybrid", knobs, seed=3))
    assert measures(design_trial("hybrid", knobs, seed=3)) == first
    assert measures(design_trial("hybrid", knobs, seed=4)) != first


def test_every_design_meets_the_same_faults_per_service():
    knobs = Knobs(fault_rate=0.3, attempts=2, **SMALL)
    trials = {d: design_trial(d, knobs, seed=1) for d in DESIGNS}
    for stage in CHAIN:
        logs = [trials[d].ledger.requests[_target(trials[d].services, stage.service).name][:15]
                for d in DESIGNS]
        assert len(logs[0]) == 15
        assert logs[0] == logs[1] == logs[2], stage.service
        assert any(o != "ok" for o in logs[0]), f"{stage.service}: no fault to compare"


def test_a_saga_compensates_parks_and_keeps_its_invariants():
    knobs = Knobs(fault_rate=0.3, attempts=2, **SMALL)
    for design in DESIGNS:
        trial = design_trial(design, knobs, seed=0)
        counts = outcomes(trial)
        assert sum(counts.values()) == knobs.orders
        assert counts[COMPENSATED] > 0 and counts["unfinished"] == 0
        assert all(not orders for orders in violations(trial).values()), design
        refunds = trial.services["Payment Service"].refunds
        compensated = [o for o, why in trial.ledger.outcome.items() if why == COMPENSATED]
        charged = [o for o in compensated if o in trial.services["Payment Service"].payments]
        assert charged and all(o in refunds for o in charged)


def test_invariants_catch_planted_violations():
    trial = design_trial("choreographed", Knobs(fault_rate=0.3, attempts=2, **SMALL), seed=0)
    pay, stock = trial.services["Payment Service"], trial.services["Inventory Service"]
    refunded = next(o for o in pay.refunds if trial.ledger.outcome.get(o) == COMPENSATED)
    del pay.refunds[refunded]
    released = next(o for o in stock.releases if trial.ledger.outcome.get(o) == COMPENSATED)
    del stock.releases[released]
    ended = next(o for o, why in trial.ledger.outcome.items() if why == COMPENSATED)
    del trial.ledger.outcome[ended]
    found = violations(trial)
    assert refunded in found["money kept for an unshipped order"]
    assert released in found["stock held for an unshipped order"]
    assert ended in found["orphan order (placed, never ended)"]


def test_a_dead_letter_is_flagged_not_a_violation():
    trial = design_trial("orchestrated", Knobs(fault_rate=0.5, attempts=1, **SMALL), seed=2)
    assert trial.ledger.dead, "expected a parked order at a 50 % fault rate and one attempt"
    assert outcomes(trial)[DEAD] == len({o for o, _, _ in trial.ledger.dead})
    assert not any(violations(trial).values())


@pytest.mark.parametrize("change, words", [
    ({"rate": 0}, "rate"), ({"orders": 5}, "orders"), ({"orders": 10.5}, "orders"),
    ({"fault_rate": 1.0}, "fault_rate"), ({"outage": "Payments"}, "outage"),
    ({"outage_mode": "sometimes"}, "outage_mode"), ({"attempts": 0}, "attempts"),
    ({"jitter": "half"}, "jitter"), ({"budget": -1}, "budget"), ({"consumers": 0}, "consumers"),
    ({"hop": -0.1}, "hop"), ({"transition": "fast"}, "transition"), ({"client": "sync"}, "client"),
    ({"seeds": (1,)}, "seeds"), ({"seeds": [0, 1]}, "seeds"), ({"attempts": True}, "attempts"),
])
def test_bad_control_values_are_refused_naming_the_control(change, words):
    with pytest.raises(ControlError, match=words):
        Knobs(**change)
    with pytest.raises(ControlError, match="preset"):
        preset("the outbox")


def test_the_outage_is_the_counterpart_failure_in_each_design():
    k = Knobs(outage="coordinator", outage_length=10)
    assert [k.down(d) for d in DESIGNS] == ["central engine", "broker", "broker"]
    k = Knobs(outage="engine", outage_length=10)
    assert [k.down(d) for d in DESIGNS] == ["central engine", None, "Fulfilment engine"]
    assert Knobs(outage="broker", outage_length=10).down("orchestrated") is None
    assert Knobs(outage="Payment Service", outage_length=0).down("hybrid") is None


def test_an_outage_stalls_what_goes_through_it_and_everything_catches_up():
    base = Knobs(fault_rate=0.0, **SMALL)
    hit = Knobs(fault_rate=0.0, outage="coordinator", outage_start=5, outage_length=20, **SMALL)
    for design in DESIGNS:
        before, after = (measures(design_trial(design, k, seed=0)) for k in (base, hit))
        assert after["p95"] > before["p95"] + 5, design
        assert after["completed"] == before["completed"] == base.orders


def test_a_refused_outage_turns_into_retries():
    calm = Knobs(fault_rate=0.0, **SMALL)
    storm = preset("a retry storm", outage_start=3.0, **SMALL)
    for design in DESIGNS:
        a, b = (measures(design_trial(design, k, seed=0)) for k in (calm, storm))
        assert b["requests/order"] > a["requests/order"], design
        if design == "orchestrated":   # a consumer retrying in place holds its partition instead
            assert b["requests/order"] > a["requests/order"] + 0.5


def test_costs_per_order_follow_the_design():
    room = control_room(Knobs(fault_rate=0.0, **SMALL))
    per = room.frame.groupby("design")[["hops/order", "transitions/order"]].mean()
    stages = len(CHAIN)
    assert per.loc["orchestrated"].tolist() == [0, stages]
    assert per.loc["choreographed"].tolist() == [stages, 0]
    assert per.loc["hybrid"].tolist() == [4, 3]       # 4 segments: 4 publishes; 3 engine steps


def test_ranking_reads_intervals():
    room = control_room(Knobs(**SMALL))
    room.frame.loc[room.frame.design == "orchestrated", "p95"] = [3.0, 3.1]
    room.frame.loc[room.frame.design == "choreographed", "p95"] = [3.0, 3.2]
    room.frame.loc[room.frame.design == "hybrid", "p95"] = [100.0, 101.0]
    said = ranking(room, "p95")
    assert said["hybrid"] == "worst"
    assert said["orchestrated"] == "within the interval of choreographed"
    room.frame.loc[room.frame.design == "hybrid", "p95"] = [0.001, 0.002]
    assert ranking(room, "p95")["hybrid"] == "best"
    assert ranking(room, "p95", lower_is_better=False)["hybrid"] == "worst"


def test_report_prints_every_panel_and_labels_a_transient():
    text = report(control_room(Knobs(rate=4.0, **SMALL)))
    for panel in ("latency", "throughput", "peak backlog per stage", "outcomes",
                  "calls per order", "invariants", "verdicts", "TRANSIENT"):
        assert panel in text, panel
    assert "TRANSIENT" not in report(control_room(Knobs(rate=1.0, **SMALL)))


def test_presets_are_valid_and_link_to_an_existing_lesson():
    from pathlib import Path
    notebooks = Path(__file__).resolve().parents[1] / "notebooks"
    for name, p in PRESETS.items():
        assert (notebooks / p.lesson).exists(), p.lesson
        preset(name)


def test_controls_cover_every_knob_and_a_preset_sets_them_then_redraws(monkeypatch):
    import dataclasses
    import plotly.io as pio
    monkeypatch.setattr(pio.renderers, "default", "json")
    ui = Controls(Knobs(**SMALL))
    assert set(ui.widgets) == {f.name for f in dataclasses.fields(Knobs)} - {"orders", "seeds"}
    ui.preset.value = "a retry storm"
    assert ui.widgets["attempts"].value == 8 and ui.widgets["jitter"].value == "none"
    assert ui.room is not None and ui.room.knobs == preset("a retry storm", **SMALL)
    assert "03b_redelivery_and_idempotency.ipynb" in ui.link.value
    ui.widgets["attempts"].value = 3
    assert ui.room.knobs.attempts == 3
    ui.widgets["budget"].value = "20 %"
    assert ui.room.knobs.budget == 0.2
    with pytest.raises(ControlError, match="retry budget"):
        Controls(Knobs(budget=0.3, **SMALL))


def test_a_dual_write_loses_events_where_services_react_and_the_outbox_does_not():
    lossy = Knobs(crash_rate=0.1, delivery="dual write", fault_rate=0.0, **SMALL)
    safe = Knobs(crash_rate=0.1, delivery="outbox", fault_rate=0.0, **SMALL)
    lost = {d: design_trial(d, lossy, seed=0) for d in DESIGNS}
    assert lost["orchestrated"].ledger.crashes == {"retried by the engine": sum(
        lost["orchestrated"].ledger.crashes.values())}
    assert outcomes(lost["orchestrated"])["unfinished"] == 0
    for design in ("choreographed", "hybrid"):
        n = lost[design].ledger.crashes["event lost (dual write)"]
        assert n > 0 and outcomes(lost[design])["unfinished"] == n
        assert violations(lost[design])["orphan order (placed, never ended)"]
    for design in DESIGNS:
        trial = design_trial(design, safe, seed=0)
        assert trial.ledger.crashes and not any(violations(trial).values())
        assert outcomes(trial)["completed"] == safe.orders
    with pytest.raises(ControlError, match="delivery"):
        Knobs(delivery="twice")
    with pytest.raises(ControlError, match="crash_rate"):
        Knobs(crash_rate=0.9)


def test_the_same_completions_crash_in_every_design():
    knobs = Knobs(crash_rate=0.2, delivery="outbox", fault_rate=0.0, **SMALL)
    counts = [sum(design_trial(d, knobs, seed=5).ledger.crashes.values()) for d in DESIGNS]
    assert counts[0] == counts[1] == counts[2] > 0


def test_the_clients_answer_is_the_contract_not_the_style():
    ack = measures(design_trial("orchestrated", Knobs(transition=0.03, **SMALL), seed=0))
    waits = measures(design_trial("orchestrated", Knobs(transition=0.03, client="waits", **SMALL),
                                  seed=0))
    event = measures(design_trial("choreographed", Knobs(client="waits", **SMALL), seed=0))
    assert ack["answer p50"] == pytest.approx(0.03)
    assert waits["answer p50"] == pytest.approx(waits["p50"])
    assert 0.05 < event["answer p50"] < 0.2 < waits["answer p50"]


def _in_flight(trial):
    """The most orders placed and not yet ended at one time, from the shop's own records."""
    shop = trial.shop
    events = sorted([(t, 1) for t in shop.arrived.values()] + [(t, -1) for t in shop.ends.values()])
    most = now = 0
    for _, step in events:
        now += step
        most = max(most, now)
    return most


CLOSED = dict(arrival="closed", customers=3, think=1.0, **SMALL)


def test_a_closed_loop_places_every_order_at_most_customers_at_once_and_hears_every_end():
    knobs = Knobs(fault_rate=0.3, attempts=2, **CLOSED)
    for design in DESIGNS:
        trial = design_trial(design, knobs, seed=0)
        counts, m = outcomes(trial), measures(trial)
        assert len(trial.shop.arrived) == knobs.orders == sum(counts.values())
        assert counts[COMPENSATED] > 0, design        # some orders ended without completing...
        assert m["gave up"] == 0, design               # ...and their customers heard it
        assert _in_flight(trial) == knobs.customers, design
        assert 0 < m["waiting share"] < 1 and m["wait p95"] >= m["wait p50"] > 0
    # an open loop at the same orders offers them whatever the shop does: more in flight
    assert _in_flight(design_trial("hybrid", Knobs(rate=4.0, fault_rate=0.3, attempts=2,
                                                   **SMALL), seed=0)) > knobs.customers


def test_a_closed_loop_is_paced_by_the_shop_same_seed_same_numbers():
    knobs = Knobs(**CLOSED)
    first = measures(design_trial("choreographed", knobs, seed=3))
    assert measures(design_trial("choreographed", knobs, seed=3)) == first
    assert measures(design_trial("choreographed", knobs, seed=4)) != first
    # a slower shop: the same customers place fewer orders per second (the load is not a rate)
    slow = measures(design_trial("choreographed", replace(knobs, hop=0.2), seed=3))
    assert slow["placed/s"] < first["placed/s"] and slow["wait p50"] > first["wait p50"]


def test_a_closed_loop_customer_gives_up_on_an_order_that_never_ends():
    lossy = Knobs(crash_rate=0.1, delivery="dual write", fault_rate=0.0, **CLOSED)
    trial = design_trial("choreographed", lossy, seed=0)
    lost = trial.ledger.crashes["event lost (dual write)"]
    assert lost > 0 and measures(trial)["gave up"] == lost == outcomes(trial)["unfinished"]
    assert len(trial.shop.arrived) == lossy.orders
    assert all(PATIENCE <= v["waited"] < PATIENCE + 1 for v in trial.shop.visits if not v["heard"])


def test_tracing_records_spans_for_every_design_and_changes_no_business_outcome():
    for extra in ({}, {"fault_rate": 0.3, "attempts": 2}, CLOSED):
        plain_knobs = Knobs(**{**SMALL, **extra})
        traced_knobs = replace(plain_knobs, tracing=True)
        for design in DESIGNS:
            plain = measures(design_trial(design, plain_knobs, seed=1))
            traced = measures(design_trial(design, traced_knobs, seed=1))
            assert plain["spans/order"] is None and traced["spans/order"] > 5, design
            assert traced["traces/order"] == 1.0, design     # one trace follows each order
            tracing = {"spans/order", "traces/order", "spans/s"}
            assert {k: v for k, v in traced.items() if k not in tracing} == {
                k: v for k, v in plain.items() if k not in tracing}, design
    trial = design_trial("hybrid", Knobs(tracing=True, **SMALL), seed=1)
    traced = {s.service for s in trial.tracer.spans}      # every part of the design, and the shop
    assert traced == {"Shop", "Fulfilment engine", *(_target(trial.services, s.service).name
                                                     for s in CHAIN), "Notification Service"}


def test_the_report_names_the_arrival_process_and_the_price_of_tracing():
    open_text = report(control_room(Knobs(**SMALL)))
    assert "open loop: offered 2/s (Poisson)" in open_text and "tracing" not in open_text
    assert "customers' view" not in open_text
    closed_text = report(control_room(Knobs(tracing=True, **CLOSED)))
    for words in ("closed loop: 3 customers", "not a rate", "customers' view", "waited p50",
                  "placed", "coordinated omission", "spans per order", "traces per order"):
        assert words in closed_text, words
    assert "offered 2/s" not in closed_text and "TRANSIENT" not in closed_text


@pytest.mark.parametrize("change, words", [
    ({"arrival": "both"}, "arrival"), ({"customers": 0}, "customers"),
    ({"customers": 2.5}, "customers"), ({"think": -1}, "think"), ({"think": "long"}, "think"),
    ({"tracing": "yes"}, "tracing"), ({"tracing": 1}, "tracing"),
])
def test_bad_arrival_and_tracing_values_are_refused_naming_the_control(change, words):
    with pytest.raises(ControlError, match=words):
        Knobs(**change)


def test_the_new_controls_drive_the_room(monkeypatch):
    import plotly.io as pio
    monkeypatch.setattr(pio.renderers, "default", "json")
    ui = Controls(Knobs(**SMALL))
    shown = [w for column in ui.box.children[1].children for w in column.children]
    assert len(shown) == len(ui.widgets) and set(shown) == set(ui.widgets.values())
    assert not ui.widgets["rate"].disabled and ui.widgets["customers"].disabled
    ui.widgets["arrival"].value = "closed"
    assert ui.room.knobs.arrival == "closed" and ui.widgets["rate"].disabled
    assert not ui.widgets["think"].disabled
    ui.widgets["customers"].value = 5
    assert ui.room.knobs.customers == 5
    ui.widgets["tracing"].value = True
    assert ui.room.knobs.tracing and ui.room.frame["spans/order"].gt(0).all()
    ui.preset.value = "a retry storm"            # a preset sets the new knobs too
    assert ui.room.knobs.arrival == "open" and ui.room.knobs.tracing is False


@pytest.mark.parametrize("change, words", [
    ({"rate": 6.0}, "rate=6.0 is outside its slider (0.25 to 4)"),
    ({"attempts": 12}, "attempts=12 is outside its slider (1 to 8)"),
    ({"consumers": 8}, "consumers=8 is outside its slider (1 to 4)"),
])
def test_a_knob_beyond_its_slider_is_refused_not_clamped(change, words):
    """Knobs accepts these, the sliders do not: the widgets would silently run other settings."""
    Knobs(**SMALL, **change)                           # fine without the widgets
    with pytest.raises(ControlError) as caught:
        Controls(Knobs(**SMALL, **change))
    assert words in str(caught.value) and "control_room(Knobs(" in str(caught.value)
