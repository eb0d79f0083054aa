"""The simulated-time runtime: determinism, the clock, leftovers, deadlocks, bad input."""
import asyncio
import threading
import time

import pytest

from sagalab import runtime
from sagalab.runtime import SimulatedDeadlock, last_run, new_id, now, rng, run


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
