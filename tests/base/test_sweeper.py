"""The safety net's own bookkeeping in Redis (O2, O4): one sweep at a time
behind the install's lock, the time of the last sweep, the epoch that tells a
Redis that came back empty; every key carries the install's prefix, so several
installs share one Redis."""

from __future__ import annotations

from leads.base.queue import epoch_key, get_queue, get_redis
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
