"""Execute notebooks in place, the way they are committed (authors' tool).

Strict nbval compares a notebook's stored outputs with a fresh run, so lesson and solution
notebooks are committed executed. This runs each one top to bottom in a fresh kernel, from its
own folder, and stores it with the outputs nbval will compare, without per-cell timing metadata
and without widget state (both change on every run; a widget's state can weigh megabytes).

    python -m sagalab.authoring.nbexec notebooks solutions        # every notebook in those folders
    python -m sagalab.authoring.nbexec notebooks/00_welcome.ipynb # one notebook
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient


class _AsNbvalSeesIt(NotebookClient):
    """Store the outputs exactly as nbval will see them on a fresh run.

    nbval knows nothing of widgets: what an Output widget captures (the figure an
    `ipywidgets.interactive` draws) is, to nbval, an ordinary output of the cell, and
    `clear_output` messages are ignored. nbclient would instead move those outputs into widget
    state, which we do not store, so strict comparison would then fail on every interactive.
    """

    def on_comm_open_jupyter_widget(self, msg):
        return None          # no Output-widget routing: outputs stay with their cell

    def clear_output(self, outs, msg, cell_index):
        return None          # as nbval: clear_output is not replayed


def _coalesce_streams(outputs: list) -> list:
    """Join consecutive stdout (or stderr) chunks: where the kernel happened to flush varies
    from run to run, and nbval compares the joined text anyway; joined, re-running a notebook
    leaves its file unchanged."""
    merged: list = []
    for out in outputs:
        if (out.output_type == "stream" and merged and merged[-1].output_type == "stream"
                and merged[-1].name == out.name):
            merged[-1].text += out.text
        else:
            merged.append(out)
    return merged


def execute(path: Path, timeout: int = 120) -> float:
    """Run `path` in a fresh kernel and write it back; return the wall time in seconds."""
    nb = nbformat.read(path, as_version=4)
    client = _AsNbvalSeesIt(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}},
                            record_timing=False, store_widget_state=False)
    start = time.perf_counter()
    client.execute()
    elapsed = time.perf_counter() - start
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        if cell.cell_type == "code":
            cell.outputs = _coalesce_streams(cell.outputs)
    nb.metadata.pop("widgets", None)
    path.write_text(nbformat.writes(nb) + "\n", encoding="utf-8")
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Execute notebooks in place.")
    parser.add_argument("paths", nargs="+", type=Path, help="notebooks or folders of notebooks")
    args = parser.parse_args(argv)
    notebooks = []
    for path in args.paths:
        notebooks += sorted(path.glob("*.ipynb")) if path.is_dir() else [path]
    for notebook in notebooks:
        print(f"{notebook}: {execute(notebook):.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
