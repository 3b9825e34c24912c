"""What the fault tests (O2) drive: a redis-server of the test's own on a free
port (so it can be flushed, killed and started again), real ``flask worker``
processes, and polling with deadlines.

Every child is started in its own session, hence its own process group
(``start_new_session=True``), and killed as a group: a worker's RQ scheduler
is a forked child of it, which a kill of the worker's pid alone would leave
running (and polling Redis) after the tests.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable

import psutil
import redis as redis_lib

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def kill_group(process: subprocess.Popen, timeout: float = 10) -> None:
    """SIGKILL the process's whole group (it leads one: ``start_new_session``),
    thawed first so nothing stays stopped, and reap the leader."""
    for sig in (signal.SIGCONT, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            break
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        pass


def wait_for(predicate: Callable[[], object], timeout: float, every: float = 0.1):
    """Poll ``predicate`` until it returns something truthy (returned) or
    ``timeout`` seconds pass (then its last answer is returned)."""
    deadline = time.monotonic() + timeout
    while True:
        answer = predicate()
        if answer or time.monotonic() >= deadline:
            return answer
        time.sleep(every)


def free_port() -> int:
    """A local TCP port nobody listens on (for the test's own redis-server)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class RedisServer:
    """A throw-away redis-server (no persistence: a restart comes back empty)."""

    def __init__(self, workdir: str):
        self.workdir, self.port, self.process = workdir, free_port(), None
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        """Start the server (again, empty, on the same port); returns once it answers."""
        command = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
        command += ["--save", "", "--appendonly", "no", "--dir", self.workdir]
        log = open(os.path.join(self.workdir, f"redis-{self.port}.log"), "ab")
        self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        assert wait_for(self._answers, 10, 0.02), "redis-server did not start"
        return self

    def _answers(self) -> bool:
        try:
            return bool(self.client().ping())
        except redis_lib.RedisError:
            return False

    def client(self) -> redis_lib.Redis:
        """A new client of this server."""
        return redis_lib.Redis.from_url(self.url, socket_connect_timeout=1, socket_timeout=5)

    def kill(self) -> None:
        """Gone at once, data and all (SIGKILL)."""
        if self.process is not None:
            kill_group(self.process)
            self.process = None


class WorkerProcess:
    """One ``flask --app app worker`` process on the given install; its log
    (RQ's lines, tracebacks) goes to a file the assertions can quote."""

    def __init__(self, env: dict, log_path: str, *args: str):
        self.log_path = log_path
        with open(log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "flask", "--app", "app", "worker", *args],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.pid, self._killed = self.process.pid, False

    def alive(self) -> bool:
        """Whether the worker process still runs (a frozen one does)."""
        return self.process.poll() is None

    def freeze(self, wait: bool = True) -> None:
        """SIGSTOP the worker itself (its scheduler child runs on); with ``wait``,
        return once it is stopped."""
        os.kill(self.pid, signal.SIGSTOP)
        if wait:
            wait_for(self._stopped, 2, 0.001)

    def _stopped(self) -> bool:
        try:
            return psutil.Process(self.pid).status() == psutil.STATUS_STOPPED
        except psutil.Error:
            return True

    def thaw(self) -> None:
        """SIGCONT: the frozen worker carries on where it stopped."""
        os.kill(self.pid, signal.SIGCONT)

    def kill9(self) -> None:
        """The machine pulls the plug: SIGKILL to the worker and its scheduler child
        (once: a dead group's id may be reused by a stranger's process)."""
        if not self._killed:
            self._killed = True
            kill_group(self.process)

    def log(self) -> str:
        """Everything the worker has logged so far."""
        with open(self.log_path, errors="replace") as handle:
            return handle.read()

    def tail(self, chars: int = 3000) -> str:
        """The end of the log, titled, for an assertion's message."""
        return f"--- worker {self.pid} log ---\n" + self.log()[-chars:]

    def local_ports(self) -> set[int]:
        """The local ports of this worker's TCP connections (PostgreSQL, Redis)."""
        try:
            return {c.laddr.port for c in psutil.Process(self.pid).net_connections(kind="tcp") if c.laddr}
        except psutil.Error:
            return set()
