"""The RQ worker class of leadflow: jobs in an app context, without forking
(PERF), each on a fresh pooled connection, and the safety net running beside
them (``leads.base.sweep``)."""

from __future__ import annotations

import logging
import os
import threading

from flask import current_app, has_app_context
from rq import SimpleWorker, worker_registration
from rq.utils import now

from leads.base.db import close_connection, db
from leads.base.sweep import Sweeper

log = logging.getLogger(__name__)

def _heartbeat_seconds() -> float:
    """``WORKER_HEARTBEAT_SECONDS`` (1–25, default 10): readiness (O3) wants a
    heartbeat from some worker in the last 30 s, so a beat must come well within it."""
    try:
        seconds = float(os.environ.get("WORKER_HEARTBEAT_SECONDS", "10"))
    except ValueError:
        return 10.0
    return min(max(seconds, 1.0), 25.0)


HEARTBEAT_SECONDS = _heartbeat_seconds()


class Heartbeat(threading.Thread):
    """A daemon thread that sends the worker's RQ heartbeat every
    ``HEARTBEAT_SECONDS``. RQ itself beats only between jobs and every
    ``dequeue_timeout`` (~405 s) while idle, and a worker that does not fork
    never beats during a job: without this a healthy worker looks dead to the
    readiness check for minutes. A frozen or killed process stops beating.
    A worker whose record Redis lost (restarted empty, flushed) is written
    again: RQ would go on beating into a half record nobody lists (O2)."""

    def __init__(self, worker, every: float = HEARTBEAT_SECONDS):
        super().__init__(name="leadflow-heartbeat", daemon=True)
        self.worker, self.every = worker, every
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(self.every):
            try:
                self.beat()
            except Exception:  # Redis away: RQ's own loop reconnects; beat again on the next tick
                log.warning("worker heartbeat failed; trying again in %s s", self.every, exc_info=True)

    def beat(self) -> None:
        """One heartbeat; the whole record, registered again, if Redis lost it."""
        worker = self.worker
        if worker.connection.hexists(worker.key, "birth"):
            worker.heartbeat()
            return
        worker.last_heartbeat = now()
        with worker.connection.pipeline() as pipeline:
            pipeline.hset(worker.key, mapping={**worker.serialize(), "state": worker.get_state()})
            worker_registration.register(worker, pipeline)
            pipeline.expire(worker.key, worker.worker_ttl + 60)
            pipeline.execute()
        log.warning("worker %s: Redis had lost its record; registered again", worker.name)

    def stop(self) -> None:
        self.stopped.set()
        self.join(timeout=self.every + 5)


class ContextWorker(SimpleWorker):
    """An RQ worker that runs each job inside an app context (database bound,
    configuration read), without forking (PERF). Inside ``flask worker`` the
    command's app context is used; a plain ``rq worker`` process uses
    ``app.AppWorker``, whose ``make_app`` builds the app on the first job (the
    factory lives above every package, so nothing here imports it)."""

    _app = None
    _heartbeat: Heartbeat | None = None
    _long_running = False
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
            self._long_running = True
            Sweeper(self.app(), self.connection).start()
        return super().work(*args, burst=burst, **kwargs)

    def register_birth(self, *args, **kwargs):
        """Once registered, a long-running worker keeps its heartbeat going
        (``Heartbeat``); before that a beat would create a half worker record."""
        super().register_birth(*args, **kwargs)
        if self._long_running and self._heartbeat is None:
            self._heartbeat = Heartbeat(self)
            self._heartbeat.start()

    def teardown(self):
        """Stop beating before RQ records the worker's death (a beat after it
        would bring the record back)."""
        if self._heartbeat is not None:
            self._heartbeat.stop()
        super().teardown()
