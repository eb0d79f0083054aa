"""Wrong answers for lab 07 (load testing)."""
from mutants import Mutant

MUTANTS = [
    # Exercise 1 — consumers for a p95 target
    Mutant("Exercise 1", "the client's response (the broker's ack) instead of the time until done",
           "percentile(t.completion, 95) <= slo", "percentile(t.response, 95) <= slo"),
    Mutant("Exercise 1", "the mean instead of the p95",
           "percentile(t.completion, 95) <= slo", "t.completion.mean() <= slo"),
    Mutant("Exercise 1", "saturated tests not excluded (a short saturated test looks fast)",
           "not t.saturated() and percentile(t.completion, 95) <= slo",
           "percentile(t.completion, 95) <= slo"),
    Mutant("Exercise 1", "the utilisation law only: the first count that keeps up",
           "not t.saturated() and percentile(t.completion, 95) <= slo", "not t.saturated()"),
    Mutant("Exercise 1", "only the first seed measured",
           "tests = [measure_at(consumers, seed) for seed in seeds]",
           "tests = [measure_at(consumers, seeds[0])]"),
    Mutant("Exercise 1", "any seed instead of every seed", "        if all(", "        if any("),
    Mutant("Exercise 1", "strictly below the target instead of within it",
           "percentile(t.completion, 95) <= slo", "percentile(t.completion, 95) < slo"),
    Mutant("Exercise 1", "saturated without its parentheses",
           "not t.saturated() and", "not t.saturated and"),
    # Exercise 2 — coordinated omission, corrected
    Mutant("Exercise 2", "the full latency back-filled each time",
           "            values.append(missing)", "            values.append(latency)"),
    Mutant("Exercise 2", "back-filled down to zero (> 0 instead of ≥ interval)",
           "while missing >= interval:", "while missing > 0:"),
    Mutant("Exercise 2", "strictly longer than the interval (the last held-back request lost)",
           "while missing >= interval:", "while missing > interval:"),
    Mutant("Exercise 2", "the recorded latency itself dropped",
           "        values.append(latency)\n", ""),
    Mutant("Exercise 2", "back-filling starts at the latency itself (v, v, v − T, …)",
           "missing = latency - interval", "missing = latency"),
    # Exercise 3 — find the saturation point
    Mutant("Exercise 3", "the two halves swapped",
           "            high = middle\n        else:\n            low = middle",
           "            low = middle\n        else:\n            high = middle"),
    Mutant("Exercise 3", "saturated without its parentheses (in the loop)",
           "        if measure_at(middle).saturated():", "        if measure_at(middle).saturated:"),
    Mutant("Exercise 3", "returns low, a rate that does not saturate",
           "    return high", "    return low"),
    Mutant("Exercise 3", "the low bound not checked",
           '    if measure_at(low).saturated():\n        raise ValueError(f"low = {low} already saturates: start lower")\n',
           ""),
    # Exercise 4 — latency from the monitor
    Mutant("Exercise 4", "the queue (waiting) instead of everyone in the system",
           "test.gauge.in_system.mean()", "test.gauge.waiting.mean()"),
    Mutant("Exercise 4", "λ taken from the load's nominal rate",
           "arrival_rate = len(test.sent) / float(test.done.max())", "arrival_rate = test.load.rate"),
    Mutant("Exercise 4", "λ over the sending window, not until the last was done",
           "arrival_rate = len(test.sent) / float(test.done.max())",
           "arrival_rate = len(test.sent) / test.window"),
    Mutant("Exercise 4", "Little's law upside down (L × λ)",
           "    return in_system / arrival_rate", "    return in_system * arrival_rate"),
    Mutant("Exercise 4", "mean without its parentheses",
           "test.gauge.in_system.mean()", "test.gauge.in_system.mean"),
]

MUTANTS += [
    # Exercise 5 — which reading does a benchmark log support?
    Mutant("Exercise 5", "the client's answer (answered − sent) instead of the time until done",
           'until_done = log["done"] - log["sent"]', 'until_done = log["answered"] - log["sent"]'),
    Mutant("Exercise 5", "a high latency read as saturation",
           '    return "A" if until_done.mean() > 1.5 * first.mean() else "B"',
           '    return "A" if until_done.mean() > 5 else "B"'),
    Mutant("Exercise 5", "the comparison the wrong way round",
           'until_done.mean() > 1.5 * first.mean()', 'first.mean() > 1.5 * until_done.mean()'),
]
