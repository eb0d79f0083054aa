"""Wrong answers for lab 09 (beyond one machine: the durable journal; a Redis sweeper)."""
from mutants import Mutant

MUTANTS = [
    # Exercise 1 — a payout that pays once
    Mutant("Exercise 1", "no idempotency key: the replay after a crash pays again",
           'key = f"{ctx.workflow_id}/pay {n}"', "key = None"),
    Mutant("Exercise 1", "a fresh key on every run (a new id): the new process's request is new",
           'key = f"{ctx.workflow_id}/pay {n}"', 'key = new_id("key")'),
    Mutant("Exercise 1", "the key made of the account and the amount (two claims collide)",
           'key = f"{ctx.workflow_id}/pay {n}"', "key = f\"{c['account']}/{amount}\""),
    Mutant("Exercise 1", "one key per claim: the second instalment is never paid",
           'key = f"{ctx.workflow_id}/pay {n}"', "key = ctx.workflow_id"),
    Mutant("Exercise 1", "the second instalment is half again (an odd amount does not add up)",
           "(2, round(assessed - first, 2))", "(2, first)"),
    # Exercise 2 — replace a step without breaking replay
    Mutant("Exercise 2", "no patch: the e-mail step simply replaced by the SMS",
           'if ctx.patched("sms-receipt"):', "if True:"),
    Mutant("Exercise 2", "the old branch dropped (no e-mail step left for old journals)",
           'else:                                       # journals written before the change\n'
           '            receipt = await ctx.step("email_receipt", travel.email_receipt, t["traveller"])',
           "else:\n            receipt = None"),
    Mutant("Exercise 2", "the branches swapped",
           'if ctx.patched("sms-receipt"):', 'if not ctx.patched("sms-receipt"):'),
    Mutant("Exercise 2", "'am I replaying?' asked instead of the patch (no marker)",
           'if ctx.patched("sms-receipt"):', "if not ctx.replaying:"),

    # Exercise 3 — a sweeper that looks before it claims
    Mutant("Exercise 3", "claims first, counts afterwards (lesson 09b's XAUTOCLAIM habit): a delivery past the limit",
           "if deliveries >= limit:", "if deliveries > limit:"),
    Mutant("Exercise 3", "no paging: only the first `count` pending entries looked at in a pass",
           'while rows := await client.xpending_range(stream, group, min=start, max="+", count=count):',
           'if rows := await client.xpending_range(stream, group, min=start, max="+", count=count):'),
    Mutant("Exercise 3", "a ValueError retried like any other error (bad dates never get better)",
           "            except ValueError as error:                     # bad input: no retry helps\n"
           "                await dead_letter(entry_id, fields, REJECTED, deliveries + 1, error)\n"
           "                continue\n", ""),
    Mutant("Exercise 3", "the claim not counted as a delivery (attempts one short)",
           "REJECTED, deliveries + 1, error", "REJECTED, deliveries, error"),
    Mutant("Exercise 3", "dead-lettered but never acknowledged (the original stays pending)",
           "            tx.xack(stream, group, entry_id)\n", ""),
    Mutant("Exercise 3", "acknowledged before the handler runs (at-most-once: a failure is lost)",
           "            fields = claimed[0][1]\n            try:\n",
           "            fields = claimed[0][1]\n            await client.xack(stream, group, entry_id)\n"
           "            try:\n"),
    Mutant("Exercise 3", "an entry deleted while pending dropped silently",
           "            if not claimed:                                 # deleted while pending\n"
           "                await dead_letter(entry_id, {}, DELETED, deliveries)\n",
           "            if not claimed:                                 # deleted while pending\n"),
    Mutant("Exercise 3", "the letter written without the original's fields",
           "await dead_letter(entry_id, found[0][1], DELIVERY_LIMIT, deliveries)",
           "await dead_letter(entry_id, {}, DELIVERY_LIMIT, deliveries)"),
]
