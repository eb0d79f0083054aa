"""Wrong answers for lab 02 (choreography)."""
from mutants import Mutant

MUTANTS = [
    # Exercise 1 — validate the contract you read
    Mutant("Exercise 1", "extra fields rejected too (an added field is a compatible change)",
           "    return problems\n",
           "    problems += [f\"unexpected {name!r}\" for name in payload if name not in contract]\n"
           "    return problems\n"),
    Mutant("Exercise 1", "a whole-number fare refused (no int for a float field)",
           "        if kind is float and isinstance(value, int) and not isinstance(value, bool):\n"
           "            ok = True                               # 120 is a fine fare\n", ""),
    Mutant("Exercise 1", "True taken for a number (bool is an int in Python)",
           "if kind is float and isinstance(value, int) and not isinstance(value, bool):",
           "if kind is float and isinstance(value, int):"),
    Mutant("Exercise 1", "a missing field read as None (reported as a type error, not as missing)",
           "        if name not in payload:\n"
           '            problems.append(f"missing {name!r}")\n'
           "            continue\n"
           "        value = payload[name]\n",
           "        value = payload.get(name)\n"),
    Mutant("Exercise 1", "the handler reads tolerantly instead of validating (a missing fare earns 0)",
           "        problems = violations(event.payload, FLIGHT_BOOKED_V1)\n", "        problems = []\n"),
    Mutant("Exercise 1", "the handler raises on a broken contract (this bus then drops the event)",
           "            self.rejected[event.id] = problems\n            return\n",
           "            raise ValueError(f\"FlightBooked breaks its contract: {problems}\")\n"),
    # Exercise 2 — the invoice join
    Mutant("Exercise 2", "no duplicate check: a part seen again after the invoice invoices again",
           "        if order_id in self.invoices:\n"
           "            return                                  # already invoiced: a duplicate\n",
           ""),
    Mutant("Exercise 2", "the invoice remembered before publishing (a refused publish is never retried)",
           '        await self.publish("InvoiceIssued", invoice, key=event.key)\n'
           "        self.invoices[order_id] = invoice           # remembered once the work is done\n",
           "        self.invoices[order_id] = invoice\n"
           '        await self.publish("InvoiceIssued", invoice, key=event.key)\n'),
    Mutant("Exercise 2", "a part seen before counts as a duplicate (the redelivery after a refusal is dropped)",
           "        parts = self.parts.setdefault(order_id, {})\n",
           "        parts = self.parts.setdefault(order_id, {})\n"
           "        if event.topic in parts:\n"
           "            return\n"),
    Mutant("Exercise 2", "the amount read from the event just received, not from the payment part",
           '"amount": parts["PaymentProcessed"]["amount"],', '"amount": event.payload["amount"],'),
    Mutant("Exercise 2", "the parts compared in arrival order (tuple, not set)",
           "if set(parts) != set(self.NEEDS):", "if tuple(parts) != self.NEEDS:"),
    Mutant("Exercise 2", "publish called without await",
           '        await self.publish("InvoiceIssued"', '        self.publish("InvoiceIssued"'),
    Mutant("Exercise 2", "the invoice published but not stored in self.invoices",
           "        self.invoices[order_id] = invoice           # remembered once the work is done\n", ""),
    # Exercise 3 — a join across processes
    Mutant("Exercise 3", "the join state in the member's own memory (each process sees its half)",
           "        seen = await self.store.add((\"seen\", order_id), event.topic)\n",
           "        self.seen = getattr(self, \"seen\", {})\n"
           "        seen = self.seen.setdefault(order_id, set())\n"
           "        seen.add(event.topic)\n"),
    Mutant("Exercise 3", "read, add, write back (two members at once lose an update)",
           "        seen = await self.store.add((\"seen\", order_id), event.topic)\n",
           "        seen = (await self.store.read((\"seen\", order_id)) or frozenset()) | {event.topic}\n"
           "        await self.store.write((\"seen\", order_id), seen)\n"),
    Mutant("Exercise 3", "a read then a write as the claim (two members both find it free)",
           "        if not await self.store.insert_if_absent((\"shipment\", order_id), self.name):\n"
           "            return                                  # another member (or a duplicate) got there first\n",
           "        if await self.store.read((\"shipment\", order_id)) is not None:\n"
           "            return\n"
           "        await self.store.write((\"shipment\", order_id), self.name)\n"),
    Mutant("Exercise 3", "no claim: whoever sees both events ships",
           "        if not await self.store.insert_if_absent((\"shipment\", order_id), self.name):\n"
           "            return                                  # another member (or a duplicate) got there first\n",
           ""),
    Mutant("Exercise 3", "the claim taken on the first event, before the join is complete",
           "        seen = await self.store.add((\"seen\", order_id), event.topic)\n"
           "        if seen != NEEDS:\n"
           "            return                                  # the other event has not arrived anywhere\n"
           "        if not await self.store.insert_if_absent((\"shipment\", order_id), self.name):\n"
           "            return                                  # another member (or a duplicate) got there first\n",
           "        if not await self.store.insert_if_absent((\"shipment\", order_id), self.name):\n"
           "            return\n"
           "        seen = await self.store.add((\"seen\", order_id), event.topic)\n"
           "        if seen != NEEDS:\n"
           "            return\n"),
    # Exercise 4 — the emergent workflow
    Mutant("Exercise 4", "edges the wrong way round (effect, cause)",
           "edge = (topic_of[cause], topic)", "edge = (topic, topic_of[cause])"),
    Mutant("Exercise 4", "each edge counted once, not how many times",
           "edges[edge] = edges.get(edge, 0) + 1", "edges[edge] = 1"),
    Mutant("Exercise 4", "a missing caused_by tested with `is not None` (a NaN gets through)",
           "if isinstance(cause, str):", "if cause is not None:"),
    Mutant("Exercise 4", "stuck orders not sorted",
           "    return sorted(placed - shipped)", "    return list(placed - shipped)"),
    Mutant("Exercise 4", "an order placed twice listed twice",
           "    return sorted(placed - shipped)",
           '    return sorted(k for k in log.loc[log.topic == "OrderPlaced", "key"] if k not in shipped)'),
    Mutant("Exercise 4", "stuck = never paid, instead of never shipped",
           'shipped = set(log.loc[log.topic == "ShipmentCreated", "key"])',
           'shipped = set(log.loc[log.topic == "PaymentProcessed", "key"])'),
]
