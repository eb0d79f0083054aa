"""sagalab.durable: the journal replays, crashes repeat only the unjournaled step, the
determinism check fires and names the step, patches version a change, a real SIGKILL."""
import pytest

from sagalab.durable import (COMPLETED, FAILED, PATCH, Crash, DurableRunner, Journal,
                             JournalMismatch, Ledger, StepFailed, crash_after, crash_before,
                             order_saga, spawn, wait_for_effect)
from sagalab.engine import NonDeterminism
from sagalab.runtime import new_id, run
from sagalab.saga import keep_answers, kept_answers, order_saga as saga_services
from sagalab.services import sample_orders


class Counter:
    """A service that counts its calls and answers with a fresh id each time."""

    def __init__(self):
        self.calls = []

    def op(self, name):
        async def call(*args):
            self.calls.append(name)
            return new_id(name)
        return call


def three_steps(svc, *, extra=None, patch=None):
    async def wf(ctx, _):
        a = await ctx.step("a", svc.op("a"))
        if extra and (patch is None or ctx.patched(patch)):
            await ctx.step(extra, svc.op(extra))
        b = await ctx.step("b", svc.op("b"))
        c = await ctx.step("c", svc.op("c"))
        return [a, b, c]
    return wf


def test_replay_returns_the_journaled_results_without_calling_again(tmp_path):
    async def go():
        svc = Counter()
        first = DurableRunner(Journal(tmp_path / "j.db"), {"wf": three_steps(svc)}).use(crash_before("c"))
        with pytest.raises(Crash):
            await first.start("w-1", "wf")
        recorded = [e.value for e in Journal(tmp_path / "j.db").entries("w-1")[1:]]
        second = DurableRunner(Journal(tmp_path / "j.db"), {"wf": three_steps(svc)})   # a new file handle
        outcome = await second.resume("w-1")
        return svc.calls, recorded, outcome
    calls, recorded, outcome = run(go())
    assert calls == ["a", "b", "c"]                         # a and b once, across the crash
    assert outcome.replayed == ["a", "b"] and outcome.executed == ["c"]
    assert outcome.result[:2] == recorded                   # the ids the first process got
    assert outcome.status == COMPLETED


def test_a_crash_between_effect_and_journal_write_repeats_the_step_and_keys_fix_it(tmp_path):
    async def charges(keyed):
        flow = saga_services(None)
        if keyed:
            keep_answers(flow.payments)
        path = tmp_path / f"k{keyed}.db"
        first = DurableRunner(Journal(path), {"order": order_saga(flow)}).use(crash_after("charge"))
        with pytest.raises(Crash, match="after charge's effect"):
            await first.start("w-1", "order", sample_orders(1)[0])
        outcome = await DurableRunner(Journal(path), {"order": order_saga(flow)}).resume("w-1")
        requests = sum(c.operation == "charge" for c in flow.payments.calls)
        return outcome, requests, kept_answers(flow.payments).store.duplicates if keyed else 0
    outcome, requests, answered = run(charges(False))
    assert outcome.status == COMPLETED and outcome.replayed == ["place_order"]
    assert (requests, answered) == (2, 0)                   # charged twice
    outcome, requests, answered = run(charges(True))
    assert (requests, answered) == (2, 1)                   # asked twice, charged once


def test_the_determinism_check_fires_and_names_the_workflow_and_both_steps(tmp_path):
    async def go():
        svc, path = Counter(), tmp_path / "d.db"
        first = DurableRunner(Journal(path), {"wf": three_steps(svc)}).use(crash_before("c"))
        with pytest.raises(Crash):
            await first.start("w-7", "wf")
        changed = DurableRunner(Journal(path), {"wf": three_steps(svc, extra="x")})
        with pytest.raises(JournalMismatch) as mismatch:
            await changed.resume("w-7")
        return mismatch.value, svc.calls
    error, calls = run(go())
    assert isinstance(error, NonDeterminism)
    text = str(error)
    assert "w-7" in text and "entry 2" in text and "'b'" in text and "'x'" in text
    assert calls == ["a", "b"]                              # nothing ran under the changed code


def test_a_step_removed_from_the_code_is_a_mismatch_too(tmp_path):
    async def go():
        svc, path = Counter(), tmp_path / "r.db"
        first = DurableRunner(Journal(path), {"wf": three_steps(svc, extra="x")}).use(crash_before("c"))
        with pytest.raises(Crash):
            await first.start("w-1", "wf")

        async def shorter(ctx, _):
            return [await ctx.step("a", svc.op("a"))]
        with pytest.raises(JournalMismatch, match="ended before it"):
            await DurableRunner(Journal(path), {"wf": shorter}).resume("w-1")
    run(go())


def test_patched_is_false_for_old_journals_true_and_marked_for_new_ones(tmp_path):
    async def go():
        svc, path = Counter(), tmp_path / "p.db"
        old = DurableRunner(Journal(path), {"wf": three_steps(svc)}).use(crash_before("c"))
        with pytest.raises(Crash):
            await old.start("w-old", "wf")
        new = DurableRunner(Journal(path), {"wf": three_steps(svc, extra="x", patch="add-x")})
        resumed = await new.resume("w-old")
        fresh = await new.start("w-new", "wf")
        crashing = DurableRunner(Journal(path), {"wf": three_steps(svc, extra="x", patch="add-x")})
        crashing.use(crash_before("c"))
        with pytest.raises(Crash):
            await crashing.start("w-new2", "wf")
        replayed = await new.resume("w-new2")
        kinds = [e.kind for e in new.journal.entries("w-new")]
        return resumed, fresh, replayed, kinds
    resumed, fresh, replayed, kinds = run(go())
    assert resumed.executed == ["c"] and "x" not in resumed.replayed      # the old path
    assert fresh.executed == ["a", "x", "b", "c"] and PATCH in kinds       # the new path, marked
    assert replayed.replayed == ["a", "x", "b"] and replayed.executed == ["c"]


def test_a_failed_step_replays_as_a_failure_and_the_compensation_is_not_run_again(tmp_path):
    async def go():
        orders = sample_orders(2)
        flow = saga_services(None, declined_cards={orders[1]["customer"]})
        path = tmp_path / "f.db"
        first = DurableRunner(Journal(path), {"order": order_saga(flow)})
        first.use(crash_after("refund"))
        with pytest.raises(Crash):
            await first.start("w-2", "order", orders[1])
        outcome = await DurableRunner(Journal(path), {"order": order_saga(flow)}).resume("w-2")
        return outcome, [c.operation for c in flow.payments.calls]
    outcome, operations = run(go())
    assert outcome.status == FAILED and "CardDeclined" in outcome.error
    assert outcome.replayed == ["place_order", "charge"] and outcome.executed == ["refund"]
    assert operations.count("refund") == 2          # the crash fell after its effect: at least once


def test_a_finished_workflow_is_not_run_again(tmp_path):
    async def go():
        svc = Counter()
        runner = DurableRunner(Journal(tmp_path / "e.db"), {"wf": three_steps(svc)})
        first = await runner.start("w-1", "wf")
        again = await runner.resume("w-1")
        return first, again, svc.calls
    first, again, calls = run(go())
    assert again.result == first.result and again.executed == again.replayed == []
    assert calls == ["a", "b", "c"]


def test_bad_input_gets_a_clear_error(tmp_path):
    async def go():
        runner = DurableRunner(Journal(tmp_path / "b.db"), {"wf": three_steps(Counter())})
        with pytest.raises(KeyError, match="no workflow 'nope'"):
            await runner.start("w-1", "nope")
        await runner.start("w-1", "wf")
        with pytest.raises(ValueError, match="started already"):
            await runner.start("w-1", "wf")
        with pytest.raises(KeyError, match="no workflow w-9"):
            await runner.resume("w-9")
    run(go())


def test_step_failed_names_the_step_and_the_original_error():
    error = StepFailed("charge", "CardDeclined", "card declined")
    assert "charge" in str(error) and error.error_type == "CardDeclined"
    assert issubclass(Crash, BaseException) and not issubclass(Crash, Exception)


@pytest.mark.parametrize("keyed, charges", [(False, 2), (True, 1)])
def test_a_real_sigkill_mid_step_and_a_new_process_resumes_from_the_file(tmp_path, keyed, charges):
    journal, ledger = tmp_path / "j.db", tmp_path / "l.db"
    child = spawn(journal, ledger, "w-1", keyed=keyed)
    second = None
    try:
        wait_for_effect(ledger, "w-1", "charge", process=child)
        child.kill()
        assert child.wait() == -9
        assert [e.name for e in Journal(journal).entries("w-1")] == ["order", "reserve"]
        second = spawn(journal, ledger, "w-1", keyed=keyed)
        out, err = second.communicate(timeout=60)
        assert second.returncode == 0, err
        assert '"replayed": ["reserve"]' in out and '"executed": ["charge", "ship"]' in out
        assert Ledger(ledger).effects("w-1") == ["reserve"] + ["charge"] * charges + ["ship"]
    finally:
        for process in (child, second):
            if process is not None and process.poll() is None:
                process.kill()
                process.wait()
