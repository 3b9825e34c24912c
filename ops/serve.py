"""The all-in-one server behind ``flask serve`` (O3): gunicorn and the RQ
workers as children, each leading its own process group, watched from here.

- Start: the address is tried first, so a busy port is said at once; then,
  within the start timeout and with no child ending, the web must answer
  ``/healthz`` and every RQ worker must have registered in Redis; else
  everything started is stopped and the command fails (status 1).
- Stop: SIGTERM or SIGINT (Ctrl-C: the children, in their own groups, do not
  get the terminal's) is passed on once, as SIGTERM: gunicorn finishes the
  requests in flight, each RQ worker its job (RQ's warm shutdown). Past the
  grace, or on a second Ctrl-C, the workers get RQ's cold shutdown (the job is
  interrupted and its ``Retry`` puts it back on the queue) and gunicorn its
  quick one; whatever is left in a child's group is then killed.
- A child that dies later stops the others as well, with status 1, so that a
  supervisor restarts the whole.
"""

from __future__ import annotations

import http.client
import ipaddress
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import click

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 5000
DEFAULT_WEB_WORKERS = 2
DEFAULT_STOP_TIMEOUT = 25  # warm shutdown: a job or request in flight gets this long to finish
COLD_SECONDS = 5  # after the cold shutdown request, before the groups are killed
RQ_SIGNAL_GAP = 1.2  # RQ ignores a second SIGTERM that comes within a second of the first
POLL_SECONDS = 0.1


@dataclass
class Settings:
    """What ``flask serve`` was asked for (options or environment)."""

    host: str
    port: int
    web_workers: int
    rq_workers: int
    start_timeout: float = 10.0
    stop_timeout: int = DEFAULT_STOP_TIMEOUT


@dataclass
class Child:
    """One started child process; it leads its own process group."""

    name: str
    process: subprocess.Popen
    web: bool = False

    def running(self) -> bool:
        """Whether the child's leader still runs (polling reaps it once it ended)."""
        return self.process.poll() is None

    def signal(self, signum: int) -> None:
        """Send ``signum`` to the leader only: it stops its own children its way."""
        if self.running():
            try:
                self.process.send_signal(signum)
            except ProcessLookupError:
                pass

    def kill_group(self) -> None:
        """SIGKILL whatever is left in the child's group, and reap the leader.
        Once the leader is reaped the group id cannot belong to a stranger: a
        pid is not handed out while a group of that id still has members."""
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.process.wait()


class StopSignals:
    """Counts the SIGTERM and SIGINT received while installed."""

    def __init__(self):
        self.count = 0

    def install(self) -> StopSignals:
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._received)
        return self

    def _received(self, signum, frame) -> None:
        self.count += 1


def run(settings: Settings, env: dict, cwd: str, registered: Callable[[set[int]], bool]) -> int:
    """Serve until a stop signal (0) or until a child fails (1); every child
    is stopped and reaped before this returns. ``registered(pids)`` says
    whether the RQ workers of those pids are up (registered in Redis)."""
    problem = address_problem(settings.host, settings.port)
    if problem:
        raise click.ClickException(problem)
    stop = StopSignals().install()
    children = start(settings, env, cwd)
    try:
        failure = wait_until_ready(children, settings, stop, registered)
        if failure:
            click.echo(f"leadflow: {failure}; stopping", err=True)
            return 1
        if stop.count:
            return 0
        click.echo(
            f"leadflow on {url(settings.host, settings.port)}: {settings.web_workers} web worker(s),"
            f" {settings.rq_workers} RQ worker(s); Ctrl-C or SIGTERM stops them"
        )
        dead = watch(children, stop)
        if dead is not None:
            click.echo(f"leadflow: {dead.name} stopped ({status(dead)}); stopping the rest", err=True)
            return 1
        return 0
    finally:
        shutdown(children, stop, settings.stop_timeout)


def address_problem(host: str, port: int) -> str | None:
    """Why gunicorn could not listen on ``host:port`` (busy, not an address of
    this machine, a privileged port), or None. Tried with SO_REUSEADDR, as
    gunicorn binds."""
    try:
        with socket.create_server((host, port), family=_family(host)):
            return None
    except OSError as error:
        if error.errno == 98:  # EADDRINUSE
            return (
                f"port {port} on {host} is already in use (another leadflow running?);"
                " choose another with --port or PORT"
            )
        return f"cannot listen on {host}:{port}: {error.strerror or error}"


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def start(settings: Settings, env: dict, cwd: str) -> list[Child]:
    """Start gunicorn and the RQ workers, each in a session (and process group) of its own."""
    env = dict(
        env,
        HOST=settings.host,
        PORT=str(settings.port),
        WEB_CONCURRENCY=str(settings.web_workers),
        STOP_TIMEOUT=str(settings.stop_timeout),
    )
    gunicorn = [sys.executable, "-m", "gunicorn", "-c", "python:ops.gunicorn_conf", "app:create_app()"]
    worker = [sys.executable, "-m", "flask", "--app", "app", "worker"]
    commands = [("the web server (gunicorn)", gunicorn, True)]
    commands += [(f"RQ worker {n}", worker, False) for n in range(1, settings.rq_workers + 1)]
    return [
        Child(name, subprocess.Popen(command, env=env, cwd=cwd, start_new_session=True), web)
        for name, command, web in commands
    ]


def wait_until_ready(
    children: list[Child], settings: Settings, stop: StopSignals, registered: Callable[[set[int]], bool]
) -> str | None:
    """Wait until the web answers ``/healthz`` and the RQ workers are
    registered; what went wrong, or None when all are up (or a stop signal
    came first)."""
    deadline = time.monotonic() + settings.start_timeout
    web_up, workers = False, {child.process.pid for child in children if not child.web}
    while not stop.count:
        for child in children:
            if not child.running():
                return f"{child.name} failed to start ({status(child)})"
        web_up = web_up or answers(settings.host, settings.port)
        if web_up and (not workers or registered(workers)):
            return None
        if time.monotonic() >= deadline:
            if not web_up:
                where = f"{url(settings.host, settings.port)}/healthz"
                return f"the web server did not answer on {where} within {settings.start_timeout:g} s"
            return f"the RQ workers did not register in Redis within {settings.start_timeout:g} s"
        time.sleep(POLL_SECONDS)
    return None


def watch(children: list[Child], stop: StopSignals) -> Child | None:
    """Wait for a stop signal (None) or for a child to end (that child)."""
    while not stop.count:
        for child in children:
            if not child.running():
                return child
        time.sleep(POLL_SECONDS)
    return None


def shutdown(children: list[Child], stop: StopSignals, grace: float = DEFAULT_STOP_TIMEOUT) -> None:
    """Warm shutdown, then cold, then SIGKILL to what is left (module docstring)."""
    warm_at = time.monotonic()
    for child in children:
        child.signal(signal.SIGTERM)
    signals_seen, cold, cold_at = stop.count, False, 0.0
    while any(child.running() for child in children):
        now = time.monotonic()
        if not cold and (now - warm_at >= grace or stop.count > signals_seen):
            if now - warm_at >= RQ_SIGNAL_GAP:
                click.echo("leadflow: stopping now (jobs in flight go back on their queue)", err=True)
                for child in children:
                    child.signal(signal.SIGQUIT if child.web else signal.SIGTERM)
                cold, cold_at = True, now
        if cold and now - cold_at >= COLD_SECONDS:
            break
        time.sleep(POLL_SECONDS)
    for child in children:
        if child.running():
            click.echo(f"leadflow: {child.name} did not stop; killed", err=True)
        child.kill_group()


def answers(host: str, port: int) -> bool:
    """Whether the web answers ``GET /healthz`` with 200 on ``host:port``."""
    connection = http.client.HTTPConnection(_probe_host(host), port, timeout=1)
    try:
        connection.request("GET", "/healthz")
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()


def _probe_host(host: str) -> str:
    """Where to knock for ``host``: a wildcard address is knocked on at loopback."""
    return {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)


def url(host: str, port: int) -> str:
    """The address people type for ``host:port``."""
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def is_loopback(host: str) -> bool:
    """Whether ``host`` only listens on this machine (plain http is then fine)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def status(child: Child) -> str:
    """How the child ended, in words."""
    code = child.process.returncode
    if code is not None and code < 0:
        return f"killed by {signal.Signals(-code).name}"
    return f"exit status {code}"
