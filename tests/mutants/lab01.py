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
    # Exercise 2 — status with percent complete
    Mutant("Exercise 2", "int() instead of round()",
           'round(100 * len(status["done"]) / total)', 'int(100 * len(status["done"]) / total)'),
    Mutant("Exercise 2", "counts the top-level entries, not every step",
           "total = len(orch.workflow.all_steps)", "total = len(orch.workflow.steps)"),
    Mutant("Exercise 2", "an unknown id answered with 0 % instead of KeyError",
           "    status = orch.status(instance_id)\n",
           "    if instance_id not in orch.instances:\n"
           "        return {\"status\": \"unknown\", \"current_step\": None, \"percent\": 0}\n"
           "    status = orch.status(instance_id)\n"),
    Mutant("Exercise 2", "off by one: counts the step being run as done",
           'round(100 * len(status["done"]) / total)', 'round(100 * (len(status["done"]) + 1) / total)'),
    Mutant("Exercise 2", "a fraction from 0 to 1, not a percentage",
           'round(100 * len(status["done"]) / total)', 'round(len(status["done"]) / total, 2)'),
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
]
