"""The course in a real browser: JupyterLab + headless Chromium (issue 3).

One JupyterLab server (started from this Python environment, on 127.0.0.1, a free port and a
random token) and one headless Chromium serve every test in this folder; the notebooks take
turns in two JupyterLab pages, each in its own browser context and fresh workspace (see
test_browser_notebooks.py). The server is stopped by its own process id when the session ends,
whatever happened in the tests. Chromium is read from disk in the background while the rest
of the suite runs (see WARM_UP).

Chromium is Debian's `chromium` package (/usr/bin/chromium), driven by Playwright for Python;
Playwright's own browser download is not used. Without Chromium or Playwright the browser
tests are skipped with the reason; the server and security tests still run.
`tests/browser/ensure_chromium.sh` installs Chromium on a Debian-like machine when run as root.

Environment knobs (all optional):
  SAGALAB_CHROMIUM      path of the Chromium executable (default /usr/bin/chromium)
  SAGALAB_BROWSER_ROOT  directory served as JupyterLab's root; its notebooks/*.ipynb are
                        tested (default: the repository root)
"""
from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ROOT = Path(os.environ.get("SAGALAB_BROWSER_ROOT", REPO)).resolve()
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"
CHROMIUM = os.environ.get("SAGALAB_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0

REPORT_KEY = pytest.StashKey[list]()


# --------------------------------------------------------------------------- helpers

def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(method: str, url: str, token: str | None = None, timeout: float = 5.0):
    """(status, parsed JSON or text) of one request; never raises on an HTTP status."""
    request = urllib.request.Request(url, method=method)
    if token is not None:
        request.add_header("Authorization", f"token {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, body = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, body = error.code, error.read()
    try:
        return status, json.loads(body) if body else None
    except ValueError:
        return status, body.decode("utf-8", "replace")


def course_script():
    """course.py, loaded as a module (it is a script, not part of the package)."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("sagalab_course_script", REPO / "course.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def isolated_jupyter_env(home: Path) -> dict[str, str]:
    """Environment for a test JupyterLab: this Python's environment, but the user's own Jupyter
    config, settings and workspaces are neither read nor written. The settings turn off
    autosave (the tests must not rewrite the notebooks) and the news/update check (no
    traffic to the internet, no toast over the screenshots), and attach every cell of a
    notebook when it opens (windowingMode "none"). JupyterLab's default ("contentVisibility")
    attaches cells beyond the first screens only in the page's idle time, or when scrolled to;
    with two lanes and a kernel busy, a page had no idle time for 20 s, so figures that had
    arrived were not yet in the page (measured: 3 of 5 after 20 s). The figures are drawn by
    the same renderers either way. The server config makes JupyterLab's kernel status ignore
    subshell requests (see untracked_message_types)."""
    dirs = {name: home / name for name in ("config", "settings", "workspaces", "runtime")}
    for path in dirs.values():
        path.mkdir(parents=True, exist_ok=True)
    settings = {
        "@jupyterlab/docmanager-extension/plugin": {"autosave": False},
        "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
        "@jupyterlab/apputils-extension/notification": {"fetchNews": "false",
                                                         "checkForUpdates": False},
    }
    for plugin, values in settings.items():
        package, name = plugin.rsplit("/", 1)
        target = dirs["settings"] / package / f"{name}.jupyterlab-settings"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(values))
    (dirs["config"] / "jupyter_server_config.json").write_text(json.dumps(
        {"MappingKernelManager": {"untracked_message_types": untracked_message_types()}}))
    env = dict(os.environ)
    env.update(JUPYTER_CONFIG_DIR=str(dirs["config"]),
               JUPYTERLAB_SETTINGS_DIR=str(dirs["settings"]),
               JUPYTERLAB_WORKSPACES_DIR=str(dirs["workspaces"]),
               JUPYTER_RUNTIME_DIR=str(dirs["runtime"]),
               PYTHONUNBUFFERED="1")
    env.pop("JUPYTER_TOKEN", None)
    course_script().learner_config(env)       # what `course.py lab` gives a learner
    bindir = str(Path(sys.executable).parent)
    env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
    return env


# Subshell requests go to the kernel's control thread, which publishes busy/idle around each.
SUBSHELL_REQUESTS = ["create_subshell_request", "create_subshell_reply", "delete_subshell_request",
                     "delete_subshell_reply", "list_subshell_request", "list_subshell_reply"]


def untracked_message_types() -> list[str]:
    """jupyter_server's list of message types that are not a kernel's own work, plus the
    subshell requests (issue 17 item 9). JupyterLab takes every IOPub status message for the
    kernel's status except those whose parent is of a type in this list. In JupyterLab 4.6
    (setting commsOverSubshells, default perCommTarget) a notebook's first widget makes the
    page send create_subshell_request, on the control channel; ipykernel 7 answers it from its
    control thread with a status busy, then idle, while the main thread is still running the
    cell. The kernel then reads "idle" in JupyterLab until the next cell starts, though busy, and
    a long cell that first shows a widget looked hung to StallWatch (notebook 07, cell 42,
    under load). jupyter_server says its list "should be a superset of the message types sent
    on any channel other than the shell channel"; the subshell requests are missing from it."""
    from jupyter_server.services.kernels.kernelmanager import MappingKernelManager

    return [*MappingKernelManager().untracked_message_types, *SUBSHELL_REQUESTS]


def _alive(pid: int, group: bool = False) -> bool:
    """Is process `pid` running, or (group=True) any process of the group `pid`? A zombie
    (exited, not yet reaped) counts as gone."""
    try:
        (os.killpg if group else os.kill)(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    procs = ([p for p in Path("/proc").iterdir() if p.name.isdigit()] if group
             else [Path(f"/proc/{pid}")])
    for proc in procs:
        try:
            stat = (proc / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:       # gone meanwhile; unreadable for a single pid: assume it runs
            if group:
                continue
            return True
        if stat[0] != "Z" and (not group or int(stat[2]) == pid):
            return True
    return False


def _descendants(pid: int) -> list[int]:
    try:
        import psutil
        return [child.pid for child in psutil.Process(pid).children(recursive=True)]
    except Exception:  # psutil missing, or the process is already gone
        return []


try:   # loaded before any fork: the child must not import anything between fork and exec
    import ctypes
    _LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None
except (ImportError, OSError):
    _LIBC = None


def _die_with_parent() -> None:
    """Runs in the child between fork and exec: on Linux, ask for SIGTERM when the parent
    (pytest) dies, so not even a killed test run leaves a server behind."""
    if _LIBC is not None:
        _LIBC.prctl(1, int(signal.SIGTERM))   # 1 = PR_SET_PDEATHSIG


@dataclass
class LabProcess:
    """A JupyterLab (or a command that starts one) in its own process group.

    Use as a context manager: on exit -- normal or by an exception -- the server is asked to
    stop with SIGTERM sent to its own process id (and group), then killed after a grace
    period; kernels it started that outlive it are killed by their pids."""
    command: list[str]
    port: int
    token: str
    env: dict[str, str]
    cwd: Path
    log_path: Path
    startup_timeout: float = 90.0
    proc: subprocess.Popen | None = None
    started_in: float = 0.0
    children: list[int] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def api(self, method: str, path: str, timeout: float = 5.0):
        return http(method, f"{self.base_url}{path}", self.token, timeout)

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def __enter__(self) -> "LabProcess":
        start = time.monotonic()
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(self.command, cwd=self.cwd, env=self.env,
                                         stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True,
                                         preexec_fn=_die_with_parent)
        try:
            self.wait_until_ready(start)
        except BaseException:
            self.stop()
            raise
        self.started_in = time.monotonic() - start
        return self

    def wait_until_ready(self, start: float) -> None:
        deadline = start + self.startup_timeout
        last = "no answer yet"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"JupyterLab exited with status {self.proc.returncode} before "
                                   f"answering; log {self.log_path}:\n{self.log_tail()}")
            try:
                status, _ = self.api("GET", "/api/status", timeout=2)
                if status == 200:
                    return
                last = f"HTTP {status}"
            except OSError as error:
                last = repr(error)
            time.sleep(0.2)
        raise TimeoutError(f"JupyterLab did not answer on {self.base_url} within "
                           f"{self.startup_timeout:.0f} s ({last}); log {self.log_path}:\n"
                           f"{self.log_tail()}")

    def log_text(self, since: int = 0) -> str:
        try:
            with open(self.log_path, "rb") as log:
                log.seek(since)
                return log.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def shutdown_kernels(self, only: set[str] | None = None) -> None:
        """Delete sessions and kernels through the REST API (best effort): all of them, or,
        when `only` names notebook paths, just those notebooks' sessions.

        Never "everything but these": a notebook page that is still booting can hold a
        session the keep-list does not match, and deleting it kills that notebook's kernel
        before its Run All (seen in CI: a page opened ahead lost its kernel 2 s after start)."""
        try:
            status, sessions = self.api("GET", "/api/sessions")
            for session in (sessions or []) if status == 200 else []:
                if only is None or session.get("path") in only:
                    self.api("DELETE", f"/api/sessions/{session['id']}", timeout=15)
            if only is not None:
                return
            status, kernels = self.api("GET", "/api/kernels")
            for kernel in (kernels or []) if status == 200 else []:
                self.api("DELETE", f"/api/kernels/{kernel['id']}", timeout=15)
        except OSError:
            pass

    def stop(self, grace: float = 10.0) -> None:
        if self.proc is None:
            return
        pid = self.pid
        self.children = _descendants(pid)
        if self.proc.poll() is None:
            self._signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                self._signal(signal.SIGKILL)
                self.proc.wait(timeout=10)
        self._signal(signal.SIGKILL)  # anything left in its group
        deadline = time.monotonic() + 5
        for child in self.children:  # kernels run in their own sessions
            while _alive(child) and time.monotonic() < deadline:
                time.sleep(0.1)
            if _alive(child):
                try:
                    os.kill(child, signal.SIGKILL)
                except ProcessLookupError:
                    pass

    def _signal(self, sig: int) -> None:
        try:
            os.killpg(self.pid, sig)  # its group id is its own pid (start_new_session)
        except (ProcessLookupError, PermissionError):
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                pass

    def __exit__(self, *exc) -> None:
        self.stop()


def jupyter_lab_command(port: int, token: str, root: Path) -> list[str]:
    return [sys.executable, "-m", "jupyterlab", *(["--allow-root"] if IS_ROOT else []),
            "--no-browser", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
            "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={root}",
            # the test drives JupyterLab through its own command registry (window.jupyterapp)
            "--LabApp.expose_app_in_browser=True",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]


# --------------------------------------------------------------------------- fixtures

def pytest_generate_tests(metafunc):
    """A test that takes `notebook` runs once per notebooks/*.ipynb (as they land), the last
    lesson first (the longest first: see test_browser_notebooks.py)."""
    if "notebook" in metafunc.fixturenames:
        metafunc.parametrize("notebook", NOTEBOOKS[::-1], ids=[p.name for p in NOTEBOOKS[::-1]])


@pytest.fixture(scope="session")
def lab_kit():
    """The helpers above, for test modules (importing from a conftest is ambiguous when the
    repository has several of them)."""
    from types import SimpleNamespace
    return SimpleNamespace(REPO=REPO, LabProcess=LabProcess, free_port=free_port, http=http,
                           alive=_alive, isolated_jupyter_env=isolated_jupyter_env,
                           course_script=course_script)


@pytest.fixture(scope="session")
def lab_root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def screenshots_dir() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


@pytest.fixture(scope="session")
def browser_report(pytestconfig) -> list:
    """Lines for the terminal summary (timings, screenshot paths)."""
    return pytestconfig.stash.setdefault(REPORT_KEY, [])


def progress(config, message: str) -> None:
    """A live line `[browser] message` while the browser tests run (they take a minute or two):
    written through pytest's terminal reporter, past output capture."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None:
        return
    capture = config.pluginmanager.get_plugin("capturemanager")
    with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
        reporter.ensure_newline()
        if config.get_terminal_writer().width_of_current_line:   # after -q's dots
            reporter.write("\n")
        reporter.write_line(f"[browser] {message}")


@pytest.fixture(scope="session")
def browser_progress(pytestconfig):
    """say(message): a live progress line (see progress)."""
    return lambda message: progress(pytestconfig, message)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """After each notebook's test: `checked` or `FAILED`, as a progress line."""
    outcome = yield
    report = outcome.get_result()
    notebook = getattr(item, "callspec", None) and item.callspec.params.get("notebook")
    if call.when == "call" and isinstance(notebook, Path) and not report.skipped:
        progress(item.config, f"{notebook.name}: {'checked' if report.passed else 'FAILED'} "
                              f"({report.duration:.1f} s in its test)")


@pytest.fixture(scope="session")
def lab_server(tmp_path_factory, browser_report, browser_progress):
    """One JupyterLab for the whole session, stopped by its pid at the end no matter what."""
    home = tmp_path_factory.mktemp("jupyterlab")
    port, token = free_port(), secrets.token_hex(24)
    server = LabProcess(jupyter_lab_command(port, token, ROOT), port, token,
                        isolated_jupyter_env(home), ROOT, home / "jupyterlab.log")
    with server:
        browser_progress(f"JupyterLab server answered in {server.started_in:.1f} s")
        browser_report.append(f"JupyterLab server: answered in {server.started_in:.1f} s "
                              f"(pid {server.pid}, port {port}, log {server.log_path})")
        server.shutdown_kernels()  # leftovers (there should be none on a fresh server)
        try:
            yield server
        finally:
            server.shutdown_kernels()
    if _alive(server.pid):
        browser_report.append(f"JupyterLab server: pid {server.pid} is STILL RUNNING")
        raise RuntimeError(f"the test JupyterLab (pid {server.pid}) survived its stop")
    browser_report.append(f"JupyterLab server: stopped by its pid {server.pid}")


def _chromium_missing_reason() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError as error:
        return (f"Playwright for Python is not importable ({error}); it comes with the course's "
                f"test extra: pip install -e '.[test]'")
    if not (Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK)) and not shutil.which(CHROMIUM):
        return (f"Chromium not found at {CHROMIUM}: install Debian's `chromium` package "
                f"(tests/browser/ensure_chromium.sh does it as root), or set SAGALAB_CHROMIUM")
    return None


# Launching Chromium the first time after boot read ~300 MB from disk: 7.4 s of launch (and
# 1.5 s for Playwright's driver) with the page cache dropped, against 0.5 s warm, and almost no
# CPU. The browser tests run last (tests/conftest.py), so a background launch started when
# the session's tests are known does that reading while the other tests use the CPU.
WARM_UP = f"""
from playwright.sync_api import sync_playwright
with sync_playwright() as playwright:
    playwright.chromium.launch(executable_path={CHROMIUM!r}, headless=True,
                               args={CHROMIUM_ARGS!r}).close()
"""
_warm_up: dict = {}


def pytest_collection_finish(session):
    """Start the Chromium warm-up when browser tests will run (and can: Chromium is here)."""
    wanted = any(Path(str(item.path)).resolve().parent == Path(__file__).resolve().parent
                 and "notebook" in item.fixturenames for item in session.items)
    if wanted and not session.config.option.collectonly and _chromium_missing_reason() is None:
        _warm_up["started"] = time.monotonic()
        _warm_up["proc"] = subprocess.Popen([sys.executable, "-c", WARM_UP],
                                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                            stderr=subprocess.DEVNULL, start_new_session=True,
                                            preexec_fn=_die_with_parent)


def _finish_warm_up(timeout: float = 60.0) -> str | None:
    """Wait for the warm-up (if any) to end; say how it went, for the report."""
    proc = _warm_up.pop("proc", None)
    if proc is None:
        return None
    waited = time.monotonic()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    return (f"Chromium warm-up: started {waited - _warm_up['started']:.1f} s before Chromium was "
            f"needed, exit status {proc.returncode}, then waited for {time.monotonic() - waited:.1f} s")


def pytest_sessionfinish(session):
    proc = _warm_up.pop("proc", None)
    if proc is not None and proc.poll() is None:   # the browser tests never ran
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@pytest.fixture(scope="session")
def browser(browser_report):
    reason = _chromium_missing_reason()
    if reason:
        browser_report.append(f"browser tests SKIPPED: {reason}")
        pytest.skip(reason)
    warm = _finish_warm_up()
    if warm:
        browser_report.append(warm)
    from playwright.sync_api import sync_playwright
    start = time.monotonic()
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                              args=CHROMIUM_ARGS)
        browser_report.append(f"Chromium {chromium.version}: launched in "
                              f"{time.monotonic() - start:.1f} s")
        try:
            yield chromium
        finally:
            chromium.close()


# --------------------------------------------------------------------------- reporting

def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """Time per notebook and where the screenshots are, shown without -s."""
    lines = config.stash.get(REPORT_KEY, None)
    if not lines:
        return
    here = Path(__file__).resolve().parent
    total, count = 0.0, set()
    for reports in terminalreporter.stats.values():
        for report in reports:
            if not getattr(report, "when", None):
                continue
            path = (config.rootpath / report.nodeid.split("::")[0]).resolve()
            if path.parent == here:
                total += report.duration
                count.add(report.nodeid)
    terminalreporter.write_sep("-", "browser tests (JupyterLab + headless Chromium)")
    for line in lines:
        terminalreporter.write_line(line)
    terminalreporter.write_line(f"tests/browser: {len(count)} test(s), {total:.1f} s in total "
                                f"(set-up, calls and tear-down)")
