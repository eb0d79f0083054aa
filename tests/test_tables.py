"""sagalab.tables.show: the compact table every lesson prints (its stored outputs depend on it)."""
import pandas as pd

from sagalab.tables import show


def printed(capsys, frame, **options) -> list[str]:
    show(frame, **options)
    return capsys.readouterr().out.splitlines()


def test_no_index_and_missing_values_empty(capsys):
    frame = pd.DataFrame({"order": ["order-0001", "order-0002"], "error": [None, "refused"]})
    lines = printed(capsys, frame)
    assert lines[0].split() == ["order", "error"], lines       # no index column
    assert lines[1].split() == ["order-0001"], lines            # None printed as an empty cell
    assert lines[2].split() == ["order-0002", "refused"], lines


def test_digits_round_and_width_cuts_long_texts(capsys):
    frame = pd.DataFrame({"share": [0.123456, float("nan")], "reason": ["x" * 80, "short"]})
    lines = printed(capsys, frame, digits=3, width=10)
    assert lines[1].split() == ["0.123", "x" * 9 + "…"], lines
    assert lines[2].split() == ["short"], lines                 # NaN is an empty cell too
    assert "0.123456" in printed(capsys, frame)[1], "without digits nothing is rounded"
