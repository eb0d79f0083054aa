"""Wrong answers for lab 05 (dead letters)."""
from mutants import Mutant

MUTANTS = [
    # Exercise 1 — detect poison pills
    Mutant("Exercise 1", "True taken for a number (bool not excluded)",
           "return isinstance(value, (int, float)) and not isinstance(value, bool)",
           "return isinstance(value, (int, float))"),
    Mutant("Exercise 1", "NaN and infinity let through (only > 0 checked)",
           "if not number(amount) or not math.isfinite(amount) or not amount > 0:",
           "if not number(amount) or amount <= 0:"),
    Mutant("Exercise 1", "a strict reader: unknown fields refused",
           "    return problems\n",
           "    known = {\"order_id\", \"customer\", \"items\", \"amount\"}\n"
           "    for extra in sorted(set(payload) - known):\n"
           "        problems.append(f\"{extra}: unknown field\")\n"
           "    return problems\n"),
    Mutant("Exercise 1", "stops at the first problem",
           '            problems.append(f"{field} must be a non-empty string, got {value!r}")',
           '            problems.append(f"{field} must be a non-empty string, got {value!r}")\n'
           '            return problems'),
    Mutant("Exercise 1", "1.5 books accepted (a float count)",
           "if not isinstance(count, int) or isinstance(count, bool) or count < 1:",
           "if not isinstance(count, (int, float)) or isinstance(count, bool) or count < 1:"),
    # Exercise 2 — a delivery limit that outlasts an outage
    Mutant("Exercise 2", "one wait per attempt (limit waits, not limit − 1)",
           "initial = outage / (2 ** (limit - 1) - 1)", "initial = outage / (2 ** limit - 1)"),
    Mutant("Exercise 2", "the limit taken as redeliveries (limit + 1 attempts)",
           "return RetryPolicy(maximum_attempts=limit,", "return RetryPolicy(maximum_attempts=limit + 1,"),
    Mutant("Exercise 2", "maximum_interval left at Temporal's default (100 × initial)",
           "                       maximum_interval=outage, jitter=\"none\",",
           "                       jitter=\"none\","),
    Mutant("Exercise 2", "jitter left at its default (full)",
           "maximum_interval=outage, jitter=\"none\",", "maximum_interval=outage,"),
    Mutant("Exercise 2", "the first wait rounded up to whole seconds",
           "initial = outage / (2 ** (limit - 1) - 1)",
           "initial = math.ceil(outage / (2 ** (limit - 1) - 1))"),
    Mutant("Exercise 2", "an outage of 0 s accepted",
           "    if not outage > 0:", "    if outage < 0:"),
    # Exercise 3 — a redrive filter
    Mutant("Exercise 3", "off by one: a letter that died 3 times redriven again",
           "letter.count < 3", "letter.count <= 3"),
    Mutant("Exercise 3", "deliveries counted instead of deaths (attempts, not count)",
           "letter.count < 3", "letter.attempts < 3"),
    Mutant("Exercise 3", "the reason not checked (only the error type)",
           "return (letter.reason == DELIVERY_LIMIT and letter.error_type in TRANSIENT",
           "return (letter.error_type in TRANSIENT"),
    Mutant("Exercise 3", "the error type not checked (a KeyError redriven before the fix)",
           "letter.reason == DELIVERY_LIMIT and letter.error_type in TRANSIENT",
           "letter.reason == DELIVERY_LIMIT"),
    Mutant("Exercise 1", "a payload that is not a dict makes the validator raise",
           '    if not isinstance(payload, dict):\n'
           '        return [f"the payload must be a dict of fields, got {type(payload).__name__}"]\n', ""),
    # Exercise 4 — an outbox relay that keeps each key's order
    Mutant("Exercise 4", "marked sent before publishing (a refused row is lost)",
           "        try:\n            await publish(row)\n        except Exception:",
           "        outbox.mark_sent(row.id)\n        try:\n            await publish(row)\n        except Exception:"),
    Mutant("Exercise 4", "a refused row skipped, its key's later rows sent (order broken)",
           "            held.add(row.key)\n            continue", "            continue"),
    Mutant("Exercise 4", "the pass stops at the first refusal (one trip blocks the others)",
           "            held.add(row.key)\n            continue", "            break"),
    Mutant("Exercise 4", "a refusal not caught (the whole pass fails)",
           "        try:\n            await publish(row)\n        except Exception:                   # noqa: BLE001 - any refusal: try again next pass\n            held.add(row.key)\n            continue\n",
           "        await publish(row)\n"),
]
