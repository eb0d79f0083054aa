"""The durable engine of lesson 01 (sagalab/engine.py): history as state, slots per transition,
crash and resume, starts while down, signals and durable timers, versions and non-determinism."""
import asyncio

import pytest

from sagalab.engine import STUCK, Engine, wait_for
from sagalab.orchestrator import UnknownInstance, Workflow, WorkflowError, parallel
from sagalab.runtime import now, run


def sleeper(name, seconds, log=None):
    async def step(instance):
        if log is not None:
            log.append((instance.id, name))
        await asyncio.sleep(seconds)
        return f"{name} done"
    step.__name__ = name
    return step


def failing(name, seconds):
    async def step(instance):
        await asyncio.sleep(seconds)
        raise ValueError(f"{name} broke")
    step.__name__ = name
    return step


def flow(*steps):
    return Workflow("job", list(steps))


# -- bad input fails when defined, naming the problem -------------------------------------------
@pytest.mark.parametrize("options, words", [
    ({"slots": 0}, "slots"), ({"slots": 1.5}, "slots"), ({"slots": True}, "slots"),
    ({"transition": -1}, "transition"), ({"transition": "fast"}, "transition")])
def test_bad_settings_are_refused(options, words):
    async def main():
        Engine(flow(sleeper("a", 1)), **options)
    with pytest.raises(ValueError, match=words):
        run(main())


@pytest.mark.parametrize("workflows, words", [
    ({}, "at least one"), ({0: None}, "versions"), ({1: "not a workflow"}, "not a Workflow")])
def test_bad_versions_are_refused(workflows, words):
    async def main():
        Engine(workflows)
    with pytest.raises(WorkflowError, match=words):
        run(main())


@pytest.mark.parametrize("call, words", [
    (lambda: wait_for("", timeout=1), "name"), (lambda: wait_for("clicked", timeout=0), "timeout"),
    (lambda: wait_for("clicked", timeout="soon"), "timeout")])
def test_bad_signal_steps_are_refused(call, words):
    with pytest.raises(WorkflowError, match=words):
        call()


def test_unknown_instance_is_a_key_error():
    async def main():
        Engine(flow(sleeper("a", 1))).status("job-0042")
    with pytest.raises(UnknownInstance, match="job-0042"):
        run(main())


# -- capacity: a slot per transition, none while waiting ----------------------------------------
def test_throughput_is_slots_over_cost_per_transition():
    async def main():
        engine = Engine(flow(sleeper("a", 0)), slots=4, transition=0.01)
        for _ in range(100):
            engine.start({})
        await engine.wait()
        return engine, now()
    engine, took = run(main())
    assert engine.transitions == 200                   # the start and one completion each
    assert took == pytest.approx(200 * 0.01 / 4, abs=0.02)


def test_waiting_for_a_service_holds_no_slot():
    async def main():
        engine = Engine(flow(sleeper("slow", 10)), slots=1, transition=0.001)
        for _ in range(10):
            engine.start({})
        await engine.wait()
        return engine.table()
    table = run(main())
    assert (table.status == "completed").all()
    assert table.elapsed.max() < 10.1                  # not 10 × 10 s


def test_steps_run_in_order_and_groups_together():
    async def main():
        engine = Engine(flow(sleeper("a", 1), parallel(sleeper("b", 2), sleeper("c", 3)),
                             sleeper("d", 1)), transition=0)
        instance_id = engine.start({"x": 1})
        await engine.wait()
        return engine, instance_id
    engine, instance_id = run(main())
    status = engine.status(instance_id)
    assert status["status"] == "completed" and status["done"] == ["a", "b", "c", "d"]
    assert status["ended"] == pytest.approx(5.0)       # 1 + max(2, 3) + 1
    assert engine.replay(instance_id).input == {"x": 1}


def test_a_failing_step_fails_its_instance_naming_it():
    async def main():
        engine = Engine(flow(sleeper("a", 1), parallel(failing("b", 1), sleeper("c", 3))))
        instance_id = engine.start({})
        await engine.wait()
        return engine.status(instance_id)
    status = run(main())
    assert status["status"] == "failed"
    assert "'b'" in status["error"] and "b broke" in status["error"]


# -- the state is the history: crash, resume, starts while down ----------------------------------
def crash_run(*, drain=False, new_engine=False):
    log = []

    async def main():
        engine = Engine(flow(sleeper("a", 1, log), sleeper("b", 1, log)), slots=2)
        first = engine.start({})
        await asyncio.sleep(1.5)                       # `b` is running
        await engine.stop(drain=drain)
        while_down = engine.start({})                  # accepted, queued
        await asyncio.sleep(1)
        if new_engine:                                 # a new process: only the history survives
            engine = Engine(engine.versions, slots=2, history=engine.history)
        else:
            engine.restart()
        await engine.wait()
        return engine, first, while_down
    engine, first, while_down = run(main())
    return engine, first, while_down, log


@pytest.mark.parametrize("new_engine", [False, True])
def test_a_crash_resumes_every_instance_and_repeats_the_lost_step(new_engine):
    engine, first, while_down, log = crash_run(new_engine=new_engine)
    assert engine.status(first)["status"] == "completed"
    assert engine.status(while_down)["status"] == "completed"
    assert log.count((first, "b")) == 2                # its answer was lost: run again
    assert log.count((first, "a")) == 1                # its answer was recorded: not again
    attempts = engine.history_frame(first).query("event == 'step scheduled'").detail.tolist()
    assert attempts == ["attempt 1", "attempt 1", "attempt 2"]


def test_a_graceful_stop_records_the_answers_in_flight():
    engine, first, _, log = crash_run(drain=True)
    assert engine.status(first)["status"] == "completed"
    assert log.count((first, "b")) == 1


def test_the_same_seed_gives_the_same_history():
    histories = [crash_run()[0].history_frame().to_dict("records") for _ in range(2)]
    assert histories[0] == histories[1]


# -- signals and durable timers ------------------------------------------------------------------
def signal_run(click_at=None, restart_at=None):
    async def main():
        engine = Engine(flow(sleeper("a", 1), wait_for("clicked", timeout=100), sleeper("b", 1)))
        instance_id = engine.start({})

        async def person():
            await asyncio.sleep(click_at)
            engine.signal(instance_id, "clicked", "yes")

        async def redeploy():
            await asyncio.sleep(restart_at)
            await engine.stop()
            await asyncio.sleep(5)
            engine.restart()

        side = ([person()] if click_at is not None else []) + (
            [redeploy()] if restart_at is not None else [])
        await asyncio.gather(*side)
        await engine.wait()
        return engine.status(instance_id), engine.replay(instance_id)
    return run(main())


def test_a_signal_completes_the_wait_with_its_value():
    status, replayed = signal_run(click_at=30)
    assert status["status"] == "completed" and status["ended"] == pytest.approx(31, abs=0.1)
    assert replayed.results["wait for clicked"] == "yes"


def test_no_signal_fails_the_instance_when_its_timer_fires():
    status, _ = signal_run()
    assert status["status"] == "failed" and "wait for clicked" in status["error"]
    assert status["ended"] == pytest.approx(101, abs=0.1)


def test_a_timer_survives_a_restart_and_keeps_its_due_time():
    status, _ = signal_run(restart_at=50)
    assert status["status"] == "failed" and status["ended"] == pytest.approx(101, abs=0.1)


def test_a_signal_sent_while_the_workers_are_down_is_kept():
    status, _ = signal_run(click_at=52, restart_at=50)
    assert status["status"] == "completed" and status["ended"] == pytest.approx(56, abs=0.1)


# -- a new definition while instances are in flight ----------------------------------------------
def deploy(how):
    async def main():
        a, b, c = sleeper("a", 1), sleeper("b", 1), sleeper("c", 1)
        old, new = flow(a, b), flow(a, c, b)
        engine = Engine(old)
        instance_id = engine.start({})
        await asyncio.sleep(1.5)                       # `b` is running
        await engine.stop(drain=True)
        engine.restart(new if how == "replace" else {1: old, 2: new})
        later = engine.start({})
        await engine.wait()
        return engine.status(instance_id), engine.status(later)
    return run(main())


def test_a_history_that_no_longer_fits_is_detected_naming_the_step():
    status, later = deploy("replace")
    assert status["status"] == STUCK
    assert "'b'" in status["error"] and "'c'" in status["error"]
    assert later["status"] == "completed" and later["done"] == ["a", "c", "b"]


def test_versions_keep_running_instances_on_theirs():
    status, later = deploy("versions")
    assert status["status"] == "completed" and status["version"] == 1 and status["done"] == ["a", "b"]
    assert later["version"] == 2 and later["done"] == ["a", "c", "b"]


def test_wait_refuses_while_the_workers_are_down():
    async def main():
        engine = Engine(flow(sleeper("a", 1)))
        engine.start({})
        await engine.stop()
        await engine.wait()
    with pytest.raises(RuntimeError, match="restart"):
        run(main())


def test_the_history_does_not_depend_on_the_hash_seed():
    """Strict nbval runs each notebook in a new process: no set order may leak into a history."""
    import subprocess
    import sys
    script = ("import sys; sys.path.insert(0, 'tests'); from test_engine import crash_run; "
              "print(crash_run()[0].history_frame().to_string())")
    outputs = {subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                              env={"PYTHONHASHSEED": seed, "PATH": ""}, check=True,
                              cwd=__file__.rsplit("/tests/", 1)[0]).stdout
               for seed in ("1", "2", "3")}
    assert len(outputs) == 1


# -- compensation: a saga on the engine (lesson 04's saga(...), durable) ------------------------
def saga_flow(log, *, fail_undo=None, undo_seconds=0.1):
    """Three steps, each with an undo that logs itself; the third step fails."""
    from sagalab.saga import saga

    def undo(name):
        async def fn(instance):
            await asyncio.sleep(undo_seconds)
            if fail_undo == name:
                raise RuntimeError(f"undo {name} broke")
            log.append((instance.id, f"undo {name}"))
            return f"{name} undone"
        return fn
    workflow = flow(sleeper("a", 0.1), sleeper("b", 0.1), failing("c", 0.1))
    return saga(workflow, {name: undo(name) for name in ("a", "b", "c")})


def test_a_failed_saga_is_compensated_in_reverse_order_in_the_history():
    log = []

    async def main():
        engine = Engine(saga_flow(log))
        instance_id = engine.start({})
        await engine.wait()
        return engine, instance_id
    engine, instance_id = run(main())
    r = engine.replay(instance_id)
    assert r.status == "compensated" and r.ended is not None
    assert "'c' failed" in r.error                        # the step's error is kept
    assert [what for _, what in log] == ["undo c", "undo b", "undo a"]
    events = engine.history_frame(instance_id)
    undo_events = events[events.event.str.startswith("compensation")]
    assert list(undo_events.event) == ["compensation scheduled", "compensation completed"] * 3
    assert list(undo_events.step) == ["c", "c", "b", "b", "a", "a"]
    assert engine.table().status.tolist() == ["compensated"]


def test_a_workflow_without_compensations_still_fails():
    async def main():
        engine = Engine(flow(sleeper("a", 0.1), failing("b", 0.1)))
        instance_id = engine.start({})
        await engine.wait()
        return engine.status(instance_id)
    assert run(main())["status"] == "failed"


def test_a_crash_mid_compensation_is_finished_after_restart():
    log = []

    async def main():
        engine = Engine(saga_flow(log, undo_seconds=1.0))
        instance_id = engine.start({})
        await asyncio.sleep(1.5)                          # steps done by ~0.3 s, undo c running
        await engine.stop()
        at_crash = engine.replay(instance_id)
        await asyncio.sleep(2)
        engine.restart()
        await engine.wait()
        return engine, instance_id, at_crash
    engine, instance_id, at_crash = run(main())
    assert at_crash.status == "compensating" and at_crash.current_step == "undo b"
    assert list(at_crash.undone) == ["c"]
    r = engine.replay(instance_id)
    assert r.status == "compensated" and list(r.undone) == ["c", "b", "a"]
    assert [what for _, what in log] == ["undo c", "undo b", "undo a"]
    b_attempts = [e["detail"] for e in engine.history
                  if e["event"] == "compensation scheduled" and e["step"] == "b"]
    assert b_attempts == ["attempt 1", "attempt 1"]       # dispatched again: undos are idempotent


def test_a_restarted_engine_from_the_history_alone_finishes_the_compensation():
    log = []

    async def main():
        first = Engine(saga_flow(log, undo_seconds=1.0))
        instance_id = first.start({})
        await asyncio.sleep(1.5)
        await first.stop()
        second = Engine(saga_flow(log, undo_seconds=1.0), history=first.history)
        await second.wait()
        return second.status(instance_id)
    assert run(main())["status"] == "compensated"
    assert [what for _, what in log] == ["undo c", "undo b", "undo a"]


def test_a_compensation_that_keeps_failing_parks_the_instance_after_its_attempts():
    log = []

    async def main():
        engine = Engine(saga_flow(log, fail_undo="b"), undo_attempts=3, undo_backoff=0.5)
        instance_id = engine.start({})
        await engine.wait()
        return engine, instance_id
    engine, instance_id = run(main())
    r = engine.replay(instance_id)
    assert r.status == "parked" and r.current_step == "undo b"
    assert [what for _, what in log] == ["undo c"]        # stopped at b: a is not undone
    assert len(r.undo_errors["b"]) == 3 and "undo b broke" in r.undo_errors["b"][-1]
    scheduled = [e for e in engine.history if e["event"] == "compensation scheduled" and e["step"] == "b"]
    assert [e["detail"] for e in scheduled] == ["attempt 1", "attempt 2, after 0.5 s",
                                                "attempt 3, after 1 s"]
    parked = engine.history_frame(instance_id).iloc[-1]
    assert parked.event == "parked" and "undo b: RuntimeError: undo b broke" in parked.detail


def test_a_compensation_that_fails_once_is_retried_and_succeeds():
    log, calls = [], []

    async def flaky(instance):
        calls.append(now())
        if len(calls) == 1:
            raise RuntimeError("blip")
        log.append("undo a")

    async def main():
        from sagalab.saga import saga
        engine = Engine(saga(flow(sleeper("a", 0.1), failing("b", 0.1)), {"a": flaky}))
        instance_id = engine.start({})
        await engine.wait()
        return engine.status(instance_id)
    assert run(main())["status"] == "compensated"
    assert log == ["undo a"] and calls[1] - calls[0] >= 0.5
