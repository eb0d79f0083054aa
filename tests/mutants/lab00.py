"""Wrong answers for lab 00 (concurrency warm-up)."""
from mutants import Mutant

MUTANTS = [
    # Exercise 1 — two calls at once
    Mutant("Exercise 1", "one call after another (each awaited in turn)",
           "    return list(await asyncio.gather(fake_service(*first), fake_service(*second)))",
           "    return [await fake_service(*first), await fake_service(*second)]"),
    Mutant("Exercise 1", "answers in the order they finish (as_completed)",
           "    return list(await asyncio.gather(fake_service(*first), fake_service(*second)))",
           "    calls = [fake_service(*first), fake_service(*second)]\n"
           "    return [await answer for answer in asyncio.as_completed(calls)]"),
    Mutant("Exercise 1", "gather returned without await",
           "    return list(await asyncio.gather(fake_service(*first), fake_service(*second)))",
           "    return asyncio.gather(fake_service(*first), fake_service(*second))"),
    Mutant("Exercise 1", "the tuples passed without unpacking them (no *)",
           "fake_service(*first), fake_service(*second)", "fake_service(first), fake_service(second)"),
    # Exercise 2 — a timeout around a slow call
    Mutant("Exercise 2", "waits for the answer, then compares the latency with the timeout",
           "        return await asyncio.wait_for(fake_service(name, latency), timeout)",
           "        answer = await fake_service(name, latency)\n"
           "        return answer if latency <= timeout else \"timed out\""),
    Mutant("Exercise 2", "catches CancelledError instead of TimeoutError",
           "    except asyncio.TimeoutError:", "    except asyncio.CancelledError:"),
    Mutant("Exercise 2", "wait_for returned without await (a coroutine)",
           "        return await asyncio.wait_for(", "        return asyncio.wait_for("),
    Mutant("Exercise 2", "the error caught but nothing returned",
           '        return "timed out"', "        pass"),
    # Exercise 3 — at most limit calls at a time
    Mutant("Exercise 3", "a new semaphore inside each call (so no limit at all)",
           "    async def one(i: int, latency: float) -> str:\n        async with gate:",
           "    async def one(i: int, latency: float) -> str:\n"
           "        gate = asyncio.Semaphore(limit)\n        async with gate:"),
    Mutant("Exercise 3", "Semaphore() without the limit (its default is 1)",
           "asyncio.Semaphore(limit)", "asyncio.Semaphore()"),
    Mutant("Exercise 3", "in batches of `limit`, each batch waiting for its slowest call",
           "    return list(await asyncio.gather(*(one(i, s) for i, s in enumerate(latencies))))",
           "    answers = []\n"
           "    for start in range(0, len(latencies), limit):\n"
           "        batch = enumerate(latencies[start:start + limit], start)\n"
           "        answers += await asyncio.gather(*(one(i, s) for i, s in batch))\n"
           "    return answers"),
    Mutant("Exercise 3", "the call inside `async with` not awaited",
           "            return await fake_service(", "            return fake_service("),
    Mutant("Exercise 3", "answers in the order they finish (as_completed)",
           "    return list(await asyncio.gather(*(one(i, s) for i, s in enumerate(latencies))))",
           "    calls = [one(i, s) for i, s in enumerate(latencies)]\n"
           "    return [await answer for answer in asyncio.as_completed(calls)]"),
]
