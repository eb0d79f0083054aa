"""Wrong answers for lab 09 (beyond one machine: the durable journal)."""
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
]
