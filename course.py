#!/usr/bin/env python3
"""The course's front door: set up a local environment, then open the course or test it.

    python3 course.py lab     # set up .venv if needed, open JupyterLab on notebook 00
    python3 course.py test    # set up .venv if needed, run the whole test suite
    python3 course.py build   # authors: notebooks -> package, re-execute notebooks, labs

Needs only Python 3.11+ (Linux, macOS or Windows). The environment lives in .venv/ beside this
file; it is (re)installed only when pyproject.toml or constraints.txt changed since last time.
Extra arguments after `lab` go to `jupyter lab`; after `test`, to pytest.
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")
STAMP = VENV / ".sagalab-installed"
EXTRAS = "test"   # the test extra is small; one environment serves learners and tests


def say(message: str) -> None:
    print(f"[course] {message}", flush=True)


def wanted_stamp() -> str:
    """What the install stamp must say for .venv to be current."""
    return hashlib.sha256(b"".join((ROOT / f).read_bytes()
                                   for f in ("pyproject.toml", "constraints.txt"))).hexdigest()


def environment_is_current() -> bool:
    return PYTHON.exists() and STAMP.exists() and STAMP.read_text().strip() == wanted_stamp()


def ensure_environment() -> None:
    """Create .venv and install the course into it, unless it is already current."""
    if sys.version_info < (3, 11):
        sys.exit(f"sagalab needs Python 3.11 or newer; this is {sys.version.split()[0]}")
    if environment_is_current():
        return
    wanted = wanted_stamp()
    if not PYTHON.exists():
        say(f"creating a virtual environment in {VENV.name}/")
        try:
            venv.EnvBuilder(with_pip=True, clear=False).create(VENV)
        except (OSError, subprocess.CalledProcessError) as error:
            # Debian and Ubuntu ship venv's pip bootstrap separately
            sys.exit(f"could not create {VENV.name}/ ({error}).\nOn Debian or Ubuntu: "
                     f"sudo apt-get install python3-venv, then run this command again.")
    say("installing the course and its dependencies (first time: a few minutes)")
    pip = [str(PYTHON), "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run(pip + ["install", "--upgrade", "pip"], check=True)
    subprocess.run(pip + ["install", "-c", str(ROOT / "constraints.txt"),
                          "-e", f"{ROOT}[{EXTRAS}]"], check=True)
    STAMP.write_text(wanted + "\n")
    say("environment ready")


def run(*command: str) -> int:
    env = dict(os.environ)
    env["PATH"] = str(BIN) + os.pathsep + env.get("PATH", "")
    env["VIRTUAL_ENV"] = str(VENV)
    env.pop("PYTHONHOME", None)
    return subprocess.call(list(command), cwd=ROOT, env=env)


def lab(args: list[str]) -> int:
    extra = ["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []
    say("opening JupyterLab on notebooks/00_welcome.ipynb (stop it with Ctrl-C)")
    # Serve the repository root, so labs/ and solutions/ are in the file browser and the
    # notebooks' relative links (../labs/...) work; open notebook 00 in it.
    return run(str(PYTHON), "-m", "jupyterlab", f"--ServerApp.root_dir={ROOT}", *extra, *args,
               "notebooks/00_welcome.ipynb")


def test(args: list[str]) -> int:
    # Same suite as `pytest --nbval` in the repository root (see [tool.pytest.ini_options]).
    return run(str(PYTHON), "-m", "pytest", "--nbval", "--durations=15", *args)


def build(args: list[str]) -> int:
    steps = [[str(PYTHON), "-m", "sagalab.nbexport"],
             [str(PYTHON), "-m", "sagalab.nbexec", *(args or ["notebooks", "solutions"])],
             [str(PYTHON), "-m", "sagalab.labgen"]]
    for step in steps:
        if code := run(*step):
            return code
    return 0


def main(argv: list[str]) -> int:
    commands = {"lab": lab, "test": test, "build": build}
    if not argv or argv[0] not in commands:
        print(__doc__)
        return 2
    ensure_environment()
    return commands[argv[0]](argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
