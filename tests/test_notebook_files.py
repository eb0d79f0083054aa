"""Committed notebooks are small, executed, free of volatile metadata; labs are clean."""
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXECUTED = sorted((ROOT / "notebooks").glob("*.ipynb")) + sorted((ROOT / "solutions").glob("*.ipynb"))


@pytest.mark.parametrize("path", EXECUTED, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_executed_notebook_is_small_complete_and_stable(path):
    assert path.stat().st_size <= 1_000_000, "over 1 MB: is plotly.js embedded in an output?"
    nb = json.loads(path.read_text(encoding="utf-8"))
    assert "widgets" not in nb["metadata"], "widget state is stored (megabytes, changes every run)"
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert all(c["execution_count"] is not None for c in code if c["source"]), "not executed"
    assert not any("execution" in c["metadata"] for c in code), "per-cell timing metadata stored"
    ignored = sum("NBVAL_IGNORE_OUTPUT" in "".join(c["source"]) for c in code)
    assert ignored <= 0.1 * len(code), "fix non-determinism instead of ignoring outputs"
    for c in code:
        for out in c["outputs"]:
            assert out["output_type"] != "error", f"stored error output: {out.get('ename')}"
            assert "text/html" not in out.get("data", {}) or "plotly" not in "".join(
                out["data"]["text/html"]), "plotly HTML output: use the default mimetype renderer"


def test_notebooks_follow_the_syllabus_names():
    """Lessons are NN_name (later parts of a long lesson NNb_name, NNc_name), labs labNN_name."""
    for path in EXECUTED:
        stem = path.stem
        prefix = stem.split("_")[0]
        lesson = re.fullmatch(r"\d\d([bc])?", prefix)
        assert lesson or re.fullmatch(r"lab\d\d", prefix), stem
        if lesson and lesson.group(1):           # a part b follows its part a, a part c its b
            before = "" if lesson.group(1) == "b" else "b"
            assert list((ROOT / "notebooks").glob(f"{prefix[:2]}{before}_*.ipynb")), stem
