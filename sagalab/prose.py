"""Numbers in prose come from code: Markdown rendered from a notebook's own results.

The contract (tests/test_prose_numbers.py enforces it): a number stated in a Markdown cell
must appear in the same notebook's code, in a cell's source or in a stored text output. A
number that a result decides (a measured share, a simulated time, a count) is therefore not
typed into Markdown: a code cell renders the sentence with `say(...)` or the list with
`keypoints(...)`. The rendered Markdown is the cell's stored output, so strict nbval runs the
code again and compares the sentence, numbers included, on every test run.

    say("{n} calls at once: {share:.1%} of requests were slow", n=10, share=0.0925)
    keypoints("The run took {minutes:.1f} simulated minutes.", "No number here.", minutes=9.39)

Placeholders use str.format's mini-language, with two changes that match the course's style:
a `%` format puts a space before the sign (`{share:.1%}` → "9.3 %"), and a value without a
format spec is written by `number()` (integers with thousands separators: "100,000"; floats
with up to six significant digits). Literal braces are doubled, as in str.format: `{{` `}}`.
"""
from __future__ import annotations

import string

from IPython.display import Markdown

__all__ = ["keypoints", "number", "render", "say"]


def number(value) -> str:
    """A number as prose writes it: 100,000 · 0.25 · 563.5 (other values: str())."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, int) or value.is_integer():
        return f"{int(value):,}"
    return f"{value:.6g}"


class _ProseFormatter(string.Formatter):
    def format_field(self, value, format_spec: str) -> str:
        if not format_spec:
            return number(value)
        if format_spec.endswith("%"):                  # 0.093 with ".1%" -> "9.3 %"
            return format(value * 100, format_spec[:-1] + "f") + " %"
        return format(value, format_spec)


def render(text: str, **values) -> str:
    """`text` with its placeholders filled from `values` (see the module docstring)."""
    return _ProseFormatter().format(text, **values)


def say(text: str, **values) -> Markdown:
    """One paragraph of Markdown whose numbers come from `values`; a cell's last expression."""
    return Markdown(render(text, **values))


def keypoints(*points: str, **values) -> Markdown:
    """A bullet list, one point per argument, each rendered with the same `values`."""
    return Markdown("\n".join(f"* {render(point, **values)}" for point in points))
