#!/usr/bin/env python3
"""The course's front door: set up a local environment, then open the course or test it.

    python3 course.py lab            # set up .venv if needed, open JupyterLab on notebook 00
    python3 course.py check [lab01]  # check your labs in a fresh kernel, one line per exercise
    python3 course.py test           # set up .venv if needed, run the whole test suite
    python3 course.py build          # authors: notebooks -> package, re-execute notebooks, labs
    python3 course.py site           # the course as a website: _build/html/index.html (offline)

Needs only Python 3.11+ (Linux, macOS or Windows). The environment lives in .venv/ beside this
file; it is (re)installed only when pyproject.toml or constraints.txt changed since last time.
Extra arguments after `lab` go to `jupyter lab`; after `test`, to pytest; after `check`, the
labs to check (lab00, lab01, ... or paths; default: all of them).
"""
from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")
STAMP = VENV / ".sagalab-installed"
EXTRAS = "test,beyond,site,instructor"   # one environment serves learners, tests and instructors


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


FORWARDED = [s for s in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, s)]


def _ctrl_c_reached_child() -> bool:
    """Did a SIGINT come from the terminal, and so reach the child as well? A terminal sends
    Ctrl-C to its whole foreground process group, which the child shares with us; so does a
    Windows console to every process attached to it."""
    if os.name == "nt":
        return True
    try:
        tty = os.open("/dev/tty", os.O_RDONLY | os.O_NOCTTY)
    except OSError:         # no controlling terminal: the SIGINT was sent to us alone
        return False
    try:
        return os.tcgetpgrp(tty) == os.getpgrp()
    except OSError:
        return False
    finally:
        os.close(tty)


def run(*command: str) -> int:
    """Run `command` in the course's environment and wait for it. SIGINT, SIGTERM and SIGHUP
    sent to this process are passed on to it, and we still wait: stopping `course.py lab`
    stops JupyterLab too, and never leaves it holding its port.

    A Ctrl-C typed in the terminal is not passed on: the child got it from the terminal
    already, and a second one lands in its own shutdown (pytest's interrupt summary crashed;
    JupyterLab's "Shut down this Jupyter server?" was skipped or not, by a race). Signals
    ignored when we started (nohup) stay ignored, for the child too."""
    env = dict(os.environ)
    env["PATH"] = str(BIN) + os.pathsep + env.get("PATH", "")
    env["VIRTUAL_ENV"] = str(VENV)
    env.pop("PYTHONHOME", None)
    child: subprocess.Popen | None = None
    early: list[int] = []   # signals that came before the child existed

    def forward(signum, frame):
        if signum == signal.SIGINT and _ctrl_c_reached_child():
            return
        if child is None:
            early.append(signum)
        elif child.poll() is None:
            child.send_signal(signum)

    previous = {}
    try:
        # handlers first: a signal that comes while the child starts is passed on, not lost
        for sig in (getattr(signal, name) for name in FORWARDED):
            handler = signal.getsignal(sig)
            if handler is not signal.SIG_IGN:
                previous[sig] = signal.SIG_DFL if handler is None else handler
                signal.signal(sig, forward)
        child = subprocess.Popen(list(command), cwd=ROOT, env=env)
        for signum in early:
            forward(signum, None)
        return child.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def lab(args: list[str]) -> int:
    extra = ["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []
    say("opening JupyterLab on notebooks/00_welcome.ipynb (stop it with Ctrl-C, twice)")
    # Serve the repository root, so labs/ and solutions/ are in the file browser and the
    # notebooks' relative links (../labs/...) work; open notebook 00 in it.
    learner_config()
    return run(str(PYTHON), "-m", "jupyterlab", f"--ServerApp.root_dir={ROOT}", *extra, *args,
               "notebooks/00_welcome.ipynb")


def learner_config(env: dict | None = None) -> dict:
    """Add jupyter_config/ (nbgrader's menus and server extensions off: see its README) to
    JUPYTER_CONFIG_PATH of `env` (by default this process's, which the lab inherits)."""
    env = os.environ if env is None else env
    others = env.get("JUPYTER_CONFIG_PATH", "").split(os.pathsep)
    paths = dict.fromkeys([str(ROOT / "jupyter_config"), *filter(None, others)])
    env["JUPYTER_CONFIG_PATH"] = os.pathsep.join(paths)
    return env


def test(args: list[str]) -> int:
    # Same suite as `pytest --nbval` in the repository root (see [tool.pytest.ini_options]).
    return run(str(PYTHON), "-m", "pytest", "--nbval", "--durations=15", *args)


def check(args: list[str]) -> int:
    # One line per exercise; exit code 0 only if every exercise of every lab passes.
    return run(str(PYTHON), "-m", "sagalab.authoring.labcheck", *args)


def build(args: list[str]) -> int:
    steps = [[str(PYTHON), "-m", "sagalab.authoring.nbexport"],
             [str(PYTHON), "-m", "sagalab.authoring.nbexec", *(args or ["notebooks", "solutions"])],
             [str(PYTHON), "-m", "sagalab.authoring.labgen"]]
    for step in steps:
        if code := run(*step):
            return code
    return 0


def site(args: list[str]) -> int:
    # Jupyter Book 1 from the committed, executed notebooks (nothing re-executed), warnings as
    # errors; the table of contents is written from the notebooks and labs present.
    return run(str(PYTHON), "-m", "sagalab.authoring.sitebuild", *args)


def main(argv: list[str]) -> int:
    commands = {"lab": lab, "check": check, "test": test, "build": build, "site": site}
    if not argv or argv[0] not in commands:
        print(__doc__)
        return 2
    ensure_environment()
    return commands[argv[0]](argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
