"""Tables as the lessons print them: compact text a stored output can hold (strict nbval compares
it), where `display(frame)` would store HTML whose layout pandas may change.

    show(frame)                        # no index, empty cells for missing values
    show(frame, digits=3, width=64)    # and numbers rounded, texts longer than 64 cut with '…'
"""
from __future__ import annotations

import pandas as pd

__all__ = ["show"]


def show(frame: pd.DataFrame, digits: int | None = None, width: int | None = None) -> None:
    """Print `frame` compactly: no index, empty cells for missing values; with `digits`, numbers
    rounded to that many decimals; with `width`, a text longer than that cut to it, ending '…'."""
    if digits is not None:
        frame = frame.round(digits)
    cells = frame.astype(object)
    if width is not None:
        cells = cells.map(lambda v: v[:width - 1] + "…" if isinstance(v, str) and len(v) > width
                          else v)
    print(cells.where(frame.notna(), "").to_string(index=False))
