"""Wrong answers for lab 01 (orchestration)."""
from mutants import Mutant

MUTANTS = [
    # Exercise 1 — run steps in parallel
    Mutant("Exercise 1", "the call's parentheses forgotten (the false pass of issue 15)",
           "group.create_task(call())", "group.create_task(call)"),
    Mutant("Exercise 1", "the ExceptionGroup left unwrapped",
           "        raise errors.exceptions[0] from None", "        raise"),
    Mutant("Exercise 1", "one call after another (awaited in the loop)",
           "                tasks[name] = group.create_task(call())",
           "                tasks[name] = group.create_task(call())\n"
           "                await asyncio.wait([tasks[name]])"),
    Mutant("Exercise 1", "gather, which does not cancel the others",
           """    tasks = {}
    try:
        async with asyncio.TaskGroup() as group:
            for name, call in calls.items():
                tasks[name] = group.create_task(call())
    except ExceptionGroup as errors:
        raise errors.exceptions[0] from None
    return {name: task.result() for name, task in tasks.items()}""",
           """    results = await asyncio.gather(*(call() for call in calls.values()))
    return dict(zip(calls, results))"""),
    Mutant("Exercise 1", "results in the order they finished",
           "    return {name: task.result() for name, task in tasks.items()}",
           "    done = sorted(tasks.items(), key=lambda kv: kv[0])\n"
           "    return {name: task.result() for name, task in done}"),
    # Exercise 2 — which registrations are stuck?
    Mutant("Exercise 2", "time since the registration was created, not in the current step",
           "        waited = now() - min(running)", "        waited = now() - instance.created"),
    Mutant("Exercise 2", "completed and failed instances not skipped",
           """        if instance.status != "running":
            continue
        running = [step.start for step in instance.steps.values() if step.status == "running"]
        if not running:
            continue
        waited = now() - min(running)""",
           """        starts = [step.start for step in instance.steps.values() if step.start is not None]
        if not starts:
            continue
        waited = now() - max(starts)"""),
    Mutant("Exercise 2", "pending instances counted from their creation",
           """        if instance.status != "running":
            continue
        running = [step.start for step in instance.steps.values() if step.status == "running"]
        if not running:
            continue
        waited = now() - min(running)""",
           """        if instance.status in ("completed", "failed"):
            continue
        running = [step.start for step in instance.steps.values() if step.status == "running"]
        waited = now() - (min(running) if running else instance.created)"""),
    Mutant("Exercise 2", ">= instead of >", "        if waited > longer_than:", "        if waited >= longer_than:"),
    Mutant("Exercise 2", "not sorted (in the order the instances were started)",
           '    return sorted(rows, key=lambda row: row["for"], reverse=True)', "    return rows"),
    Mutant("Exercise 2", "shortest first",
           '    return sorted(rows, key=lambda row: row["for"], reverse=True)',
           '    return sorted(rows, key=lambda row: row["for"])'),
    Mutant("Exercise 2", "a group named by its first running step, not the group",
           '"step": instance.current_step,',
           '"step": next(n for n, s in instance.steps.items() if s.status == "running"),'),
    # Exercise 3 — a deadline for the whole workflow
    Mutant("Exercise 3", "the instance left running at its deadline (no fail)",
           """            self.fail(instance, f"deadline of {self.deadline:g} s exceeded "
                                f"during {instance.current_step!r}")""",
           "            pass"),
    Mutant("Exercise 3", "an error without the word deadline",
           'f"deadline of {self.deadline:g} s exceeded "', 'f"too slow: {self.deadline:g} s "'),
    Mutant("Exercise 3", "the deadline only around the first step (super() not awaited inside)",
           """            async with asyncio.timeout(self.deadline):
                await super().run_instance(instance)""",
           """            async with asyncio.timeout(self.deadline):
                pass
            await super().run_instance(instance)"""),
    Mutant("Exercise 3", "super().run_instance(instance) called but not awaited",
           "                await super().run_instance(instance)",
           "                super().run_instance(instance)"),
    Mutant("Exercise 3", "catches asyncio.CancelledError instead of TimeoutError",
           "        except TimeoutError:", "        except asyncio.CancelledError:"),
    Mutant("Exercise 3", "status and error set by hand instead of self.fail(...)",
           """            self.fail(instance, f"deadline of {self.deadline:g} s exceeded "
                                f"during {instance.current_step!r}")""",
           '            instance.status = "failed"\n'
           '            instance.error = f"deadline of {self.deadline:g} s exceeded"'),
    Mutant("Exercise 3", "the deadline counted from creation (the wait for a worker slot included)",
           "asyncio.timeout(self.deadline)", "asyncio.timeout(self.deadline - (now() - instance.created))"),
    # Exercise 4 — a trip booking that survives a crash
    Mutant("Exercise 4", "all three one after the other",
           'Workflow("trip", [book_flight, parallel(book_hotel, book_car)])',
           'Workflow("trip", [book_flight, book_hotel, book_car])'),
    Mutant("Exercise 4", "all three at once (the flight not first)",
           'Workflow("trip", [book_flight, parallel(book_hotel, book_car)])',
           'Workflow("trip", [parallel(book_flight, book_hotel, book_car)])'),
    Mutant("Exercise 4", "the traveller's name as the reference (two trips of one person collide)",
           "        return await flights.book(trip.id, trip.input)",
           '        return await flights.book(trip.input["traveller"], trip.input)'),
    Mutant("Exercise 4", "a fresh reference on every attempt (a repeated step books again)",
           "        return await hotels.book(trip.id, trip.input)",
           '        return await hotels.book(new_id("ref"), trip.input)'),
    Mutant("Exercise 4", "one reference for every trip",
           "        return await cars.book(trip.id, trip.input)",
           '        return await cars.book("trip", trip.input)'),
]
