"""The safety net's own bookkeeping in Redis (O2, O4): one sweep at a time
behind the install's lock, the time of the last sweep, the epoch that tells a
Redis that came back empty; every key carries the install's prefix, so several
installs share one Redis."""

from __future__ import annotations

from leads.base.queue import QUEUE_NAMES, epoch_key, get_queue, get_redis
from leads.base.sweep import last_sweep_key, lock_name, sweep_once
from leads.scoring import scorer
from tests.factories import make_lead


def test_o2_o4_one_sweep_at_a_time_and_every_key_carries_the_install_prefix(app):
    prefix = app.config["QUEUE_PREFIX"]
    with app.app_context():
        conn = get_redis()
    assert conn.exists(epoch_key(app))  # set when the install first reached this Redis
    assert sweep_once(app, conn, force=True)
    assert conn.exists(last_sweep_key(app))
    assert not sweep_once(app, conn)  # swept a moment ago: not due yet
    held = conn.lock(lock_name(app), timeout=5)
    assert held.acquire(blocking=False)
    try:
        assert not sweep_once(app, conn, force=True)  # another worker holds the lock
    finally:
        held.release()
    assert {lock_name(app), last_sweep_key(app), epoch_key(app)} == {
        f"{prefix}:sweeper",
        f"{prefix}:sweeper:last",
        f"{prefix}:epoch",
    }


def test_o2_a_redis_that_lost_its_data_makes_the_next_sweep_catch_up_everything(app):
    """A pending row written a moment ago is left to its own job by an ordinary
    sweep; once the epoch key is gone (FLUSHALL, a restart without persistence)
    the next sweep enqueues its scoring at once."""
    lead = make_lead()
    with app.app_context():
        conn, queue = get_redis(), get_queue()
        scorer.mark_pending([lead.id], "test")
    assert sweep_once(app, conn, force=True)
    assert queue.count == 0  # fresh: its job is presumed alive
    conn.delete(epoch_key(app))
    assert sweep_once(app, conn, force=True)
    assert queue.count == 1 and conn.exists(epoch_key(app))


def test_o2_retries_left_overdue_by_a_dead_rq_scheduler_are_moved_by_the_next_sweep(app):
    """RQ's scheduler (one worker, behind a lock) moves a retry onto its queue
    when its backoff ends; if that worker was killed, nobody does for up to
    ~13 minutes. The sweep moves every scheduled job more than a few seconds
    overdue, on every queue, and leaves the ones not yet due (or just due, which
    a live scheduler is about to move) where they are."""
    import datetime as dt

    with app.app_context():
        conn = get_redis()
        queues = [get_queue(name) for name in QUEUE_NAMES]
        now = dt.datetime.now(dt.UTC)
        job = "leads.webhooks.delivery.deliver_webhook"
        for queue in queues:
            queue.enqueue_at(now - dt.timedelta(minutes=5), job, 999_001, job_id=f"{queue.name}-overdue")
        just_due = queues[0].enqueue_at(now - dt.timedelta(seconds=1), job, 999_002, job_id="just-due")
        later = queues[0].enqueue_at(now + dt.timedelta(minutes=5), job, 999_003, job_id="later")
    assert [queue.count for queue in queues] == [0, 0]
    assert sweep_once(app, conn, force=True)
    assert [queue.job_ids for queue in queues] == [[f"{queue.name}-overdue"] for queue in queues]
    scheduled = queues[0].scheduled_job_registry.get_job_ids()
    assert sorted(scheduled) == sorted([just_due.id, later.id])
    assert sweep_once(app, conn, force=True)
    assert [queue.count for queue in queues] == [1, 1]  # moved once, not again
