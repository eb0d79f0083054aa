"""The JupyterLab the browser tests use, and the README's first command, seen from outside:
token required, loopback only, and stopped by process id even when something fails."""
from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest


# ---------------------------------------------------------------- security


@pytest.mark.parametrize("how", ["wrong token header", "wrong token query", "no token"])
@pytest.mark.parametrize("path", ["/api/status", "/api/contents/notebooks", "/api/kernels"])
def test_wrong_token_is_refused_with_403(lab_server, lab_kit, path, how):
    http = lab_kit.http
    url = f"{lab_server.base_url}{path}"
    if how == "wrong token header":
        status, _ = http("GET", url, token=secrets.token_hex(24))
    elif how == "wrong token query":
        status, _ = http("GET", f"{url}?token={secrets.token_hex(24)}")
    else:
        status, _ = http("GET", url)
    assert status == 403, f"GET {path} with {how}: HTTP {status}, expected 403"
    assert lab_server.api("GET", path)[0] == 200, f"GET {path} with the right token should work"


def _listening_sockets(port: int) -> list[tuple[str, str, int]]:
    """(family, local address in hex, socket inode) of every socket listening on `port`,
    read from /proc/net/tcp{,6}."""
    found = []
    for family in ("tcp", "tcp6"):
        try:
            lines = Path(f"/proc/net/{family}").read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            address, port_hex = fields[1].rsplit(":", 1)
            if fields[3] == "0A" and int(port_hex, 16) == port:   # 0A = LISTEN
                found.append((family, address, int(fields[9])))
    return found


LOOPBACK = {
    "tcp": lambda a: a.endswith("7F"),   # 127.x.y.z, little-endian
    "tcp6": lambda a: a == "00000000000000000000000001000000"                 # ::1
                      or (a.startswith("0000000000000000FFFF0000") and a.endswith("7F")),
}


def test_server_listens_on_loopback_only(lab_server):
    if not Path("/proc/net/tcp").exists():
        pytest.skip("no /proc/net/tcp on this system: cannot inspect listening sockets")
    sockets = _listening_sockets(lab_server.port)
    assert sockets, f"nothing listens on port {lab_server.port}"
    exposed = [(family, address) for family, address, _ in sockets if not LOOPBACK[family](address)]
    assert not exposed, f"JupyterLab listens beyond loopback on port {lab_server.port}: {exposed}"
    # ...and those sockets are the server's own
    own = set()
    for fd in Path(f"/proc/{lab_server.pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            own.add(int(target[8:-1]))
    assert {inode for _, _, inode in sockets} <= own, \
        "the listening socket does not belong to the JupyterLab process under test"
    # this machine's own non-loopback addresses do not answer on that port
    try:
        import psutil
        addresses = {a.address for nics in psutil.net_if_addrs().values() for a in nics
                     if a.family == socket.AF_INET and not a.address.startswith("127.")}
    except ImportError:
        addresses = set()
    for address in sorted(addresses):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.settimeout(2)
            assert probe.connect_ex((address, lab_server.port)) != 0, \
                f"JupyterLab answers on this machine's address {address}"


# ---------------------------------------------------------------- the README's first command

class Boom(Exception):
    """Stands for any failure while the course's JupyterLab is running."""


def _course_environment_is_current(lab_kit) -> str | None:
    """None when course.py would start JupyterLab at once; else why not. course.py reinstalls
    .venv/ when pyproject.toml or constraints.txt changed since its stamp (minutes, network),
    so this test only runs on a current environment -- as it is under `course.py test`."""
    if not lab_kit.course_script().environment_is_current():
        return ("the course environment .venv/ is not current (course.py would reinstall it "
                "first); `python3 course.py test` sets it up, then runs this test")
    return None


def _answers(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _listeners(port: int) -> list:
    try:
        import psutil
        return [(c.pid, c.status, psutil.Process(c.pid).cmdline()[:4] if c.pid else None)
                for c in psutil.net_connections("tcp") if c.laddr and c.laddr.port == port]
    except Exception as error:   # psutil missing, or no permission to list connections
        return [f"(could not list: {error})"]


def _descendants(pid: int) -> list[int]:
    try:
        import psutil
        return [child.pid for child in psutil.Process(pid).children(recursive=True)]
    except Exception:  # psutil missing, or the process is already gone
        return []


def _group_pids(pgid: int) -> set[int]:
    return {pid for pid, _ in _group(pgid) if isinstance(pid, int)}


def _group(pgid: int) -> list:
    """(pid, command line) of the processes in process group `pgid`."""
    try:
        import psutil
        found = []
        for proc in psutil.process_iter(["pid", "cmdline"]):
            try:
                if os.getpgid(proc.pid) == pgid:
                    found.append((proc.pid, (proc.info["cmdline"] or [])[:4]))
            except OSError:
                pass
        return found
    except Exception as error:
        return [f"(could not list: {error})"]


def _readme_lab_command(tmp_path, lab_kit):
    """The README's `python3 course.py lab`, on 127.0.0.1, a free port and a random token, as
    a LabProcess (not started); (lab, repo, port). Skips unless the environment is current."""
    repo = lab_kit.REPO
    reason = _course_environment_is_current(lab_kit)
    if reason:
        pytest.skip(reason)
    python3 = shutil.which("python3") or sys.executable
    port, token = lab_kit.free_port(), secrets.token_hex(24)
    command = [python3, str(repo / "course.py"), "lab", "--no-browser",
               "--ServerApp.ip=127.0.0.1", f"--port={port}", "--ServerApp.port_retries=0",
               f"--IdentityProvider.token={token}"]
    lab = lab_kit.LabProcess(command, port, token, lab_kit.isolated_jupyter_env(tmp_path / "home"),
                             repo, tmp_path / "course-lab.log")
    return lab, repo, port


def test_readme_lab_command_opens_the_course_and_is_stopped_even_on_failure(tmp_path, lab_kit):
    lab, repo, port = _readme_lab_command(tmp_path, lab_kit)
    with pytest.raises(Boom):
        with lab:
            status, body = lab.api("GET", "/api/status")
            assert status == 200, f"`python3 course.py lab` does not answer: HTTP {status}"
            assert lab.api("GET", "/lab")[0] == 200, "JupyterLab's page does not load"
            # what the learner's browser is sent to (jupyter writes it to its runtime dir)
            opens = [f.read_text() for f in (tmp_path / "home" / "runtime").glob("*file-to-run*open.html")]
            assert any("/lab/tree/notebooks/00_welcome.ipynb?token=" in page for page in opens), (
                f"the README command does not open /lab/tree/notebooks/00_welcome.ipynb: {opens}")
            # served from the repository root, so labs/ and solutions/ are reachable from the
            # file browser and from links in the lessons (not only notebooks/)
            for path in ("notebooks/00_welcome.ipynb", "labs", "solutions"):
                if (repo / path).exists():
                    status = lab.api("GET", f"/api/contents/{path}?content=0")[0]
                    assert status == 200, (
                        f"{path} is not reachable in the course's JupyterLab (HTTP {status}): "
                        f"its root must be the repository; "
                        f"{[l for l in lab.log_text().splitlines() if 'Serving' in l]}")
            assert lab_kit.http("GET", f"{lab.base_url}/api/status", token="wrong")[0] == 403
            # nbgrader is installed (for instructors) but off in the learners' JupyterLab:
            # no menus (its lab extension disabled), no formgrader (its server extension off)
            page = lab.api("GET", "/lab")[1]
            disabled = re.search(r'"disabledExtensions": *(\[[^]]*\])', page)
            assert disabled and "@jupyter/nbgrader" in disabled.group(1), (
                f"nbgrader's menus are on in the course's JupyterLab: disabledExtensions "
                f"{disabled and disabled.group(1)}; jupyter_config/ not on JUPYTER_CONFIG_PATH?")
            assert lab.api("GET", "/formgrader")[0] == 404, "nbgrader's formgrader is served"
            raise Boom("a failure while the course's JupyterLab runs")
    # the with-block stopped it by its process id (SIGTERM to its process group) although the
    # block failed: course.py and the jupyter lab it started are gone, the port is free
    assert lab.proc.poll() is not None, "course.py is still running"
    assert not lab_kit.alive(lab.pid, group=True), "a process of `course.py lab` is still running"
    # the port is released (seen in CI: once, it still answered just after the group was gone,
    # so give the kernel a few seconds, and name whoever holds it if it never goes)
    deadline = time.monotonic() + 5
    while _answers(port) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _answers(port), f"port {port} still answers: {_listeners(port)}"
    assert lab.proc.returncode in (0, -signal.SIGTERM, 128 + signal.SIGTERM, 1), \
        f"course.py ended with status {lab.proc.returncode}"


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_readme_lab_command_stops_jupyterlab_when_only_course_py_is_signalled(tmp_path, lab_kit,
                                                                              sig):
    """`kill <pid of course.py>` (or a process manager stopping it) reaches course.py alone, not
    its process group: course.py must pass the signal on to the `jupyter lab` it started and
    wait for it, leaving no process, no kernel and no open port behind. (Before course.py
    forwarded signals, SIGTERM left JupyterLab running and holding its port; SIGINT had it
    killed with SIGKILL, without its own shutdown.)"""
    lab, repo, port = _readme_lab_command(tmp_path, lab_kit)
    kernels: list[int] = []
    try:
        with lab:   # whatever fails below, leaving the block kills the whole group
            assert lab.api("POST", "/api/kernels", timeout=30)[0] == 201, "no kernel starts"
            kernels = [pid for pid in _descendants(lab.pid) if pid not in _group_pids(lab.pid)]
            os.kill(lab.pid, sig)   # course.py only, not its group
            try:
                lab.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                pytest.fail(f"course.py still runs 15 s after {sig.name}; log:\n{lab.log_tail()}")
            deadline = time.monotonic() + 5
            while lab_kit.alive(lab.pid, group=True) and time.monotonic() < deadline:
                time.sleep(0.1)
            assert not lab_kit.alive(lab.pid, group=True), (
                f"course.py exited (status {lab.proc.returncode}) on {sig.name}, but a process of "
                f"its group still runs: {_group(lab.pid)}; log:\n{lab.log_tail()}")
            deadline = time.monotonic() + 5
            while _answers(port) and time.monotonic() < deadline:
                time.sleep(0.1)
            assert not _answers(port), f"port {port} still answers: {_listeners(port)}"
            # JupyterLab stopped itself (SIGTERM: "received signal 15, stopping"; SIGINT without
            # a terminal: "Interrupted..."), it was not killed
            assert re.search(r"received signal \d+, stopping|Interrupted\.\.\.", lab.log_text()), (
                f"JupyterLab did not stop by itself on {sig.name} sent to course.py (status "
                f"{lab.proc.returncode}): killed?; log:\n{lab.log_tail()}")
            # its kernels run in sessions of their own; they go with it
            deadline = time.monotonic() + 5
            while any(lab_kit.alive(pid) for pid in kernels) and time.monotonic() < deadline:
                time.sleep(0.1)
            assert not [pid for pid in kernels if lab_kit.alive(pid)], (
                f"a kernel of the course's JupyterLab outlived it: {kernels}")
    finally:
        for pid in kernels:
            if lab_kit.alive(pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
