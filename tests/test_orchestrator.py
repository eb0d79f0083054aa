"""The orchestrator of lesson 01 (sagalab/orchestrator.py, from notebooks/01_orchestration)."""
import asyncio

import pytest

from sagalab.orchestrator import (CANCELLED, COMPLETED, FAILED, PENDING, RUNNING, Instance,
                                  MissingField, Orchestrator, OrchestratorDown, Step, Workflow,
                                  WorkflowError, parallel, registration)
from sagalab.runtime import now, run
from sagalab.services import EmailService, ProfileService, UserService


def sleeper(name, seconds=1.0, log=None, fail=None):
    """A step that sleeps, notes (name, start, end) in `log`, returns `<name> done`."""
    async def step(instance):
        start = now()
        await asyncio.sleep(instance.input.get(name, seconds))
        if fail:
            raise fail
        if log is not None:
            log.append((name, start, now()))
        return f"{name} done"
    step.__name__ = name
    return step


def go(workflow, *inputs, seed=0, **options):
    """Run instances of `workflow` to the end; return the orchestrator."""
    async def main():
        orch = Orchestrator(workflow, **options)
        for i in inputs or ({},):
            orch.start(i)
        await orch.wait()
        return orch
    return run(main(), seed=seed)


def fixed_services():
    return (UserService(median=1.0, spread=0), EmailService(median=2.0, spread=0),
            ProfileService(median=1.0, spread=0))


# -- definitions -------------------------------------------------------------------------------

def test_step_names_come_from_functions_and_groups_are_named_after_their_steps():
    flow = Workflow("w", [sleeper("a"), parallel(sleeper("b"), sleeper("c")), Step("d", sleeper("x"))])
    assert [s.name for s in flow.all_steps] == ["a", "b", "c", "d"]
    assert [e.name for e in flow.steps] == ["a", "b ∥ c", "d"]
    assert repr(flow) == "Workflow('w': a → b ∥ c → d)"
    assert flow.id_prefix == "w" and Workflow("w", [sleeper("a")], id_prefix="x").id_prefix == "x"


@pytest.mark.parametrize("steps, message", [
    ([], "workflow 'bad' has no steps"),
    ([sleeper("a"), sleeper("a")], "repeated: a"),
    ([sleeper("a"), parallel(sleeper("b"), sleeper("a"))], "repeated: a"),
    ([sleeper("a"), lambda instance: None], "step '<lambda>' is not an async function"),
    ([sleeper("a"), 42], "42 is a int, not a step"),
])
def test_invalid_definitions_fail_when_defined_naming_the_problem(steps, message):
    with pytest.raises(WorkflowError, match=message):
        Workflow("bad", steps)


def test_invalid_groups_and_steps_fail_when_defined():
    with pytest.raises(WorkflowError, match="needs at least one step"):
        parallel()
    with pytest.raises(WorkflowError, match="groups do not nest"):
        parallel(sleeper("a"), parallel(sleeper("b")))
    with pytest.raises(WorkflowError, match="step 'x' is not an async function"):
        Step("x", print)
    with pytest.raises(WorkflowError, match="step 'x' is a str, not a function"):
        Step("x", "create_user")


def test_an_object_with_async_call_is_a_valid_step():
    class Callable:
        __name__ = "obj"

        async def __call__(self, instance):
            return 1

    orch = go(Workflow("w", [Callable()]))
    assert orch.instances["w-0001"].results == {"obj": 1}


# -- running -----------------------------------------------------------------------------------

def test_steps_run_in_order_each_after_the_previous_ended():
    log = []
    orch = go(Workflow("w", [sleeper("a", 1, log), sleeper("b", 2, log), sleeper("c", 0.5, log)]))
    assert log == [("a", 0.0, 1.0), ("b", 1.0, 3.0), ("c", 3.0, 3.5)]
    instance = orch.instances["w-0001"]
    assert instance.status == COMPLETED and instance.ended == 3.5
    assert instance.results == {"a": "a done", "b": "b done", "c": "c done"}


def test_a_step_receives_the_input_and_earlier_results():
    seen = {}

    async def first(instance):
        return instance.input["n"] * 2

    async def second(instance):
        seen.update(input=dict(instance.input), results=dict(instance.results))
        return instance.results["first"] + 1

    orch = go(Workflow("w", [first, second]), {"n": 5})
    assert seen == {"input": {"n": 5}, "results": {"first": 10}}
    assert orch.instances["w-0001"].results == {"first": 10, "second": 11}


def test_a_parallel_group_runs_its_steps_together():
    log = []
    orch = go(Workflow("w", [sleeper("a", 1, log), parallel(sleeper("b", 2, log), sleeper("c", 3, log)),
                             sleeper("d", 1, log)]))
    assert sorted(log) == [("a", 0.0, 1.0), ("b", 1.0, 3.0), ("c", 1.0, 4.0), ("d", 4.0, 5.0)]
    assert orch.instances["w-0001"].ended == 5.0


def test_a_failure_in_a_group_cancels_its_siblings_and_fails_the_instance():
    log = []
    orch = go(Workflow("w", [parallel(sleeper("slow", 3, log), sleeper("bad", 1, fail=ValueError("boom"))),
                             sleeper("after", 1, log)]))
    instance = orch.instances["w-0001"]
    assert instance.status == FAILED and instance.ended == 1.0
    assert instance.error == "step 'bad' failed: ValueError: boom"
    assert instance.current_step == "slow ∥ bad"
    assert {n: s.status for n, s in instance.steps.items()} == {
        "slow": CANCELLED, "bad": FAILED, "after": PENDING}
    assert log == []                                   # neither the sibling nor the next step ran


def test_many_instances_run_concurrently():
    orch = go(Workflow("w", [sleeper("a", 1), sleeper("b", 1)]), *[{} for _ in range(50)])
    table = orch.table()
    assert len(table) == 50 and set(table.status) == {COMPLETED}
    assert table.ended.max() == 2.0                    # not 100 s: they overlapped
    assert list(table.id[:3]) == ["w-0001", "w-0002", "w-0003"]


def test_capacity_bounds_how_many_run_at_once_the_others_wait_pending():
    async def main():
        orch = Orchestrator(Workflow("w", [sleeper("a", 1)]), capacity=2)
        ids = [orch.start({}) for _ in range(5)]
        await asyncio.sleep(0.5)
        early = [orch.status(i)["status"] for i in ids]
        await orch.wait()
        return orch, early

    orch, early = run(main())
    assert early == [RUNNING, RUNNING, PENDING, PENDING, PENDING]
    assert sorted(orch.table().ended) == [1.0, 1.0, 2.0, 2.0, 3.0]
    assert orch.table().elapsed.max() == 3.0


def test_run_returns_the_finished_instance():
    async def main():
        orch = Orchestrator(Workflow("w", [sleeper("a", 2)]))
        return await orch.run({})

    instance = run(main())
    assert isinstance(instance, Instance)
    assert (instance.id, instance.status, instance.ended) == ("w-0001", COMPLETED, 2.0)


# -- state, history, status --------------------------------------------------------------------

def test_state_transitions_and_history_of_a_completed_instance():
    orch = go(Workflow("w", [sleeper("a", 1), sleeper("b", 1)]))
    history = orch.history_frame("w-0001")
    assert list(history.columns) == ["time", "instance", "event", "step", "detail"]
    assert list(history.event) == ["created", "running", "step started", "step completed",
                                   "step started", "step completed", "completed"]
    assert list(history.time) == [0, 0, 0, 1, 1, 2, 2]
    assert history.detail.iloc[3] == "a done"
    steps = orch.steps_frame()
    assert list(steps.name) == ["a", "b"] and set(steps.status) == {COMPLETED}


def test_state_transitions_of_a_failed_instance():
    orch = go(Workflow("w", [sleeper("a", 1), sleeper("b", 1, fail=RuntimeError("down")), sleeper("c")]))
    history = orch.history_frame()
    assert list(history.event) == ["created", "running", "step started", "step completed",
                                   "step started", "step failed", "failed"]
    assert history.iloc[-1].to_dict() == {"time": 2.0, "instance": "w-0001", "event": "failed",
                                          "step": "b", "detail": "step 'b' failed: RuntimeError: down"}


def test_status_only_moves_forward():
    orch = go(Workflow("w", [sleeper("a")]))
    instance = orch.instances["w-0001"]
    with pytest.raises(RuntimeError, match="cannot go from completed to running"):
        orch.set_status(instance, RUNNING)
    assert instance.status == COMPLETED


def test_history_is_append_only():
    async def main():
        orch = Orchestrator(Workflow("w", [sleeper("a", 1), sleeper("b", 1)]))
        orch.start({})
        snapshots = []
        for _ in range(4):
            snapshots.append([dict(h) for h in orch.history])
            await asyncio.sleep(0.6)
        await orch.wait()
        return orch, snapshots

    orch, snapshots = run(main())
    for earlier in snapshots:
        assert orch.history[:len(earlier)] == earlier
    assert [len(s) for s in snapshots] == sorted(len(s) for s in snapshots)


def test_status_query_midway_and_at_the_end():
    async def main():
        orch = Orchestrator(registration(*fixed_services()))
        reg = orch.start({"email": "ada@example.com", "name": "Ada"})
        await asyncio.sleep(1.5)
        midway = orch.status(reg)
        await orch.wait()
        return midway, orch.status(reg)

    midway, end = run(main())
    assert midway == {"id": "reg-0001", "status": RUNNING, "current_step": "send_verification",
                      "done": ["create_user"], "error": None, "created": 0.0, "started": 0.0,
                      "ended": None}
    assert end["status"] == COMPLETED and end["current_step"] is None and end["ended"] == 4.0
    assert end["done"] == ["create_user", "send_verification", "create_profile"]


def test_unknown_instance_id_raises_key_error_naming_it():
    orch = go(Workflow("w", [sleeper("a")]))
    with pytest.raises(KeyError, match="no instance 'w-0042'") as caught:
        orch.status("w-0042")
    assert "'w-0042'" in str(caught.value) and not str(caught.value).startswith('"')


# -- bad input and failures stay inside their instance ------------------------------------------

def test_missing_input_field_fails_that_instance_only_with_a_clear_message():
    orch = go(registration(*fixed_services()),
              {"email": "ada@example.com", "name": "Ada"}, {"name": "Nobody"},
              {"email": "ken@example.com", "name": "Ken"})
    table = orch.table().set_index("id")
    assert list(table.status) == [COMPLETED, FAILED, COMPLETED]
    assert table.loc["reg-0002", "error"] == (
        "step 'create_user' failed: MissingField: the input has no field 'email' (it has: name)")
    assert table.loc["reg-0002", "current_step"] == "create_user"


def test_missing_field_is_a_key_error_naming_the_field():
    async def read(instance):
        return instance.input["email"]

    orch = go(Workflow("w", [read]), {})
    record = orch.instances["w-0001"].steps["read"]
    assert record.error == "MissingField: the input has no field 'email' (it has: nothing)"
    assert issubclass(MissingField, KeyError)


def test_a_failing_service_fails_its_instance_and_the_others_go_on():
    users, emails, profiles = fixed_services()
    orch = go(registration(users, emails, profiles),
              {"email": "a@example.com", "name": "A"}, {"email": "not-an-address", "name": "B"},
              {"email": "a@example.com", "name": "A twice"}, {"email": "c@example.com", "name": "C"})
    table = orch.table()
    assert list(table.status) == [COMPLETED, FAILED, FAILED, COMPLETED]
    assert "send_verification" in table.error[1] and "not an e-mail address" in table.error[1]
    assert "already registered" in table.error[2]
    assert len(profiles.profiles) == 2
    assert len(users.users) == 3                       # B's account exists: nothing undid it


def test_sequential_vs_parallel_registration_end_to_end():
    sequential = go(registration(*fixed_services()), {"email": "a@example.com", "name": "A"})
    together = go(registration(*fixed_services(), in_parallel=True), {"email": "a@example.com", "name": "A"})
    assert sequential.instances["reg-0001"].ended == 4.0     # 1 + 2 + 1
    assert together.instances["reg-0001"].ended == 3.0       # 1 + max(2, 1)


def test_services_record_the_instance_that_called_them():
    users, emails, profiles = fixed_services()
    go(registration(users, emails, profiles),
       {"email": "a@example.com", "name": "A"}, {"email": "b@example.com", "name": "B"})
    assert [c.caller for c in users.calls] == ["reg-0001", "reg-0002"]
    assert [c.caller for c in emails.calls] == ["reg-0001", "reg-0002"]


# -- the single point of failure ---------------------------------------------------------------

def test_stopped_orchestrator_freezes_in_flight_instances_and_refuses_new_ones():
    async def main():
        users, emails, profiles = fixed_services()
        orch = Orchestrator(registration(users, emails, profiles))
        orch.start({"email": "a@example.com", "name": "A"})
        await asyncio.sleep(0.5)
        orch.start({"email": "b@example.com", "name": "B"})
        await asyncio.sleep(1.0)                      # A is sending its e-mail, B creating its user
        await orch.stop()
        with pytest.raises(OrchestratorDown):
            orch.start({"email": "c@example.com", "name": "C"})
        await asyncio.sleep(10)                       # nobody moves the instances on
        return orch, users, emails, profiles

    orch, users, emails, profiles = run(main())
    assert [(s["status"], s["current_step"]) for s in map(orch.status, orch.instances)] == [
        (RUNNING, "send_verification"), (RUNNING, "create_user")]
    assert len(orch.instances) == 2
    # requests already sent were served: both users and A's e-mail exist, no profile does
    assert len(users.users) == 2 and len(emails.sent) == 1 and profiles.profiles == {}
    assert orch.history[-1]["time"] < 1.5            # nothing was recorded after the stop


# -- extension points --------------------------------------------------------------------------

def test_middleware_wraps_every_step_call_outermost_first():
    trace = []

    def tag(label):
        async def middleware(instance, step, call_next):
            trace.append(f"{label}>{step.name}")
            result = await call_next()
            trace.append(f"{label}<{step.name}")
            return result
        return middleware

    go(Workflow("w", [sleeper("a"), sleeper("b")]), middleware=[tag("outer"), tag("inner")])
    assert trace == ["outer>a", "inner>a", "inner<a", "outer<a",
                     "outer>b", "inner>b", "inner<b", "outer<b"]


def test_a_middleware_can_call_a_step_again():
    attempts = []

    async def flaky(instance):
        attempts.append(now())
        if len(attempts) < 3:
            raise ConnectionError("try again")
        return "ok"

    async def retry(instance, step, call_next):
        for _ in range(4):
            try:
                return await call_next()
            except ConnectionError:
                await asyncio.sleep(1)
        return await call_next()

    orch = go(Workflow("w", [flaky]), middleware=[retry])
    assert orch.instances["w-0001"].results == {"flaky": "ok"}
    assert attempts == [0.0, 1.0, 2.0]


def test_run_step_and_run_instance_can_be_overridden_around_super():
    class Counting(Orchestrator):
        steps_run, instances_run = [], []

        async def run_step(self, instance, step):
            self.steps_run.append(step.name)
            return await super().run_step(instance, step)

        async def run_instance(self, instance):
            await super().run_instance(instance)
            self.instances_run.append((instance.id, instance.status))

    async def main():
        orch = Counting(Workflow("w", [sleeper("a"), parallel(sleeper("b"), sleeper("c"))]))
        await orch.run({})
        return orch

    orch = run(main())
    assert sorted(orch.steps_run) == ["a", "b", "c"]
    assert orch.instances_run == [("w-0001", COMPLETED)]


def test_a_bug_in_an_override_surfaces_from_wait():
    class Broken(Orchestrator):
        async def run_instance(self, instance):
            raise NotImplementedError("not yet")

    async def main():
        orch = Broken(Workflow("w", [sleeper("a")]))
        orch.start({})
        await orch.wait()

    with pytest.raises(NotImplementedError, match="not yet"):
        run(main())


def test_same_seed_same_history():
    def history(seed):
        orch = go(registration(UserService(), EmailService(), ProfileService()),
                  *[{"email": f"u{i}@example.com", "name": "U"} for i in range(10)], seed=seed)
        return orch.history

    assert history(5) == history(5)
    assert history(5) != history(6)
