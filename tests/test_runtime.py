"""The simulated-time runtime: determinism, the clock, leftovers, deadlocks, bad input."""
import asyncio
import math
import threading
import time

import pytest

from sagalab import runtime
from sagalab.runtime import (RunLimit, SimulatedDeadlock, SimulatedRunaway, last_run, new_id,
                             now, rng, run)


async def jittery_workers(n: int = 5) -> list[tuple[float, str, str]]:
    """Workers that sleep random amounts and race for a lock: a trace that depends on the
    seed and on the exact interleaving."""
    trace, lock = [], asyncio.Lock()

    async def worker(name: str):
        for _ in range(3):
            await asyncio.sleep(rng().expovariate(1.0))
            async with lock:
                trace.append((now(), name, new_id("job")))
                await asyncio.sleep(rng().random() / 10)

    await asyncio.gather(*(worker(f"w{i}") for i in range(n)))
    return trace


def test_same_seed_gives_identical_trace_and_other_seed_differs():
    first = run(jittery_workers(), seed=3)
    assert first == run(jittery_workers(), seed=3)
    assert first != run(jittery_workers(), seed=4)
    assert [job for _, _, job in first] == [f"job-{i:04d}" for i in range(1, 16)]


def test_clock_jumps_instead_of_waiting():
    async def long_wait():
        await asyncio.sleep(3600)
        await asyncio.sleep(0.5)
        return now()

    started = time.perf_counter()
    assert run(long_wait()) == 3600.5
    assert time.perf_counter() - started < 1.0


def test_timeouts_and_wait_for_use_simulated_time():
    async def timed_out():
        try:
            await asyncio.wait_for(asyncio.sleep(100), timeout=2.5)
        except asyncio.TimeoutError:
            return now()

    async def with_timeout_block():
        try:
            async with asyncio.timeout(7):
                await asyncio.sleep(100)
        except TimeoutError:
            return now()

    assert run(timed_out()) == 2.5
    assert run(with_timeout_block()) == 7


def test_each_run_starts_at_zero_with_fresh_ids():
    async def stamp():
        await asyncio.sleep(1)
        return now(), new_id("order"), new_id("order"), new_id("user")

    assert run(stamp()) == (1, "order-0001", "order-0002", "user-0001")
    assert run(stamp()) == (1, "order-0001", "order-0002", "user-0001")


def test_leftover_tasks_are_cancelled_awaited_and_reported(capsys):
    cleaned_up = []

    async def poller():
        try:
            await asyncio.sleep(10_000)
        finally:
            cleaned_up.append(now())

    async def main():
        asyncio.create_task(poller(), name="poller")
        asyncio.create_task(asyncio.sleep(5))
        await asyncio.sleep(1)
        return "done"

    assert run(main()) == "done"
    assert cleaned_up == [1]                       # cancelled (and awaited) at t=1
    assert last_run().leftovers == ["poller", "sleep"]
    assert "cancelled: poller, sleep" in capsys.readouterr().out


def test_no_report_when_nothing_is_left(capsys):
    run(asyncio.sleep(1))
    assert last_run().leftovers == []
    assert capsys.readouterr().out == ""


def test_deadlock_raises_naming_the_waiting_tasks():
    async def main():
        never = asyncio.Event()
        waiter = asyncio.create_task(never.wait(), name="waits-for-reply")
        await asyncio.sleep(2)
        await waiter

    with pytest.raises(SimulatedDeadlock, match=r"t=2s.*main, waits-for-reply"):
        run(main())


def test_exception_surfaces_with_its_own_traceback():
    async def failing_step():
        await asyncio.sleep(1)
        raise ValueError("payment declined")

    with pytest.raises(ValueError, match="payment declined") as info:
        run(failing_step())
    assert "failing_step" in [entry.name for entry in info.traceback]


@pytest.mark.parametrize("bad", [lambda: None, 42, "main()"])
def test_non_coroutine_is_rejected_with_a_clear_type_error(bad):
    with pytest.raises(TypeError, match="needs a coroutine object"):
        run(bad)


def test_coroutine_function_instead_of_call_is_named():
    async def main():
        return 1

    with pytest.raises(TypeError, match="function"):
        run(main)


def test_helpers_outside_a_run_explain_themselves():
    with pytest.raises(RuntimeError, match="not inside a sagalab run"):
        now()


def test_threads_are_refused_in_simulated_time():
    async def main():
        await asyncio.to_thread(time.sleep, 0.01)

    with pytest.raises(RuntimeError, match="threads cannot run in simulated time"):
        run(main())


def test_realtime_mode_takes_real_time():
    async def main():
        await asyncio.sleep(0.05)
        await asyncio.to_thread(time.sleep, 0.01)   # threads are fine in real time
        return now()

    started = time.perf_counter()
    elapsed = run(main(), realtime=True)
    assert 0.05 <= elapsed < 1.0
    assert time.perf_counter() - started >= 0.05


def like_a_kernel(cell):
    """Run `cell()` on a plain asyncio loop, as ipykernel runs a cell, in a thread of its own
    (so whatever loop the test runner's thread may hold does not matter)."""
    box = []
    worker = threading.Thread(target=lambda: box.append(asyncio.run(cell())))
    worker.start()
    worker.join()
    return box[0]


def test_run_from_inside_a_running_loop_uses_a_worker_thread():
    """What a Jupyter cell does: call run() while this thread's loop is running."""
    async def inner():
        await asyncio.sleep(60)
        return threading.current_thread().name, now()

    async def kernel_cell():
        return run(inner(), seed=1)

    assert like_a_kernel(kernel_cell) == ("sagalab-run", 60)


def test_arun_awaits_without_blocking_the_calling_loop():
    async def inner():
        await asyncio.sleep(30)
        return now()

    async def kernel_cell():
        return await runtime.arun(inner())

    assert like_a_kernel(kernel_cell) == 30


def test_many_cancelled_timers_are_dropped_from_the_heap():
    async def main():
        for _ in range(2000):   # every wait_for leaves a cancelled timeout timer behind
            await asyncio.wait_for(asyncio.sleep(0.001), timeout=1000)
        loop = asyncio.get_running_loop()
        return len(loop._scheduled)

    assert run(main()) < 600



# ---- the runaway guard and run(until=...) (issue 17 item 4)

DAY = 24 * 3600.0
beats: list[float] = []


async def heartbeat(period: float = 1.0):
    """A periodic task that never ends: it keeps the simulated clock moving for ever."""
    try:
        while True:
            await asyncio.sleep(period)
    finally:
        beats.append(now())          # cancelled (and awaited) when the run ends


async def heartbeat_and_an_event_nobody_sets():
    asyncio.create_task(heartbeat(), name="heartbeat")
    await asyncio.create_task(asyncio.Event().wait(), name="waiting-for-a-reply")


def test_runaway_heartbeat_and_an_event_nobody_sets_ends_naming_the_waiting_tasks(capsys):
    beats.clear()
    with pytest.raises(SimulatedRunaway, match=r"Waiting: main, waiting-for-a-reply\. "
                                               r"Looping on timers: heartbeat") as info:
        run(heartbeat_and_an_event_nobody_sets())
    assert isinstance(info.value, SimulatedDeadlock)     # a deadlock behind a ticking clock
    stopped_at = last_run().now()
    assert DAY < stopped_at < 2 * DAY                  # one quiet simulated day, and a look
    assert beats == [stopped_at]                       # the heartbeat was cancelled and awaited
    assert last_run().leftovers == ["heartbeat", "main", "waiting-for-a-reply"]
    assert "[sagalab]" not in capsys.readouterr().out  # the error names them: no second report
    with pytest.raises(SimulatedRunaway, match=f"t={stopped_at:g}s"):   # deterministic
        run(heartbeat_and_an_event_nobody_sets())


def test_runaway_when_main_itself_waits_on_an_event_nobody_sets():
    async def main():
        for k in range(3):
            asyncio.create_task(heartbeat(period=0.5 + k), name=f"heartbeat-{k}")
        await asyncio.Event().wait()

    with pytest.raises(SimulatedRunaway, match=r"Waiting: main\. "
                                               r"Looping on timers: heartbeat-0, heartbeat-1"):
        run(main())


async def sleeps_10_000_times_over_a_day() -> float:
    """An ordinary long run: 10,000 sleeps over a simulated day, beside a heartbeat and a
    task stuck on an Event (left over, not the main task's business)."""
    asyncio.create_task(heartbeat(), name="heartbeat")
    asyncio.create_task(asyncio.Event().wait(), name="stuck-leftover")
    for _ in range(10_000):
        await asyncio.sleep(DAY / 10_000)
    return now()


async def worker(sleeps: int = 20_000, each: float = 8.64) -> float:
    for _ in range(sleeps):
        await asyncio.sleep(each)
    return now()


async def waits_for_a_sleeping_worker(how: str) -> float:
    """The main task waits two simulated days on the same future while only timers fire:
    not a runaway, because time resolves it (the worker sleeps)."""
    asyncio.create_task(heartbeat(), name="heartbeat")
    task = asyncio.create_task(worker(), name="worker")
    if how == "await the task":
        return await task
    if how == "gather":
        return (await asyncio.gather(task))[0]
    if how == "asyncio.wait":
        await asyncio.wait([task])
        return task.result()
    if how == "wait_for":
        return await asyncio.wait_for(task, timeout=10 * DAY)
    raise AssertionError(how)


async def waits_with_a_deadline() -> float:
    asyncio.create_task(heartbeat(), name="heartbeat")
    try:
        async with asyncio.timeout(3 * DAY):        # a timer will end this wait
            await asyncio.Event().wait()
    except TimeoutError:
        return now()


async def waits_on_an_event_while_a_queue_flows() -> float:
    """The main task waits five simulated days on one Event, but consumers are woken by
    what a producer puts: that is progress, however long it takes."""
    queue, done, handled = asyncio.Queue(), asyncio.Event(), []

    async def producer():
        for i in range(40_000):
            await asyncio.sleep(10)
            await queue.put(i)

    async def consumer():
        while True:
            handled.append(await queue.get())
            await asyncio.sleep(rng().uniform(5, 15))
            if len(handled) == 40_000:
                done.set()

    asyncio.create_task(producer(), name="producer")
    for k in range(2):
        asyncio.create_task(consumer(), name=f"consumer-{k}")
    await done.wait()
    return now()


@pytest.mark.parametrize("long_run, ends_at", [
    (lambda: sleeps_10_000_times_over_a_day(), DAY),
    (lambda: waits_for_a_sleeping_worker("await the task"), 2 * DAY),
    (lambda: waits_for_a_sleeping_worker("gather"), 2 * DAY),
    (lambda: waits_for_a_sleeping_worker("asyncio.wait"), 2 * DAY),
    (lambda: waits_for_a_sleeping_worker("wait_for"), 2 * DAY),
    (lambda: waits_with_a_deadline(), 3 * DAY),
    (lambda: waits_on_an_event_while_a_queue_flows(), 400_000),
], ids=["10,000 sleeps over a day", "await a sleeping task", "gather", "asyncio.wait",
        "wait_for", "asyncio.timeout", "queue flow"])
def test_ordinary_long_runs_are_not_cut(long_run, ends_at):
    assert run(long_run(), seed=1) == pytest.approx(ends_at, rel=1e-3)


def test_a_poller_that_sets_the_event_after_days_needs_until_inf():
    """The guard's documented limit: the main task waiting on an Event that only a timer loop
    sets, days later, looks exactly like a runaway. Bounding the run explicitly (here: with
    no bound at all) turns the guard off."""
    async def main():
        done = asyncio.Event()

        async def poller():
            while now() < 3 * DAY:
                await asyncio.sleep(60)
            done.set()

        asyncio.create_task(poller(), name="poller")
        await done.wait()
        return now()

    with pytest.raises(SimulatedRunaway, match="Waiting: main. Looping on timers: poller"):
        run(main())
    assert run(main(), until=math.inf) == pytest.approx(3 * DAY)


async def main_sleeps_100s_beside_a_heartbeat(finished: list):
    asyncio.create_task(heartbeat(), name="heartbeat")
    try:
        await asyncio.sleep(100)
        return "done"
    finally:
        finished.append(now())


def test_until_bounds_a_run_what_is_due_at_the_bound_still_happens(capsys):
    finished: list = []
    assert run(main_sleeps_100s_beside_a_heartbeat(finished), until=100) == "done"
    assert finished == [100]
    capsys.readouterr()

    beats.clear()
    with pytest.raises(RunLimit, match=r"until=99.5s, before the main coroutine returned; "
                                       r"cancelled: heartbeat, main"):
        run(main_sleeps_100s_beside_a_heartbeat(finished), until=99.5)
    assert isinstance(RunLimit("x"), TimeoutError)
    assert finished == [100, 99.5] and beats == [99.5]   # stopped at t=until, cleaned up
    assert last_run().now() == 99.5 and last_run().leftovers == ["heartbeat", "main"]
    assert "[sagalab]" not in capsys.readouterr().out    # the error names them: no second report


def test_until_stops_a_runaway_at_its_bound_instead_of_the_guard():
    with pytest.raises(RunLimit, match="until=3600s"):
        run(heartbeat_and_an_event_nobody_sets(), until=3600)
    assert last_run().now() == 3600


def test_until_bounds_a_real_time_run():
    started = time.perf_counter()
    with pytest.raises(RunLimit, match="until=0.1s.*cancelled: main"):
        run(asyncio.sleep(30), realtime=True, until=0.1)
    assert time.perf_counter() - started < 5


def test_until_from_a_notebook_cell_worker_thread_and_arun():
    async def kernel_cell():
        with pytest.raises(RunLimit):
            run(asyncio.sleep(7200), until=3600)
        with pytest.raises(RunLimit):
            await runtime.arun(asyncio.sleep(7200), until=3600)
        return await runtime.arun(asyncio.sleep(60), until=3600)

    assert like_a_kernel(kernel_cell) is None


@pytest.mark.parametrize("bad", [0, -1, 0.0, float("nan"), -math.inf, "10", None.__class__, True, [5]])
@pytest.mark.parametrize("caller", ["run", "arun"])
def test_bad_until_is_refused_naming_it_before_anything_starts(bad, caller):
    coro = asyncio.sleep(1)
    with pytest.raises(ValueError, match=r"until must be a positive number of seconds.*not "):
        if caller == "run":
            run(coro, until=bad)
        else:
            asyncio.run(runtime.arun(coro, until=bad))
    assert coro.cr_frame is None          # closed, so Python will not warn "never awaited"


# ---- notebook 00's teaching loop and the tuned SimulatedLoop keep the same times (issue 16)

def _teaching_loop() -> dict:
    """Notebook 00's teaching-loop cell, executed on its own (it imports what it needs)."""
    import nbformat
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "notebooks" / "00_welcome.ipynb"
    cells = [c for c in nbformat.read(path, as_version=4).cells if c.get("id") == "hood-teaching-loop"]
    assert len(cells) == 1, "notebook 00 has no cell with id 'hood-teaching-loop'"
    namespace: dict = {}
    exec(compile(cells[0].source, f"{path.name}:hood-teaching-loop", "exec"), namespace)
    return namespace


async def timeouts_and_queues() -> list[tuple[float, str]]:
    """Timers cancelled by wait_for, a Queue and a Lock: what the tuned loop hand-optimises."""
    trace, queue = [], asyncio.Queue()

    async def producer():
        for i in range(20):
            await asyncio.sleep(rng().expovariate(2.0))
            await queue.put(new_id("msg"))

    async def consumer(name: str):
        while True:
            try:
                msg = await asyncio.wait_for(queue.get(), timeout=rng().uniform(0.1, 1.0))
            except asyncio.TimeoutError:
                trace.append((now(), f"{name} timed out"))
                continue
            trace.append((now(), f"{name} got {msg}"))
            if msg == "msg-0020":
                return

    tasks = [asyncio.create_task(consumer(f"c{i}")) for i in range(2)]
    await producer()
    await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    for task in tasks:          # the teaching loop leaves no task behind only if we do not
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return trace


@pytest.mark.parametrize("workload", [jittery_workers, timeouts_and_queues])
def test_teaching_loop_in_notebook_00_gives_the_runtimes_times(workload):
    teaching_run = _teaching_loop()["teaching_run"]
    for seed in range(5):
        taught, tuned = teaching_run(workload(), seed=seed), run(workload(), seed=seed)
        assert [step[1:] for step in taught] == [step[1:] for step in tuned], f"seed {seed}"
        assert [t for t, *_ in taught] == pytest.approx([t for t, *_ in tuned], abs=1e-9)


def test_teaching_loop_reports_a_deadlock_instead_of_hanging():
    teaching_run = _teaching_loop()["teaching_run"]

    async def waits_forever():
        await asyncio.Event().wait()

    with pytest.raises(RuntimeError, match="deadlock"):
        teaching_run(waits_forever())


# -- how code finds its run: a context variable, not a question to asyncio ---------------------
def test_every_task_and_callback_of_a_run_finds_that_run():
    """now() and new_id() reach the run from a task started by a task and from a plain
    call_soon callback; a run nested in a run (on its worker thread) has its own clock."""
    seen = {}

    async def inner():
        await asyncio.sleep(2)
        return runtime.now(), new_id("inner")

    async def main():
        await asyncio.sleep(5)

        async def grandchild():
            await asyncio.sleep(1)
            seen["grandchild"] = runtime.now(), new_id("x")

        async def child():
            await asyncio.create_task(grandchild())

        await asyncio.create_task(child())
        done = asyncio.get_running_loop().create_future()
        asyncio.get_running_loop().call_soon(
            lambda: (seen.setdefault("callback", (runtime.now(), new_id("x"))),
                     done.set_result(None)))
        await done
        seen["nested"] = runtime.run(inner(), seed=3)   # a run inside a run: a worker thread
        seen["after"] = runtime.now(), new_id("x")

    runtime.run(main())
    assert seen == {"grandchild": (6.0, "x-0001"), "callback": (6.0, "x-0002"),
                    "nested": (2.0, "inner-0001"), "after": (6.0, "x-0003")}


def test_running_loop_is_asyncios_running_loop_inside_and_outside_a_run():
    async def which():
        return runtime.running_loop() is asyncio.get_running_loop()

    assert runtime.run(which()) is True
    assert asyncio.run(which()) is True          # plain asyncio, no sagalab run
    with pytest.raises(RuntimeError, match="no running event loop"):
        runtime.running_loop()


def test_a_loop_that_carries_its_run_itself_is_still_found():
    """The teaching loop of notebook 00 sets `loop.sagalab_run` and nothing else."""
    loop = runtime.SimulatedLoop()
    loop.sagalab_run = runtime.Run(seed=0, _loop=loop)

    async def main():
        await asyncio.sleep(4)
        return runtime.now(), new_id("t")

    try:
        assert loop.run_until_complete(main()) == (4.0, "t-0001")
    finally:
        loop.close()


def test_the_shortcuts_never_ask_asyncio_for_the_running_loop(monkeypatch):
    """Asking costs a getpid() system call in Python 3.11; now() is called ~17 times an order."""
    asked = []
    real = runtime.events._get_running_loop

    def counting():
        asked.append(1)
        return real()

    async def main():
        monkeypatch.setattr(runtime.events, "_get_running_loop", counting)
        monkeypatch.setattr(runtime.asyncio, "get_running_loop", counting)
        try:
            values = (runtime.now(), new_id("a"), runtime.stream("s").random(),
                      runtime.kept(), runtime.records(), runtime.running_loop())
        finally:
            monkeypatch.undo()
        return values

    run(main())
    assert asked == []
