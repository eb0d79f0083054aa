"""Wrong answers for lab 08 (hybrid and migration)."""
from mutants import Mutant

MUTANTS = [
    # Exercise 1 — a progressive rollout with a blast radius
    Mutant("Exercise 1", "a big bang: 100 % at once (the stable rate is judged on no orders)",
           "steps = [(0.0, 5), (150.0, 25), (300.0, 50), (450.0, 100)]", "steps = [(0.0, 100)]"),
    Mutant("Exercise 1", "the default rule (margin 5 %, 10 orders): too slow against a 10 % bug",
           "rule = RollbackRule(margin=0.03, min_orders=20)", "rule = RollbackRule()"),
    Mutant("Exercise 1", "a rule that fires on the first failure (false alarms)",
           "rule = RollbackRule(margin=0.03, min_orders=20)", "rule = RollbackRule(margin=0.0, min_orders=1)"),
    Mutant("Exercise 1", "a margin wider than the bug (it can never be crossed)",
           "rule = RollbackRule(margin=0.03, min_orders=20)", "rule = RollbackRule(margin=0.15, min_orders=20)"),
    Mutant("Exercise 1", "a rollout too slow to reach 100 % by 600 s",
           "steps = [(0.0, 5), (150.0, 25), (300.0, 50), (450.0, 100)]",
           "steps = [(0.0, 1), (400.0, 5), (800.0, 100)]"),
    # Exercise 2 — a parallel run's comparator for a trip booking
    Mutant("Exercise 2", "booking ids compared (every trip mismatches)",
           '        if a["status"] != b["status"]:',
           '        if a["ids"] != b["ids"]:\n            found.append((trip, "ids"))\n'
           '        if a["status"] != b["status"]:'),
    Mutant("Exercise 2", "amounts compared exactly (rounding reported as a bug)",
           'if abs(a["charged"] - b["charged"]) > 0.01:', 'if a["charged"] != b["charged"]:'),
    Mutant("Exercise 2", "only the old system's trips looked at (one only the new one has is missed)",
           "for trip in set(old) | set(new):", "for trip in old:"),
    Mutant("Exercise 2", "the holds compared as a whole, not per leg",
           '        for leg in LEGS:\n            if a["holds"][leg] != b["holds"][leg]:\n'
           '                found.append((trip, leg))',
           '        if a["holds"] != b["holds"]:\n            found.append((trip, "holds"))'),
    Mutant("Exercise 2", "not sorted", "    return sorted(found)", "    return found"),
    # Exercise 3 — switch a payout provider under running claims, then retire the old one
    Mutant("Exercise 3", "non-sticky: the toggle asked at every call",
           "name = self.pinned.setdefault(claim, self.current)", "name = self.current"),
    Mutant("Exercise 3", "retired as soon as it is not the current one",
           "return not any(self.pinned.get(claim) == name for claim in running)", "return True"),
    Mutant("Exercise 3", "waits for every claim ever pinned to it, finished or not (never retires)",
           "for claim in running)", "for claim in self.pinned)"),
    Mutant("Exercise 3", "the current provider may be retired",
           "        if name == self.current:\n            return False\n", ""),
]
MUTANTS += [
    # Exercise 4 — draw a food delivery's context boundaries
    Mutant("Exercise 4", "the kitchen split: packing given to Delivery",
           '"cook": "Kitchen", "pack": "Kitchen",\n            "assign_courier": "Delivery"',
           '"cook": "Kitchen", "pack": "Delivery",\n            "assign_courier": "Delivery"'),
    Mutant("Exercise 4", "the kitchen takes the payment (pay inside the Kitchen's engine)",
           '"pay": "Payments"', '"pay": "Kitchen"'),
    Mutant("Exercise 4", "the drop-off handed to Support (the delivery leg split)",
           '"drop_off": "Delivery"', '"drop_off": "Support"'),
    Mutant("Exercise 4", "Ordering also sends the notification (a context in two places)",
           '"notify": "Support"', '"notify": "Ordering"'),
    Mutant("Exercise 4", "a team name mistyped",
           '"cook": "Kitchen", "pack"', '"cook": "Kitchens", "pack"'),
]
