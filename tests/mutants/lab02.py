"""Wrong answers for lab 02 (choreography)."""
from mutants import Mutant

MUTANTS = [
    # Exercise 1 — add a subscriber
    Mutant("Exercise 1", "the handler written but never subscribed",
           '        self.react("PaymentProcessed", self.on_payment_processed)\n', "        pass\n"),
    Mutant("Exercise 1", "subscribed to OrderPlaced (it has an amount too) instead of PaymentProcessed",
           'self.react("PaymentProcessed"', 'self.react("OrderPlaced"'),
    Mutant("Exercise 1", "bus.subscribe without a group (named after the handler, not the service)",
           '        self.react("PaymentProcessed", self.on_payment_processed)',
           '        self.bus.subscribe("PaymentProcessed", self.on_payment_processed)'),
    Mutant("Exercise 1", "each payment replaces the customer's revenue instead of adding to it",
           '        self.revenue[customer] = self.revenue.get(customer, 0.0) + event.payload["amount"]',
           '        self.revenue[customer] = event.payload["amount"]'),
    Mutant("Exercise 1", "the update wrapped in self.call(...) but not awaited",
           '        self.revenue[customer] = self.revenue.get(customer, 0.0) + event.payload["amount"]',
           '        amount = event.payload["amount"]\n'
           '        self.call("record_payment", lambda: self.revenue.update(\n'
           '            {customer: self.revenue.get(customer, 0.0) + amount}))'),
    # (No longer a wrong answer: "a processing time drawn from the run's random generator".
    # Since every service and fault plan draws from a stream of its own (paired randomness),
    # a subscriber's draws shift nobody else's events, which is what the check measures.)
    Mutant("Exercise 1", "announces RevenueRecorded (an event nobody asked for)",
           '        self.revenue[customer] = self.revenue.get(customer, 0.0) + event.payload["amount"]',
           '        self.revenue[customer] = self.revenue.get(customer, 0.0) + event.payload["amount"]\n'
           '        await self.publish("RevenueRecorded", {"customer": customer,\n'
           '                                               "revenue": self.revenue[customer]},\n'
           '                           key=customer)'),
    # Exercise 2 — the invoice join
    Mutant("Exercise 2", "no duplicate check: a part seen again after the invoice invoices again",
           "        if event.topic in parts or order_id in self.invoices:\n"
           "            return                                  # a duplicate, or already invoiced\n",
           ""),
    Mutant("Exercise 2", "the amount read from the event just received, not from the payment part",
           '"amount": parts["PaymentProcessed"]["amount"],', '"amount": event.payload["amount"],'),
    Mutant("Exercise 2", "the parts compared in arrival order (tuple, not set)",
           "if set(parts) != set(self.NEEDS):", "if tuple(parts) != self.NEEDS:"),
    Mutant("Exercise 2", "publish called without await",
           '        await self.publish("InvoiceIssued"', '        self.publish("InvoiceIssued"'),
    Mutant("Exercise 2", "the invoice published but not stored in self.invoices",
           "        self.invoices[order_id] = invoice\n", ""),
    # Exercise 3 — competing consumers
    Mutant("Exercise 3", "each packer in a group of its own (every packer packs every event)",
           '        bus.subscribe("OrderPaid", pack, group="Packing")',
           '        bus.subscribe("OrderPaid", pack, group=f"Packing {_}")'),
    Mutant("Exercise 3", "the ledger in the packers' group (it competes with them)",
           'bus.subscribe("OrderPaid", record, group="Ledger")',
           'bus.subscribe("OrderPaid", record, group="Packing")'),
    Mutant("Exercise 3", "off by one: range(packers - 1)", "range(packers)", "range(packers - 1)"),
    Mutant("Exercise 3", "a single packer whatever `packers` says",
           "    for _ in range(packers):\n", "    for _ in range(1):\n"),
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
