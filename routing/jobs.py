"""Routing jobs (R1, R6): take ids, reload rows, safe to run twice; and how
routing follows the domain (``connect``, at app set-up).

- ``route_lead(lead_id)``: enqueued after commit when an action (any door, the
  scoring job's qualification included) leaves a lead waiting for a rep, and on
  demand: R2 tells the relationship owners, then the lead is routed.
- ``reroute_overdue()``: the sweeper's turn (``leads.base.sweep``): leads not
  accepted within their rule's time limit leave their rep and are routed again.
"""

from __future__ import annotations

import datetime as dt

from leads.base import signals
from leads.base.db import utcnow
from routing import assign


def route_lead(lead_id: int, force: bool = False) -> str:
    """R1/R2: notify the lead's relationship owners that it is sales-ready (once),
    then route it; returns what happened (assigned, unassigned, skipped, conflict)."""
    return assign.route_lead(lead_id, force=force, notify_owners=not force).status


def reroute_overdue(now: dt.datetime | None = None) -> int:
    """R6: take back every lead not accepted in time and enqueue its routing
    (excluding that rep); returns how many."""
    now = now or utcnow()
    count = 0
    for row in list(assign.overdue(now)):
        if assign.take_back_overdue(row.id, now):
            assign.reroute_later(row.lead_id, row.id)
            count += 1
    return count


def on_action_done(sender=None, *, lead, action, user, note, **_) -> None:
    """R1, R6: assignments follow every stage action, whatever its door."""
    assign.after_action(action, lead, user, note)


def sweep_overdue(sender=None, *, now: dt.datetime, redis_lost: bool = False, **_) -> dict:
    """The sweeper's turn: leads not accepted in time are routed again (R6), and
    leads left waiting with no decision (a lost job, O2) are routed now (at
    once when Redis came back empty, else after a short grace)."""
    grace = dt.timedelta(0) if redis_lost else dt.timedelta(seconds=10)
    waiting = list(assign.unrouted(now, grace))
    for lead in waiting:
        assign.route_later(lead)
    return {"overdue": reroute_overdue(now), "unrouted": len(waiting)}


def connect() -> None:
    """Connect routing to the domain's signals (once, at app set-up)."""
    signals.action_done.connect(on_action_done, weak=False)
    signals.sweep_due.connect(sweep_overdue, weak=False)
