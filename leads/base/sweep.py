"""The safety net (S4, R6, O2): every ``SWEEP_SECONDS`` a worker runs ``sweep``,
which sends ``sweep_due``; each area catches up on what it owns (scoring:
pending rows nobody applied and ended time windows; webhooks: due retries;
routing: leads not accepted in time; the outbox: queued emails)."""

from __future__ import annotations

import datetime as dt

from leads.base import signals
from leads.base.db import utcnow
from leads.base.queue import get_queue

SWEEP_SECONDS = 15


def sweep(now: dt.datetime | None = None, reschedule: bool = False) -> dict:
    """Run every area's catch-up; returns what each did, merged."""
    now = now or utcnow()
    summary: dict = {}
    for _receiver, result in signals.sweep_due.send(__name__, now=now):
        summary.update(result or {})
    if reschedule:
        schedule_sweeper()
    return summary


def schedule_sweeper() -> None:
    """Run ``sweep`` again in ``SWEEP_SECONDS`` (one scheduled entry, whatever the
    number of workers: its id is fixed). Workers run with the RQ scheduler."""
    get_queue().enqueue_in(
        dt.timedelta(seconds=SWEEP_SECONDS),
        "leads.base.sweep.sweep",
        kwargs={"reschedule": True},
        job_id="sweeper",
        job_timeout=120,
    )
