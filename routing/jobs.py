"""Routing jobs (R1, R6): take ids, reload rows, safe to run twice; and how
routing follows the domain (``connect``, at app set-up).

- ``route_waiting(line_id)``: enqueued after commit when an action (any door,
  the scoring job's qualification included) leaves a lead waiting for a rep,
  unless a job of the lead's product line is already queued (``assign.want_routing``):
  the line's waiting leads are routed in batches, one lock take each, R2
  telling their relationship owners first. A burst of 2,000 sales-ready leads
  is a few jobs, not 2,000 (each paid RQ's bookkeeping and found its lead
  already routed by a batch).
- ``route_lead(lead_id, force)``: one lead (and the waiting leads of the same
  reps beside it), a forced re-routing after a decline or a time-out, on demand.
- ``reroute_overdue()``: the sweeper's turn (``leads.base.sweep``): leads not
  accepted within their rule's time limit leave their rep and are routed again.
"""

from __future__ import annotations

import datetime as dt

from auth.models import ADMIN, MANAGER
from leads.base import signals
from leads.base.db import utcnow
from leads.lists import bulk
from leads.lists import columns as list_columns
from leads.stages.forms import offer_reps_with
from routing import assign, router
from routing.manage import rep_choices
from routing.models import Assignment

MORE_SECONDS = 20  # how long a routing job may go on with batches after a full one (a burst)


def route_lead(lead_id: int, force: bool = False) -> str:
    """R1/R2: notify the lead's relationship owners that it is sales-ready (once),
    then route it, with up to ``assign.BATCH_SIZE`` − 1 other waiting leads of
    the same reps under the same lock take; after a full batch, more batches
    of its product line's waiting leads for up to ``MORE_SECONDS``. Returns
    what happened to this lead (assigned, unassigned, skipped, conflict)."""
    outcomes = assign.route_batch(lead_id, force=force, notify_owners=not force, batch=assign.BATCH_SIZE)
    if sum(outcome.status != "skipped" for outcome in outcomes.values()) >= assign.BATCH_SIZE:
        assign.route_more(lead_id, MORE_SECONDS, notify_owners=not force)
    return outcomes.get(lead_id, assign.Outcome("skipped")).status


def route_waiting(line_id: int | None) -> dict:
    """R1/R2: what ``assign.route_later`` enqueues, once per product line while
    one is queued: route the line's leads that wait for a rep, a batch per lock
    take (their relationship owners told first), for up to ``MORE_SECONDS``;
    leads still waiting then get a new job, so other queues get their turn."""
    assign.routing_taken(line_id)
    decided, more = assign.route_line(line_id, MORE_SECONDS)
    if more:
        assign.want_routing(line_id)
    return {"decided": decided, "more": more}


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


def route_again(lead, user, args) -> str | None:
    """W5 bulk "Run routing again" on one lead, as the managers' button on the
    unassigned queue does (R4): a note when it still found nobody; a lead not
    waiting for a rep is refused."""
    outcome = assign.route_lead(lead.id, force=True)
    if outcome.status == "unassigned":
        return "still unassigned: " + router.REASONS.get(outcome.decision.reason, outcome.decision.reason)
    if outcome.status == "skipped":
        raise bulk.Refused("Not waiting for a rep (only unassigned sales-ready leads are routed).")
    if outcome.status == "conflict":
        raise bulk.Refused("Someone else changed this lead meanwhile.")
    return None


def accept_by(lead_ids: list[int]) -> dict:
    """R6: when each lead's live assignment must be accepted by (the lead list's "Accept by" column)."""
    query = Assignment.select(Assignment.lead, Assignment.due_at).where(
        Assignment.lead.in_(lead_ids)
        & Assignment.ended_at.is_null()
        & Assignment.accepted_at.is_null()
        & Assignment.due_at.is_null(False)
    )
    return dict(query.tuples())


def connect() -> None:
    """Connect routing to the domain's signals, and offer its bulk action and
    list column (once, at app set-up)."""
    signals.action_done.connect(on_action_done, weak=False)
    # The managers' assign picker (lead page, queues) says each rep's load and time away.
    offer_reps_with(rep_choices)
    signals.sweep_due.connect(sweep_overdue, weak=False)
    bulk.register(bulk.BulkAction("route", "Run routing again", frozenset({MANAGER, ADMIN}), route_again))
    list_columns.register(list_columns.Column("accept_by", "Accept by"), accept_by)
