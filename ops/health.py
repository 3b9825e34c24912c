"""Liveness and readiness (O3): what ``/healthz`` and ``/readyz`` answer.

Readiness asks each part the install needs to do its work: the database
answers, Redis answers, every migration is applied, at least one RQ worker
has sent a heartbeat in the last ``HEARTBEAT_WINDOW`` seconds and the sweeper
swept in the last ``SWEEP_WINDOW``. Each check is a yes or a no; why a check
failed goes to the log, never into the answer (no error text, host or version
for a stranger to read).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from rq import Worker

from leads.base import migrate
from leads.base.db import db
from leads.base.queue import QUEUE_NAMES, get_queue, redis_url
from leads.base.sweep import last_sweep_key

log = logging.getLogger(__name__)

HEARTBEAT_WINDOW = 30  # seconds; workers beat every 10 (leads.base.worker.Heartbeat)
SWEEP_WINDOW = 60  # seconds; a sweep is due every 15 and a dead sweeper is replaced in ~12
PROBE_TIMEOUT = 2  # seconds a check may wait for Redis: a probe answers, it never hangs


def readiness(app) -> dict[str, bool]:
    """Each readiness check by name, True when it passes."""
    probe = probe_redis(app)
    checks: dict[str, Callable[[], bool]] = {
        "database": _database,
        "redis": lambda: bool(probe.ping()),
        "migrations": lambda: not migrate.pending(),
        "workers": lambda: _worker_alive(app, probe),
        "sweeper": lambda: _swept(app, probe),
    }
    return {name: _passes(name, check) for name, check in checks.items()}


def _passes(name: str, check: Callable[[], bool]) -> bool:
    try:
        passed = bool(check())
    except Exception:
        log.warning("readiness: %s check failed", name, exc_info=True)
        return False
    if not passed:
        log.warning("readiness: %s check failed", name)
    return passed


def probe_redis(app) -> redis.Redis:
    """The app's Redis client for probes and scrapes: short timeouts and no
    retries (the app's own client waits and retries, as jobs should; a probe
    must answer at once)."""
    client = app.extensions.get("redis_probe")
    if client is None:
        client = redis.Redis.from_url(
            redis_url(app),
            socket_connect_timeout=PROBE_TIMEOUT,
            socket_timeout=PROBE_TIMEOUT,
            retry=Retry(NoBackoff(), 0),
        )
        app.extensions["redis_probe"] = client
    return client


def _database() -> bool:
    db.connect(reuse_if_open=True)  # the probes skip the app's connect: a failure is an answer here
    return db.execute_sql("SELECT 1").fetchone()[0] == 1


def _worker_alive(app, connection: redis.Redis) -> bool:
    """True when a worker on one of the install's queues beat recently."""
    now = time.time()
    for name in QUEUE_NAMES:
        for worker in Worker.all(queue=get_queue(name, app, connection)):
            beat = worker.last_heartbeat
            if beat is not None and now - beat.timestamp() <= HEARTBEAT_WINDOW:
                return True
    return False


def _swept(app, connection: redis.Redis) -> bool:
    last = connection.get(last_sweep_key(app))
    return last is not None and time.time() - float(last) <= SWEEP_WINDOW
