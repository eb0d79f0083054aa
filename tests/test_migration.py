"""Lessons 08b and 08c's migration tools (sagalab.migration): facade, canary rollback,
parallel-run diff, interception, branch by abstraction, change data capture."""
import pandas as pd
import pytest

from sagalab.bus import Bus
from sagalab.migration import (CAPTURES, NON_STICKY, STICKY, ChangeCapture, Facade, LoggedDatabase,
                               MigrationError, PaymentPort, RollbackRule, bucket, canary_run,
                               capture_trial, diff, fault_plans, interception_trial, parallel_run,
                               switch_trial, wilson_lower)
from sagalab.runtime import run


async def _flow(order):
    return order


def test_bucket_is_stable_and_spread():
    keys = [f"customer{i}" for i in range(4000)]
    assert [bucket(k) for k in keys[:5]] == [bucket(k) for k in keys[:5]]
    assert all(0 <= bucket(k) < 100 for k in keys)
    share = sum(bucket(k) < 25 for k in keys) / len(keys)
    assert 0.22 < share < 0.28


def test_facade_routes_by_percentage_and_a_larger_one_only_moves_keys_over():
    facade = Facade({"old": _flow, "new": _flow}, percent=10)
    keys = [f"req-{i}" for i in range(2000)]
    at10 = {k for k in keys if facade.route(k) == "new"}
    facade.set_percent(50)
    at50 = {k for k in keys if facade.route(k) == "new"}
    assert at10 < at50 and 0.45 < len(at50) / len(keys) < 0.55
    facade.set_percent(0)
    assert all(facade.route(k) == "old" for k in keys)
    assert run(facade.place("req-1", {"x": 1})) == ("old", {"x": 1})
    assert facade.routed == {"req-1": "old"}


@pytest.mark.parametrize("percent", [-0.1, 100.5, 120, True, "25", None])
def test_a_percentage_outside_0_to_100_is_refused(percent):
    with pytest.raises(MigrationError, match="from 0 to 100"):
        Facade({"old": _flow, "new": _flow}, percent=percent)
    facade = Facade({"old": _flow, "new": _flow})
    with pytest.raises(MigrationError, match="from 0 to 100"):
        facade.set_percent(percent)


@pytest.mark.parametrize("options, message", [
    ({"canary": "nwe"}, "canary flow 'nwe' is not one of the flows"),
    ({"stable": "legacy"}, "stable flow 'legacy' is not one of the flows"),
    ({"stable": "new"}, "both 'new'"),
])
def test_an_unknown_flow_name_is_refused(options, message):
    with pytest.raises(MigrationError, match=message):
        Facade({"old": _flow, "new": _flow}, **options)


def test_wilson_lower_bound():
    assert wilson_lower(0, 0) == 0.0 and wilson_lower(0, 50) == 0.0
    assert wilson_lower(3, 10) == pytest.approx(0.1078, abs=1e-4)
    assert wilson_lower(50, 50) == pytest.approx(0.9287, abs=1e-4)
    assert wilson_lower(30, 100) > wilson_lower(3, 10)          # more data, tighter bound


@pytest.mark.parametrize("options, message", [
    ({"margin": 1.0}, "can never fire"),
    ({"margin": -0.1}, "margin must be"),
    ({"min_orders": 0}, "min_orders"),
    ({"z": 0}, "z must be"),
    ({"min_orders": 20, "window": 10}, "could never fire"),
    ({"margin": 0.8, "window": 10}, "can never fire"),
])
def test_a_rule_that_can_never_fire_is_refused(options, message):
    with pytest.raises(MigrationError, match=message):
        RollbackRule(**options)


def test_the_rule_waits_for_evidence_and_compares_with_the_stable_rate():
    rule = RollbackRule(margin=0.05, min_orders=10)
    assert not rule.fires([True] * 9, 0, 100)                   # too few orders yet
    assert rule.fires([True] * 3 + [False] * 7, 2, 100)
    assert not rule.fires([True] * 3 + [False] * 7, 10, 100)    # the stable flow fails as often
    windowed = RollbackRule(margin=0.05, min_orders=10, window=10)
    assert not windowed.fires([True] * 5 + [False] * 20, 0, 100)  # old failures left the window


def test_the_canary_rolls_back_a_bug_and_not_a_healthy_flow():
    buggy = run(canary_run(50, RollbackRule(), n=400, bug=0.3), seed=1)
    assert buggy["rolled back at"] is not None and 1 <= buggy["harmed"] <= 20
    assert buggy["orders"] < 400                                # stopped once the rollback was judged
    unguarded = run(canary_run(50, None, n=400, bug=0.3), seed=1)
    assert unguarded["rolled back at"] is None and unguarded["harmed"] > 3 * buggy["harmed"]
    healthy = run(canary_run(25, RollbackRule(), n=400, bug=0.0), seed=1)
    assert healthy["rolled back at"] is None and healthy["harmed"] == 0
    steps = run(canary_run([(0, 5), (50, 100)], RollbackRule(), n=200, bug=0.0), seed=1)
    assert steps["reached"] == pytest.approx(50.0)
    for bad in ([(10, 5)], [(0, 5), (0, 10)], []):
        with pytest.raises(MigrationError, match="a rollout is"):
            run(canary_run(bad, RollbackRule(), n=10))
    with pytest.raises(MigrationError, match="from 0 to 100"):
        run(canary_run([(0, 5), (10, 500)], RollbackRule(), n=10))


def test_the_comparator_reports_fields_and_missing_keys():
    old = pd.DataFrame({"outcome": ["completed", "cancelled", "completed"], "charged": [20.0, 0.0, 45.0],
                        "holds stock": [True, False, True], "compensations": [0, 2, 0]},
                       index=["a", "b", "c"])
    new = old.drop(index="c").copy()
    new.loc["b", "holds stock"] = True
    new.loc["d"] = ["completed", 20.0, True, 0]
    found = diff(old, new)
    assert sorted(map(tuple, found[["key", "field"]].values)) == [
        ("b", "holds stock"), ("c", "missing"), ("d", "missing")]
    assert diff(old, old).empty


def test_the_parallel_run_finds_the_leak_and_only_the_leak():
    leaky = run(parallel_run(60, leaky=True), seed=2)
    effects = leaky["diff"][leaky["diff"].field != "compensations"]
    assert effects.key.nunique() == leaky["declined"] > 0
    assert set(effects.field) == {"outcome", "holds stock"}
    correct = run(parallel_run(60, leaky=False), seed=2)
    assert correct["diff"][correct["diff"].field != "compensations"].empty
    assert 1.5 < sum(correct["calls"].values()) / correct["calls"]["old"] < 2.1


def test_interception_changes_no_legacy_step_and_keys_stop_duplicates():
    both = run(interception_trial("intercept", n=20, duplicates=0.0), seed=1)
    assert both["legacy steps changed"] == 0 and both["e-mails"] == 40
    diverted = run(interception_trial("diverted", n=40, duplicates=0.3, keys=False), seed=1)
    assert diverted["orders e-mailed twice or more"] > 0 and diverted["orders not e-mailed"] == 0
    keyed = run(interception_trial("diverted", n=40, duplicates=0.3, keys=True), seed=1)
    assert keyed["orders e-mailed twice or more"] == 0 and keyed["e-mails"] == 40
    assert "divert(notify_shipped)" in keyed["wraps the legacy"]
    with pytest.raises(MigrationError, match="phase"):
        run(interception_trial("cutover", n=1))


def test_the_payment_port_is_sticky_or_follows_the_toggle():
    port = PaymentPort({"old": "OLD", "v2": "V2"}, "old", mode=STICKY)
    assert port.choose("flow-1", "charge") == "OLD"
    port.flip("v2")
    assert port.choose("flow-1", "refund") == "OLD" and port.choose("flow-2", "charge") == "V2"
    loose = PaymentPort({"old": "OLD", "v2": "V2"}, "old", mode=NON_STICKY)
    loose.choose("flow-1", "charge")
    loose.flip("v2")
    assert loose.choose("flow-1", "refund") == "V2"
    with pytest.raises(MigrationError, match="unknown implementation 'v3'"):
        port.flip("v3")
    with pytest.raises(MigrationError, match="mode"):
        PaymentPort({"old": 1}, "old", mode="sometimes")


def test_switching_under_running_instances_breaks_money_only_when_not_sticky():
    plans = fault_plans(40, seed=3)
    assert plans == fault_plans(40, seed=3)
    broken = {mode: sum(bool(run(switch_trial(mode, **p), seed=i)["violations"])
                        for i, p in enumerate(plans)) for mode in (STICKY, NON_STICKY)}
    assert broken[STICKY] == 0 and broken[NON_STICKY] > 5


def test_capture_styles_under_crashes():
    results = {s: run(capture_trial(s, n=200, crash=0.05), seed=4) for s in CAPTURES}
    assert results["dual write"]["lost"] > 0
    for style in CAPTURES[1:]:
        assert results[style]["lost"] == 0, style
    assert results["outbox + relay"]["shipped twice"] > 0
    assert results["change data capture"]["shipped twice"] > 0
    assert results["outbox + relay + inbox"]["shipped twice"] == 0
    assert results["change data capture + inbox"]["shipped twice"] == 0
    with pytest.raises(MigrationError, match="unknown style"):
        run(capture_trial("two-phase commit", n=1))


def test_change_capture_publishes_every_change_once_without_crashes():
    async def scenario():
        async with Bus() as bus:
            db, seen = LoggedDatabase("Order Service"), []

            async def record(env):
                seen.append((env.key, env.payload["value"]))
            bus.subscribe("Changed", record, group="reader")
            tailer = ChangeCapture(db, bus, lambda k, v: None if v == "skip" else ("Changed", {"value": v}))
            for i in range(5):
                db.commit(f"k{i}", "skip" if i == 2 else i)
            await tailer.relay_once()
            await bus.drain()
            return seen, tailer.offset
    seen, offset = run(scenario())
    assert seen == [("k0", 0), ("k1", 1), ("k3", 3), ("k4", 4)] and offset == 5
