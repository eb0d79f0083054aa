"""The command line the generators share: `--check` reports, the default writes."""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Callable, Iterable


def check_or_write(argv: list[str] | None, description: str,
                   differences: Callable[[], list[str]],
                   write: Callable[[], Iterable[tuple[Path, str]]], *, root: Path, fix: str,
                   extra: Callable[[argparse.ArgumentParser], None] | None = None) -> int:
    """`--check`: print what is out of date (and `fix`), exit 1 if anything is; otherwise
    write, printing one line per file: `wrote x`, or what happened instead. An outcome
    starting with "kept" means a file was deliberately not written: the exit code is then 1."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--check", action="store_true", help="report what is out of date, write nothing")
    if extra:
        extra(parser)
    args = parser.parse_args(argv)
    if args.check:
        problems = differences()
        for line in problems:
            print(line)
        if problems:
            print(fix)
        return 1 if problems else 0
    failed = False
    for path, outcome in (write(args) if extra else write()):
        print(f"{outcome} {path.relative_to(root)}" if outcome == "wrote" else outcome)
        failed |= outcome.startswith("kept")
    return 1 if failed else 0
