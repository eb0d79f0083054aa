"""Lesson 08's hybrid designs (sagalab.hybrid): one chain of stages, three designs, measured."""
import pytest

from sagalab.compare import Outage
from sagalab.hybrid import (BROKER, CHAIN, CHECKLIST, DESIGNS, DesignError, Stage, all_designs,
                            change_cost, components, engine_name, insert_stage, isolation,
                            recommend, segments, shop_trial, where_is)


async def _noop(services, order):
    return "done"


WRAP = Stage("gift_wrap", "Fulfilment", "Gift Wrap Service", "GiftWrapped", _noop)
POINTS = Stage("points", "Loyalty", "Loyalty Service", "PointsGranted", _noop)


def test_segments_per_design():
    names = lambda d: [[s.name for s in seg] for seg in segments(d)]      # noqa: E731
    assert names("orchestrated") == [[s.name for s in CHAIN]]
    assert names("choreographed") == [[s.name] for s in CHAIN]
    assert names("hybrid") == [["place_order"], ["charge"], ["pick", "pack", "ship"], ["notify"]]
    assert [engine_name("hybrid", seg) for seg in segments("hybrid")] == [
        None, None, "Fulfilment engine", None]


@pytest.mark.parametrize("design, chain, message", [
    ("microservices", CHAIN, "unknown design"),
    ("hybrid", (), "at least one stage"),
    ("hybrid", (CHAIN[0], CHAIN[0]), "unique names"),
])
def test_bad_designs_and_chains_are_refused(design, chain, message):
    with pytest.raises(DesignError, match=message):
        segments(design, chain)


def test_change_cost_is_read_from_the_wiring():
    inside = {d: change_cost(d, WRAP, "pack") for d in DESIGNS}
    assert inside["orchestrated"]["parts changed"] == ["central engine"]
    assert inside["orchestrated"]["contexts touched"] == ["Ordering"]
    assert inside["hybrid"]["parts changed"] == ["Fulfilment engine"]
    assert inside["choreographed"]["parts changed"] == ["Shipment Service"]
    leaf = {d: change_cost(d, POINTS, "notify") for d in DESIGNS}
    assert leaf["orchestrated"]["parts changed"] == ["central engine"]
    assert leaf["choreographed"]["parts changed"] == leaf["hybrid"]["parts changed"] == []
    assert all(c["new parts"] == ["Gift Wrap Service"] for c in inside.values())
    with pytest.raises(DesignError, match="no stage 'packing'"):
        insert_stage(CHAIN, WRAP, "packing")
    assert components("hybrid")["Fulfilment engine"] == (
        "runs", "PaymentReceived", ("pick", "pack", "ship"), "OrderShipped")


def test_every_design_serves_every_order_and_without_costs_they_are_the_same():
    tables = {d: shop_trial(d, seed=3, n=30, rate=1.5, hop=0.0, transition=0.0).table()
              for d in DESIGNS}
    for t in tables.values():
        assert len(t) == 30 and t.notify.notna().all()
        assert (t.charge < t.pick).all() and (t.pick < t.pack).all() and (t.pack < t.ship).all()
    # the same services, orders, arrivals and latency streams: identical times per order
    base = tables["orchestrated"].end_to_end.round(9).tolist()
    assert tables["choreographed"].end_to_end.round(9).tolist() == base
    assert tables["hybrid"].end_to_end.round(9).tolist() == base


def test_coordination_costs_order_the_designs():
    mean = {d: shop_trial(d, seed=3, n=30, rate=1.5).table().end_to_end.mean() for d in DESIGNS}
    assert mean["orchestrated"] > mean["hybrid"] > mean["choreographed"]


def test_an_outage_of_something_the_design_lacks_is_refused():
    with pytest.raises(DesignError, match="no 'Fulfilment engine'"):
        shop_trial("orchestrated", n=5, outage=Outage("Fulfilment engine", 1, 2))
    with pytest.raises(DesignError, match="no 'Packing'"):
        shop_trial("hybrid", n=5, outage=Outage("Packing", 1, 2))


def test_isolation_a_context_engine_down_stops_only_its_context():
    down = Outage("Fulfilment engine", 10.0, 25.0)
    hybrid = isolation(shop_trial("hybrid", seed=2, n=60), shop_trial("hybrid", seed=2, n=60,
                                                                      outage=down), down)
    assert hybrid["Payments"] > 0.9 and hybrid["Ordering"] > 0.9
    assert hybrid["Fulfilment"] < 0.1 and "Fulfilment" in hybrid["stalled"]
    central = Outage("central engine", 10.0, 25.0)
    orch = isolation(shop_trial("orchestrated", seed=2, n=60),
                     shop_trial("orchestrated", seed=2, n=60, outage=central), central)
    assert set(orch["stalled"]) == {"Ordering", "Payments", "Fulfilment", "Notification"}
    broker = Outage(BROKER, 10.0, 25.0)
    hit = isolation(shop_trial("hybrid", seed=2, n=60), shop_trial("hybrid", seed=2, n=60,
                                                                   outage=broker), broker)
    assert hit["Payments"] < 0.1 and hit["Ordering"] > 0.9


def test_where_is_counts_the_places_asked_and_answers_in_flight():
    shops = {d: shop_trial(d, seed=1, n=20) for d in DESIGNS}
    answers = {d: where_is(s, "order-0005") for d, s in shops.items()}
    assert {d: a["places asked"] for d, a in answers.items()} == {
        "orchestrated": 1, "choreographed": 6, "hybrid": 5}
    assert {a["last stage done"] for a in answers.values()} == {"notify"}
    down = Outage("Shipment Service", 5.0, 30.0)
    for d in DESIGNS:
        shop = shop_trial(d, seed=1, n=20, outage=down,
                          ask=[(20.0, lambda s: where_is(s, "order-0010"))])
        assert shop.answers[20.0]["last stage done"] == "pack", d


def test_recommend_sums_votes_and_refuses_bad_answers():
    assert recommend(single_view=True, eventual_ok=False, sync_answer=True)["design"] == "orchestrated"
    assert recommend(independent_deploys=True, new_consumers=True, hot_path=True,
                     single_view=False)["design"] == "choreographed"
    assert recommend(independent_deploys=True, steps_change=True, isolation=True)["design"] == "hybrid"
    assert recommend()["design"] == "hybrid"                  # a tie (nothing answered): hybrid
    result = recommend(single_view=True)
    assert result["reasons"][0]["measured in"] == CHECKLIST[0].evidence
    with pytest.raises(DesignError, match="no checklist question single_veiw"):
        recommend(single_veiw=True)
    with pytest.raises(DesignError, match="True or False"):
        recommend(single_view="yes")


def test_a_context_split_in_two_places_is_refused():
    split = (CHAIN[0], CHAIN[1], CHAIN[2], Stage("audit", "Payments", "Audit", "Audited", _noop), *CHAIN[3:])
    with pytest.raises(DesignError, match="Payments appears in more than one place"):
        segments("hybrid", split)


def test_all_designs_runs_one_workload_on_each():
    shops = all_designs(seed=4, n=10, outage=Outage(BROKER, 2.0, 6.0))
    assert list(shops) == list(DESIGNS)
    arrived = [sorted(s.table().arrived.round(9)) for s in shops.values()]
    assert arrived[0] == arrived[1] == arrived[2]
    assert shops["orchestrated"].bus is None                    # no broker to lose


def _in_flight(shop):
    """The most orders placed and not yet ended at any one time (an end before a start at
    the same instant counts first: a customer ordering again the moment it heard)."""
    events = sorted([(t, 1) for o, t in shop.arrived.items()]
                    + [(t, -1) for t in shop.ends.values()], key=lambda e: (e[0], e[1]))
    most = now = 0
    for _, step in events:
        now += step
        most = max(most, now)
    return most


@pytest.mark.parametrize("design", DESIGNS)
def test_a_closed_loop_places_n_orders_with_at_most_customers_in_flight(design):
    shop = shop_trial(design, seed=1, n=30, customers=4, think=0.5)
    assert len(shop.table()) == 30 and shop.table().notify.notna().all()
    assert len(shop.visits) == 30 and all(v["heard"] for v in shop.visits)
    assert _in_flight(shop) == 4           # never more than 4, and the 4 were kept busy
    for c in range(4):                     # each customer: one order at a time, think between
        mine = [v for v in shop.visits if v["customer"] == c]
        for a, b in zip(mine, mine[1:]):
            assert b["sent"] == pytest.approx(a["sent"] + a["waited"] + a["thought"])
    # an open loop at a rate the shop cannot keep up with has many more in flight: the check
    # above can fail
    assert _in_flight(shop_trial(design, seed=1, n=30, rate=8.0)) > 4


def test_a_closed_loop_draws_the_same_thinking_in_every_design_and_differs_per_seed():
    per_customer = {}
    for design in DESIGNS:
        shop = shop_trial(design, seed=2, n=20, customers=3, think=2.0)
        per_customer[design] = {c: [v["thought"] for v in shop.visits if v["customer"] == c]
                                for c in range(3)}
    first = per_customer["orchestrated"]
    for design in DESIGNS:                 # the k-th thought of customer c, whatever the design
        for c in range(3):
            n = min(len(first[c]), len(per_customer[design][c]))
            assert n > 0 and per_customer[design][c][:n] == first[c][:n]
    again = shop_trial("hybrid", seed=2, n=20, customers=3, think=2.0)
    assert again.table().equals(shop_trial("hybrid", seed=2, n=20, customers=3, think=2.0).table())
    other = shop_trial("hybrid", seed=3, n=20, customers=3, think=2.0)
    assert not other.table().equals(again.table())


async def _refuse_odd(services, order):
    if int(order["order_id"][-1]) % 2:
        raise RuntimeError("refused for good")
    return await CHAIN[1].work(services, order)


def test_an_order_that_ends_otherwise_frees_its_customer_and_patience_bounds_a_lost_one():
    from dataclasses import replace
    shops = []

    def keep(shop, submit):
        shops.append(shop)

    async def ends_it(services, order):    # the decision a saga makes: this order has ended
        try:
            return await _refuse_odd(services, order)
        except RuntimeError:
            shops[-1].end(order["order_id"])
            raise

    for design in DESIGNS:
        chain = (CHAIN[0], replace(CHAIN[1], work=ends_it), *CHAIN[2:])
        shop = shop_trial(design, seed=1, n=12, customers=3, chain=chain, instrument=keep)
        assert len(shop.arrived) == 12 and all(v["heard"] for v in shop.visits), design
        assert shop.table().notify.isna().sum() == 6          # the odd ones ended at charge
        # the same failure nobody reports: each customer waits `patience`, gives up, orders again
        lost = (CHAIN[0], replace(CHAIN[1], work=_refuse_odd), *CHAIN[2:])
        shop = shop_trial(design, seed=1, n=12, customers=3, chain=lost, patience=30.0)
        gave_up = [v for v in shop.visits if not v["heard"]]
        assert len(shop.arrived) == 12 and len(gave_up) == 6, design
        assert all(30.0 <= v["waited"] < 31.0 for v in gave_up)    # patience, once submitted


def test_instrument_is_called_once_built_before_the_first_order_and_may_wrap_submit():
    from sagalab.tracing import Tracer, trace_bus, trace_orchestrator
    seen, spans = {}, {}

    def instrument(shop, submit):
        seen[shop.design] = (shop.bus is not None, sorted(shop.engines), len(shop.arrived))
        tracer = spans[shop.design] = Tracer()
        if shop.bus is not None:
            trace_bus(tracer, shop.bus)
        for name, engine in shop.engines.items():
            trace_orchestrator(tracer, engine, service=name)

        async def checkout(order):
            with tracer.span("checkout", service="Shop"):
                await submit(order)
        return checkout

    for design in DESIGNS:
        plain = shop_trial(design, seed=5, n=15)
        traced = shop_trial(design, seed=5, n=15, instrument=instrument)
        assert traced.table().equals(plain.table()), design     # tracing changes no time
        assert seen[design][2] == 0                              # before the first order
        checkouts = [s for s in spans[design].spans if s.name == "checkout"]
        assert len(checkouts) == 15                              # every order went through it
        assert len({s.trace_id for s in spans[design].spans}) == 15    # one trace per order
    assert seen == {"orchestrated": (False, ["central engine"], 0),
                    "choreographed": (True, [], 0),
                    "hybrid": (True, ["Fulfilment engine"], 0)}


@pytest.mark.parametrize("knobs, name", [
    ({"customers": 0}, "customers"), ({"customers": 2.5}, "customers"),
    ({"customers": 2, "think": -1.0}, "think"), ({"customers": 2, "patience": 0.0}, "patience"),
])
def test_bad_closed_loop_values_are_refused_by_name(knobs, name):
    with pytest.raises(ValueError, match=name):
        shop_trial("hybrid", n=5, **knobs)
