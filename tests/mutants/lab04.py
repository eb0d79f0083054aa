"""Wrong answers for lab 04 (compensation)."""
from mutants import Mutant

MUTANTS = [
    # Exercise 1 — a trip-booking saga
    Mutant("Exercise 1", "the pivot too early: the car rented before the hotel is booked",
           "steps = [open_trip, book_flight, book_hotel, rent_car, confirm_trip]",
           "steps = [open_trip, book_flight, rent_car, book_hotel, confirm_trip]"),
    Mutant("Exercise 1", "the trip confirmed before the pivot (the lock released too early)",
           "steps = [open_trip, book_flight, book_hotel, rent_car, confirm_trip]",
           "steps = [open_trip, book_flight, book_hotel, confirm_trip, rent_car]"),
    Mutant("Exercise 1", "the trip confirmed at once: no semantic lock at all",
           "steps = [open_trip, book_flight, book_hotel, rent_car, confirm_trip]",
           "steps = [open_trip, confirm_trip, book_flight, book_hotel, rent_car]"),
    Mutant("Exercise 1", "the flight's booking read from t.results instead of asking the airline",
           'booking_id = await settle(flights, "book")',
           'booking_id = t.results.get("book_flight")'),
    Mutant("Exercise 1", "the hotel's booking read from t.results instead of asking the hotel",
           'booking_id = await settle(hotels, "book")',
           'booking_id = t.results.get("book_hotel")'),
    Mutant("Exercise 1", "no compensation for the hotel",
           """    compensations = {"open_trip": cancel_trip, "book_flight": cancel_flight,
                     "book_hotel": cancel_hotel}""",
           """    compensations = {"open_trip": cancel_trip, "book_flight": cancel_flight}"""),
    Mutant("Exercise 1", "the trip never cancelled: the lock is never released on failure",
           """    compensations = {"open_trip": cancel_trip, "book_flight": cancel_flight,
                     "book_hotel": cancel_hotel}""",
           """    compensations = {"book_flight": cancel_flight, "book_hotel": cancel_hotel}"""),
    Mutant("Exercise 1", "settle() not awaited (a coroutine is always truthy)",
           'booking_id = await settle(flights, "book")', 'booking_id = settle(flights, "book")'),
    Mutant("Exercise 1", "the hotel's compensation cancels the flight's booking id",
           """        booking_id = await settle(hotels, "book")
        if booking_id:
            return await hotels.cancel(booking_id)""",
           """        booking_id = await settle(flights, "book")
        if booking_id:
            return await flights.cancel(booking_id)"""),
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
    # Exercise 3 — the compensation loop, reviewed
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
    # Exercise 4 — a ride the deadline may not cancel
    Mutant("Exercise 4", "the naive deadline: every expiry cancels, the pivot is not asked",
           """        if ride_id in self.begun:            # a driver is (about to be) on the way: say no
            self.refused.append(ride_id)
            return
""", ""),
    Mutant("Exercise 4", "the pivot marked only once the driver is assigned (after the await)",
           """        self.begun.add(ride_id)              # decided here, before any await: the pivot begins
        driver = await self.assign(ride_id)
""", """        driver = await self.assign(ride_id)
        self.begun.add(ride_id)
"""),
    Mutant("Exercise 4", "no tombstone: a request after the expiry still sends a driver",
           "        if ride_id in self.closed or ride_id in self.begun:   # expired first, or a repeat\n",
           "        if ride_id in self.begun:\n"),
    Mutant("Exercise 4", "RideCancelled announced for every repeated deadline",
           """        if ride_id not in self.closed:       # once, however often the deadline comes
            self.closed.add(ride_id)
            await self.publish(""", """        if True:
            self.closed.add(ride_id)
            await self.publish("""),
    Mutant("Exercise 4", "the deadline never cancels: every expiry refused",
           """        if ride_id in self.begun:            # a driver is (about to be) on the way: say no
            self.refused.append(ride_id)
            return
""", """        self.refused.append(ride_id)
        return
"""),
    Mutant("Exercise 4", "a repeated request sends a second driver",
           "        if ride_id in self.closed or ride_id in self.begun:   # expired first, or a repeat\n",
           "        if ride_id in self.closed:\n"),
]
