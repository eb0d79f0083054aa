"""Wrong answers for lab 04 (compensation)."""
from mutants import Mutant

MUTANTS = [
    # Exercise 1 — the registration's compensations
    Mutant("Exercise 1", "the account's id read from reg.results instead of asking the service",
           'user_id = await settle(users, "create_user")', 'user_id = reg.results.get("create_user")'),
    Mutant("Exercise 1", "the profile's id read from reg.results instead of asking the service",
           'profile_id = await settle(profiles, "create_profile")',
           'profile_id = reg.results.get("create_profile")'),
    Mutant("Exercise 1", "the e-mail's fate read from reg.results instead of asking the service",
           'if await settle(emails, "send_verification"):',
           'if reg.results.get("send_verification"):'),
    Mutant("Exercise 1", "settle() not awaited (a coroutine is always truthy)",
           'profile_id = await settle(profiles, "create_profile")',
           'profile_id = settle(profiles, "create_profile")'),
    Mutant("Exercise 1", "delete_user() not awaited",
           "return await users.delete_user(user_id)", "return users.delete_user(user_id)"),
    Mutant("Exercise 1", "the account looked up by its e-mail address",
           'user_id = await settle(users, "create_user")',
           'user_id = next((u for u, rec in users.users.items() '
           'if rec["email"] == reg.input["email"]), None)'),
    Mutant("Exercise 1", "a cancellation sent whether or not a verification went out",
           'if await settle(emails, "send_verification"):', "if True:"),
    Mutant("Exercise 1", "the cancellation sent without operation='send_cancellation'",
           '"our verification e-mail", operation="send_cancellation")',
           '"our verification e-mail")'),
    # Exercise 2 — release the stock when the payment fails
    Mutant("Exercise 2", "a missing re-check after an await (no tombstone check once reserved)",
           """        await super().on_order_placed(event)     # reserve; InventoryReserved or Unavailable
        if order_id in self.tombstones:          # ... or while we were reserving
            if release_id := await self.release(order_id):
                await self.announce_release(event, release_id)
""", """        await super().on_order_placed(event)     # reserve; InventoryReserved or Unavailable
"""),
    Mutant("Exercise 2", "no tombstone: a PaymentFailed that comes first is forgotten",
           "        self.tombstones.add(order_id)\n", ""),
    Mutant("Exercise 2", "the tombstone written after the release's await",
           """        self.tombstones.add(order_id)
        if release_id := await self.release(order_id):
            await self.announce_release(event, release_id)
""", """        if release_id := await self.release(order_id):
            await self.announce_release(event, release_id)
        self.tombstones.add(order_id)
"""),
    Mutant("Exercise 2", "no early return: reserves a tombstoned order, then releases it",
           """        if order_id in self.tombstones:          # the payment failed before we got here
            return
""", ""),
    Mutant("Exercise 2", "release() not awaited in on_payment_failed",
           """        if release_id := await self.release(order_id):
            await self.announce_release(event, release_id)
        ### END SOLUTION""", """        if release_id := self.release(order_id):
            await self.announce_release(event, release_id)
        ### END SOLUTION"""),
    Mutant("Exercise 2", "InventoryReleased announced even when nothing was released",
           """        if release_id := await self.release(order_id):
            await self.announce_release(event, release_id)
        ### END SOLUTION""", """        release_id = await self.release(order_id)
        await self.announce_release(event, release_id)
        ### END SOLUTION"""),
    Mutant("Exercise 2", "the items put back by hand (not idempotent)",
           """        if release_id := await self.release(order_id):
            await self.announce_release(event, release_id)
        ### END SOLUTION""", """        if order_id in self.reservations:
            for item, n in self.reservations[order_id]["items"].items():
                self.stock[item] += n
            self.releases[order_id] = new_id("release")
            await self.announce_release(event, self.releases[order_id])
        ### END SOLUTION"""),
    # Exercise 3 — fix the compensation order
    Mutant("Exercise 3", "the colleague's bug kept: undone in the order the steps ran",
           "for name, undo in reversed(done):", "for name, undo in done:"),
    Mutant("Exercise 3", "no retry: each undo called once",
           'await retry_call(undo, policy, label=f"undo {name}")', "await undo()"),
    Mutant("Exercise 3", "off by one: `attempts` counted as retries",
           "RetryPolicy(maximum_attempts=attempts, initial_interval=0)",
           "RetryPolicy(maximum_attempts=attempts + 1, initial_interval=0)"),
    Mutant("Exercise 3", "goes on to the earlier steps after a stuck one",
           "            raise CompensationStuck(name, error) from error\n",
           "            continue\n"),
    Mutant("Exercise 3", "the undo's own error raised, not CompensationStuck",
           "            raise CompensationStuck(name, error) from error\n",
           "            raise\n"),
    Mutant("Exercise 3", "retry_call not awaited",
           'await retry_call(undo, policy, label=f"undo {name}")',
           'retry_call(undo, policy, label=f"undo {name}")'),
    Mutant("Exercise 3", "all compensations at once (gather)",
           """    for name, undo in reversed(done):
        try:
            await retry_call(undo, policy, label=f"undo {name}")
        except Exception as error:
            raise CompensationStuck(name, error) from error
        undone.append(name)
    return undone""", """    names = [name for name, _ in reversed(done)]
    results = await asyncio.gather(*(retry_call(undo, policy) for _, undo in reversed(done)),
                                   return_exceptions=True)
    for name, result in zip(names, results):
        if isinstance(result, Exception):
            raise CompensationStuck(name, result)
        undone.append(name)
    return undone"""),
]
