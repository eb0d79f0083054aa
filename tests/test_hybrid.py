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
