"""Wrong answers for lab 03 (failures)."""
from mutants import Mutant

MUTANTS = [
    # Exercise 1 — exponential backoff with full jitter
    Mutant("Exercise 1", "the module `random` instead of the run's rng()",
           "await asyncio.sleep(rng().uniform(0.0, cap))",
           "await asyncio.sleep(random.uniform(0.0, cap))"),
    Mutant("Exercise 1", "no jitter: waits the cap itself",
           "await asyncio.sleep(rng().uniform(0.0, cap))", "await asyncio.sleep(cap)"),
    Mutant("Exercise 1", "no cap: maximum_interval forgotten",
           "cap = min(maximum_interval, initial_interval * backoff_coefficient ** (attempt - 1))",
           "cap = initial_interval * backoff_coefficient ** (attempt - 1)"),
    Mutant("Exercise 1", "off by one in the exponent (the first retry already doubled)",
           "backoff_coefficient ** (attempt - 1))", "backoff_coefficient ** attempt)"),
    Mutant("Exercise 1", "a little jitter added to the cap instead of full jitter",
           "await asyncio.sleep(rng().uniform(0.0, cap))",
           "await asyncio.sleep(cap + rng().uniform(0.0, 0.1))"),
    Mutant("Exercise 1", "the sleep not awaited",
           "await asyncio.sleep(rng().uniform(0.0, cap))",
           "asyncio.sleep(rng().uniform(0.0, cap))"),
    Mutant("Exercise 1", "the call not awaited (returns a coroutine)",
           "return await call()", "return call()"),
    Mutant("Exercise 1", "retries a non-retryable error too",
           "if type(error).__name__ in non_retryable or attempt == maximum_attempts:",
           "if attempt == maximum_attempts:"),
    Mutant("Exercise 1", "off by one: maximum_attempts counted as retries",
           "for attempt in range(1, maximum_attempts + 1):",
           "for attempt in range(0, maximum_attempts + 1):"),
    Mutant("Exercise 1", "gives up silently after the last attempt (returns None)",
           "if type(error).__name__ in non_retryable or attempt == maximum_attempts:\n"
           "                raise",
           "if type(error).__name__ in non_retryable:\n"
           "                raise\n"
           "            if attempt == maximum_attempts:\n"
           "                return None"),
    Mutant("Exercise 1", "the last error wrapped in a new one",
           "if type(error).__name__ in non_retryable or attempt == maximum_attempts:\n"
           "                raise",
           "if type(error).__name__ in non_retryable:\n"
           "                raise\n"
           "            if attempt == maximum_attempts:\n"
           "                raise RuntimeError(f'gave up after {attempt} attempts') from error"),
    # Exercise 2 — retry or not?
    Mutant("Exercise 2", "every 5xx retried (>= 500 instead of the list)",
           "return error.status in RETRYABLE_STATUSES",
           "return error.status >= 500 or error.status in (408, 429)"),
    Mutant("Exercise 2", "408 and 429 forgotten: only 5xx retried",
           "return error.status in RETRYABLE_STATUSES",
           "return error.status in {500, 502, 503, 504}"),
    Mutant("Exercise 2", "the injected faults forgotten",
           "return isinstance(error, (TimeoutError, ConnectionError, InjectedFault))",
           "return isinstance(error, (TimeoutError, ConnectionError))"),
    Mutant("Exercise 2", "a cancellation treated like a timeout",
           "return isinstance(error, (TimeoutError, ConnectionError, InjectedFault))",
           "return isinstance(error, (TimeoutError, ConnectionError, InjectedFault, "
           "asyncio.CancelledError))"),
    Mutant("Exercise 2", "a list of errors NOT to retry (everything else is retried)",
           "return isinstance(error, (TimeoutError, ConnectionError, InjectedFault))",
           "return not isinstance(error, (CardDeclined, ValueError, KeyError, TypeError))"),
    Mutant("Exercise 2", "only the exact classes ConnectionError and InjectedFault, not subclasses",
           "return isinstance(error, (TimeoutError, ConnectionError, InjectedFault))",
           "return type(error) in (TimeoutError, ConnectionError, InjectedFault)"),
    # Exercise 3 — a timeout from a latency distribution
    Mutant("Exercise 3", "off by one: the sample just above T",
           "return ordered[len(ordered) - 1 - allowed]", "return ordered[len(ordered) - allowed]"),
    Mutant("Exercise 3", "the samples not sorted",
           "ordered = sorted(samples)", "ordered = list(samples)"),
    Mutant("Exercise 3", "an interpolated percentile (np.quantile) instead of a sample",
           "return ordered[len(ordered) - 1 - allowed]",
           "return float(np.quantile(ordered, 1 - false_timeout_budget))"),
    Mutant("Exercise 3", "the slowest sample: safe but far too long",
           "return ordered[len(ordered) - 1 - allowed]", "return ordered[-1]"),
    Mutant("Exercise 3", "the budget not validated",
           """    if not 0 < false_timeout_budget < 1:
        raise ValueError(f"false_timeout_budget is a share between 0 and 1, got {false_timeout_budget}")
""", ""),
    Mutant("Exercise 3", "a budget of 0 or 1 accepted (<= instead of <)",
           "if not 0 < false_timeout_budget < 1:", "if not 0 <= false_timeout_budget <= 1:"),
    Mutant("Exercise 3", "no check for an empty list",
           """    if len(samples) == 0:
        raise ValueError("no latency samples to choose a timeout from")
""", ""),
    Mutant("Exercise 3", "the median instead of a high percentile",
           "return ordered[len(ordered) - 1 - allowed]", "return ordered[len(ordered) // 2]"),
    # Exercise 4 — charge once, whatever the retries
    Mutant("Exercise 4", "the payment never remembered in self.by_key: every request charges",
           "            self.by_key[idempotency_key] = payment\n", ""),
    Mutant("Exercise 4", "a reused key for another request not refused",
           """                if (first["order"], first["amount"]) != (order_id, amount):
                    raise ValueError(f"idempotency key {idempotency_key!r} was already used for "
                                     f"another request ({first['order']}, {first['amount']})")
""", ""),
    Mutant("Exercise 4", "only the amount compared, not the order",
           'if (first["order"], first["amount"]) != (order_id, amount):',
           'if first["amount"] != amount:'),
    Mutant("Exercise 4", "a repeat gets a new payment id",
           '                return first["payment"]\n',
           '                return new_id("payment")\n'),
    Mutant("Exercise 4", "the key looked up before the await, outside work()",
           """        def work():
            ### BEGIN SOLUTION
            if idempotency_key in self.by_key:
                first = self.by_key[idempotency_key]
                if (first["order"], first["amount"]) != (order_id, amount):
                    raise ValueError(f"idempotency key {idempotency_key!r} was already used for "
                                     f"another request ({first['order']}, {first['amount']})")
                return first["payment"]
""", """        if idempotency_key in self.by_key:
            first = self.by_key[idempotency_key]
            if (first["order"], first["amount"]) != (order_id, amount):
                raise ValueError(f"idempotency key {idempotency_key!r} was already used for "
                                 f"another request ({first['order']}, {first['amount']})")
            return first["payment"]

        def work():
            ### BEGIN SOLUTION
"""),
    Mutant("Exercise 4", "the key remembered when the request arrives, before the charge",
           "        return await self.call(\"charge\", work)",
           "        self.by_key.setdefault(idempotency_key, {\"payment\": None, \"order\": order_id,\n"
           "                                                \"amount\": amount})\n"
           "        return await self.call(\"charge\", work)"),
]
