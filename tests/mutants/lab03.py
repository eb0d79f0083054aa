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
    Mutant("Exercise 2", "idempotency ignored: every 500, 502, 504 retried",
           "return idempotent and error.status in MAYBE_DONE_STATUSES",
           "return error.status in MAYBE_DONE_STATUSES"),
    Mutant("Exercise 2", "a lost reply always retried, like a refusal",
           "if isinstance(error, (ConnectionRefusedError, TransientError, ServiceDown)):",
           "if isinstance(error, (ConnectionRefusedError, TransientError, ServiceDown, ReplyLost)):"),
    Mutant("Exercise 2", "timeouts and resets never retried, even for an idempotent call",
           "        return idempotent                  # it may have been done",
           "        return False"),
    Mutant("Exercise 2", "every 409 refused, even idempotency_key_in_use",
           'return error.code == "idempotency_key_in_use"', "return False"),
    Mutant("Exercise 2", "every 409 retried",
           'return error.code == "idempotency_key_in_use"', "return True"),
    Mutant("Exercise 2", "503 retried only for idempotent calls",
           "SAFE_STATUSES = {408, 429, 503}            # refused before any work: safe to send again\n"
           "MAYBE_DONE_STATUSES = {500, 502, 504}",
           "SAFE_STATUSES = {408, 429}\nMAYBE_DONE_STATUSES = {500, 502, 503, 504}"),
    Mutant("Exercise 2", "every 5xx retried (>= 500 instead of the list)",
           "return idempotent and error.status in MAYBE_DONE_STATUSES",
           "return idempotent and error.status >= 500"),
    Mutant("Exercise 2", "a refused connection treated like a reset (only if idempotent)",
           "if isinstance(error, (ConnectionRefusedError, TransientError, ServiceDown)):",
           "if isinstance(error, (TransientError, ServiceDown)):"),
    Mutant("Exercise 2", "a list of errors NOT to retry (everything else is retried)",
           "    return False                           # anything else: an answer, a bug, a cancellation",
           "    return not isinstance(error, (CardDeclined, ValueError, KeyError, TypeError))"),
    Mutant("Exercise 2", "a cancellation treated like a timeout",
           "if isinstance(error, (TimeoutError, ConnectionError, ReplyLost)):",
           "if isinstance(error, (TimeoutError, ConnectionError, ReplyLost, asyncio.CancelledError)):"),
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
    Mutant("Exercise 3", "the caller's deadline ignored",
           "return min(choose_timeout(samples, false_timeout_budget), remaining / attempts)",
           "return choose_timeout(samples, false_timeout_budget)"),
    Mutant("Exercise 3", "the whole remaining time for each attempt",
           "return min(choose_timeout(samples, false_timeout_budget), remaining / attempts)",
           "return min(choose_timeout(samples, false_timeout_budget), remaining)"),
    Mutant("Exercise 3", "max instead of min: the longer of the two",
           "return min(choose_timeout(samples, false_timeout_budget), remaining / attempts)",
           "return max(choose_timeout(samples, false_timeout_budget), remaining / attempts)"),
    Mutant("Exercise 3", "a passed deadline not refused",
           """    if remaining <= 0:
        raise TimeoutError(f"the caller's deadline has passed ({remaining:g} s left): do not call")
""", ""),
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
    # Exercise 5 — a partner API on a budget
    Mutant("Exercise 5", "no budget: every failure retried up to 3 times",
           "timeout=RATES_TIMEOUT, budget=self.budget)", "timeout=RATES_TIMEOUT)"),
    Mutant("Exercise 5", "a new budget for every call (it never runs out)",
           "timeout=RATES_TIMEOUT, budget=self.budget)",
           "timeout=RATES_TIMEOUT, budget=RetryBudget(percent=0.2, min_per_second=1.0))"),
    Mutant("Exercise 5", "no fallback: the partner's error shown to the customer",
           """            if pair in self.last_known:
                return "stale", self.last_known[pair]
            raise""", """            raise"""),
    Mutant("Exercise 5", "a made-up rate when nothing is known",
           """                return "stale", self.last_known[pair]
            raise""", """                return "stale", self.last_known[pair]
            return "stale", 1.0"""),
    Mutant("Exercise 5", "the fresh rate never remembered",
           "        self.last_known[pair] = value\n", ""),
    Mutant("Exercise 5", "the stale answer labelled fresh",
           'return "stale", self.last_known[pair]', 'return "fresh", self.last_known[pair]'),
]
