"""The safety net (S4, R6, O2): ``sweep`` sends ``sweep_due``, and each area
catches up on what it owns (scoring: pending rows nobody applied and ended time
windows; routing: sales-ready leads with no decision since they changed and
leads not accepted in time; webhooks: due retries; the outbox: queued emails),
and job retries left overdue by a dead RQ scheduler are moved to their queue.

Every long-running worker runs a ``Sweeper`` thread that sweeps every
``SWEEP_SECONDS``, guarded by a short-lived Redis lock so exactly one runs at a
time: a dead worker's lock expires in ``LOCK_SECONDS``, a failed sweep is tried
again on the next tick, and nothing depends on a job surviving in Redis (a
Redis restart or flush, a killed worker, a plain ``rq worker`` all keep it
going). An ``epoch`` key tells a Redis that came back empty: that sweep
re-enqueues every pending row at once.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time

from leads.base import signals
from leads.base.db import close_connection, db, utcnow
from leads.base.queue import enqueue_overdue, epoch_key

log = logging.getLogger(__name__)

SWEEP_SECONDS = 15
TICK_SECONDS = 2  # how often each worker looks whether a sweep is due
LOCK_SECONDS = 10  # longer than a sweep takes; a dead holder's lock is gone in this time


def sweep(now: dt.datetime | None = None, reschedule: bool = False, redis_lost: bool = False) -> dict:
    """Run every area's catch-up; returns what each did, merged. ``redis_lost``:
    Redis came back empty, so every job it held is gone. (``reschedule`` is
    accepted for jobs enqueued by older versions, and ignored.)"""
    now = now or utcnow()
    summary: dict = {}
    for _receiver, result in signals.sweep_due.send(__name__, now=now, redis_lost=redis_lost):
        summary.update(result or {})
    return summary


def lock_name(app) -> str:
    return f"{app.config.get('QUEUE_PREFIX', 'leadflow')}:sweeper"


def last_sweep_key(app) -> str:
    return f"{app.config.get('QUEUE_PREFIX', 'leadflow')}:sweeper:last"


def _due(app, connection) -> bool:
    last = connection.get(last_sweep_key(app))
    return last is None or time.time() - float(last) >= SWEEP_SECONDS


def sweep_once(app, connection, force: bool = False) -> bool:
    """If a sweep is due (or ``force``) and the install's sweeper lock is free:
    take it, sweep, let it go; True when this call swept. A missing epoch key
    means Redis restarted empty or was flushed: that sweep re-enqueues every
    pending row at once. Any error is logged: the next tick tries again."""
    lock = connection.lock(lock_name(app), timeout=LOCK_SECONDS, blocking=False)
    try:
        if not (force or _due(app, connection)) or not lock.acquire(blocking=False):
            return False
        redis_lost = connection.set(epoch_key(app), f"{time.time():.3f}", nx=True)
    except Exception:
        log.warning("sweeper: Redis unreachable; trying again in %s s", TICK_SECONDS, exc_info=True)
        return False
    try:
        with app.app_context():
            db.connect(reuse_if_open=True)
            try:
                summary = sweep(redis_lost=bool(redis_lost))
            finally:
                close_connection(optimize=False)
        summary["scheduled"] = enqueue_overdue(app)
        connection.set(last_sweep_key(app), f"{time.time():.3f}")
        log.debug("sweep: %s", summary)
        return True
    except Exception:
        connection.delete(epoch_key(app)) if redis_lost else None  # the catch-up is still owed
        log.exception("sweep failed; trying again in %s s", TICK_SECONDS)
        return False
    finally:
        try:
            lock.release()
        except Exception:  # expired meanwhile, or Redis gone: it lapses by itself
            pass


class Sweeper(threading.Thread):
    """A daemon thread of a worker process: every ``TICK_SECONDS`` it sweeps if
    no worker has swept for ``SWEEP_SECONDS`` (so a dead sweeper is replaced
    within about ``LOCK_SECONDS + TICK_SECONDS``)."""

    def __init__(self, app, connection, every: float = TICK_SECONDS):
        super().__init__(name="leadflow-sweeper", daemon=True)
        self.app, self.connection, self.every = app, connection, every
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(self.every):
            sweep_once(self.app, self.connection)

    def stop(self) -> None:
        self.stopped.set()
