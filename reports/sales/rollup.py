"""Keeping the sales rollup (SPEC D1) in slices: ``refresh_slice`` recomputes
the facts of up to ``SLICE`` leads changed since the last slice (read by their
last change, then id, from ``SalesRollupState``; leads given a new activity
too), each from its history, assignments and activities through
``reports.core.build_fact``; once it has caught up, it recomputes the rep days
from the day before the last one it wrote up to today (when a lead changed,
at most once a minute, or on a new day). Facts and days are
recomputed from their source rows and replaced whole, never incremented, so a
slice run twice changes nothing. The sweeper runs one slice per sweep
(``reports.sales.jobs``); ``refresh`` runs slices until caught up (the first
build of an install, the benchmark).

An activity edited or deleted later is read again only when its lead changes.
"""

from __future__ import annotations

import datetime as dt

import peewee as pw

from auth.models import User
from leads.activities.models import Activity
from leads.base import bulk
from leads.base.db import transaction, utcnow
from leads.records.models import Lead, LeadHistory
from reports import core
from reports.sales.models import SalesLeadFact, SalesRepDay, SalesRollupState
from routing.assign import END_DECLINED, END_OVERDUE, END_REASSIGNED
from routing.models import Assignment

BATCH = 1000
SLICE = 2000  # leads per slice: a sweep's turn stays well under a second
DAYS_EVERY_SECONDS = 60  # rep days are rewritten at most once a minute (and on a new day)
_KINDS = ("stage", "status", "sales_ready")
_EPOCH = dt.datetime(1970, 1, 1)


def refresh(now: dt.datetime | None = None) -> dict:
    """Run slices until the rollup has caught up; returns what they rewrote."""
    total = {"facts": 0, "rep_days": 0}
    while True:
        done = refresh_slice(now)
        total["facts"] += done["facts"]
        total["rep_days"] += done["rep_days"]
        if done["caught_up"]:
            return total


def _state() -> SalesRollupState:
    state = SalesRollupState.select().order_by(SalesRollupState.id).first()
    return state or SalesRollupState.create()


def _micros(moment: dt.datetime) -> int:
    return (moment - _EPOCH) // dt.timedelta(microseconds=1)


def refresh_slice(now: dt.datetime | None = None, size: int = SLICE) -> dict:
    """One slice: the next ``size`` changed leads (and those with new
    activities), then, once caught up, the rep days. Returns what it rewrote
    and whether it caught up."""
    now = now or utcnow()
    state = _state()
    if state.leads_through is None and not state.activities_last_id:
        # A first build reads every lead with its activities: none to read twice.
        state.activities_last_id = Activity.select(pw.fn.MAX(Activity.id)).scalar() or 0
    changed = _changed_leads(state, size)
    noted = list(
        Activity.select(Activity.id, Activity.lead)
        .where(Activity.id > state.activities_last_id)
        .order_by(Activity.id)
        .limit(size)
        .tuples()
    )
    ids = sorted({lead_id for lead_id, _at in changed} | {lead_id for _id, lead_id in noted})
    teams = _rep_teams()
    for first in range(0, len(ids), BATCH):
        with transaction():
            store_facts(ids[first : first + BATCH], core.epoch(now), teams)
    if changed:
        last_id, last_at = changed[-1]
        state.leads_through, state.leads_last_id = _micros(last_at), last_id
    if noted:
        state.activities_last_id = noted[-1][0]
    caught_up = len(changed) < size and len(noted) < size
    days = 0
    # Rep days follow assignments, which change with their lead: rewritten when a
    # lead changed since (at most once a minute: they read every live
    # assignment) or on a new day.
    new_day = state.days_through != core.day_number(now.date())
    moved = state.leads_through is not None and state.leads_through // 1_000_000 >= (state.days_at or 0)
    due = (state.days_at or 0) <= core.epoch(now) - DAYS_EVERY_SECONDS
    if caught_up and (new_day or (moved and due)):
        if state.days_through is None:
            earliest = Assignment.select(pw.fn.MIN(Assignment.created_at)).scalar()
            first_day = earliest.date() if earliest else now.date()
        else:
            first_day = core.from_day_number(state.days_through) - dt.timedelta(days=1)
        days = store_rep_days(min(first_day, now.date()), now.date(), teams)
        state.days_through, state.days_at = core.day_number(now.date()), core.epoch(now)
    if caught_up:
        state.refreshed_at = core.epoch(now)
    state.save()
    return {"facts": len(ids), "rep_days": days, "caught_up": caught_up}


def _changed_leads(state: SalesRollupState, size: int) -> list[tuple[int, dt.datetime]]:
    """The next ``size`` leads by (last change, id) after the state's cursor."""
    query = Lead.select(Lead.id, Lead.updated_at).order_by(Lead.updated_at, Lead.id).limit(size)
    if state.leads_through is not None:
        through = _EPOCH + dt.timedelta(microseconds=state.leads_through)
        query = query.where(
            (Lead.updated_at > through) | ((Lead.updated_at == through) & (Lead.id > state.leads_last_id))
        )
    return list(query.tuples())


def _rep_teams() -> dict[int, int | None]:
    return dict(User.select(User.id, User.team).tuples())


def _seconds(moment: dt.datetime | None) -> int | None:
    return core.epoch(moment) if moment is not None else None


def store_facts(ids: list[int], stamp: int, teams: dict[int, int | None]) -> None:
    """Recompute and upsert the facts of ``ids`` (in the caller's transaction):
    four queries per batch, whatever its size."""
    if not ids:
        return
    steps: dict[int, list[core.Step]] = {lead_id: [] for lead_id in ids}
    history = (
        LeadHistory.select(
            LeadHistory.lead,
            LeadHistory.kind,
            LeadHistory.old_value,
            LeadHistory.new_value,
            LeadHistory.created_at,
        )
        .where(LeadHistory.lead.in_(ids) & LeadHistory.kind.in_(_KINDS))
        .order_by(LeadHistory.created_at, LeadHistory.id)
        .tuples()
    )
    for lead_id, kind, old, new, at in history:
        steps[lead_id].append(core.Step(kind, old, new, core.epoch(at)))
    handlings: dict[int, list[core.Handling]] = {lead_id: [] for lead_id in ids}
    assignments = (
        Assignment.select(Assignment.lead, Assignment.rep, Assignment.created_at, Assignment.accepted_at)
        .where(Assignment.lead.in_(ids))
        .tuples()
    )
    for lead_id, rep_id, created, accepted in assignments:
        handlings[lead_id].append(core.Handling(rep_id, core.epoch(created), _seconds(accepted)))
    activities: dict[int, list[int]] = {lead_id: [] for lead_id in ids}
    for lead_id, at in (
        Activity.select(Activity.lead, Activity.created_at)
        .where(Activity.lead.in_(ids) & Activity.deleted_at.is_null())
        .tuples()
    ):
        activities[lead_id].append(core.epoch(at))
    leads = Lead.select(
        Lead.id,
        Lead.stage,
        Lead.status,
        Lead.status_reason,
        Lead.created_at,
        Lead.product_line,
        Lead.team,
        Lead.owner,
    ).where(Lead.id.in_(ids))
    rows = []
    for lead_id, stage, status, reason, created, line, team, owner in leads.tuples():
        now = core.LeadNow(
            lead_id,
            stage,
            status,
            reason,
            core.epoch(created),
            line,
            teams.get(owner) if owner else team,
            owner,
        )
        fact = core.build_fact(now, steps[lead_id], handlings[lead_id], activities[lead_id])
        rows.append(_row(fact, stamp))
    stale = set(ids) - {row["lead"] for row in rows}  # deleted meanwhile
    if stale:
        SalesLeadFact.delete().where(SalesLeadFact.lead.in_(sorted(stale))).execute()
    if rows:
        fields = [SalesLeadFact._meta.fields[name] for name in rows[0]]
        bulk_insert(SalesLeadFact, rows, conflict=[SalesLeadFact.lead], update=fields[1:])


def _row(fact: core.LeadFact, stamp: int) -> dict:
    row = {
        "lead": fact.lead_id,
        "product_line": fact.product_line_id,
        "team": fact.team_id,
        "owner": fact.owner_id,
        "stage": fact.stage,
        "status": fact.status,
        "outcome": fact.outcome,
        "outcome_reason": fact.outcome_reason,
        "outcome_at": fact.outcome_at,
        "created": fact.created,
        "stage_since": fact.stage_since,
        "sales_ready_at": fact.sales_ready_at,
        "assigned_at": fact.assigned_at,
        "accepted_at": fact.accepted_at,
        "first_activity_at": fact.first_activity_at,
        "active_until": fact.active_until,
        "refreshed_at": stamp,
    }
    for index, stage in enumerate(core.STAGES):
        row[f"entered_{stage}"] = fact.entered[index]
        row[f"left_{stage}"] = fact.left[index]
    return row


def _ended_as(reason: str | None) -> str | None:
    if not reason:
        return None
    if reason == END_OVERDUE:
        return core.OVERDUE
    if reason == END_REASSIGNED:
        return core.REASSIGNED
    if reason.startswith(END_DECLINED):
        return core.DECLINED
    return None


def store_rep_days(first: dt.date, last: dt.date, teams: dict[int, int | None]) -> int:
    """Recompute and replace the rep days from ``first`` to ``last``; returns how
    many rows were written. A rep holds a lead from its assignment until the
    assignment ends or the lead reaches its outcome (from the facts)."""
    start = dt.datetime(first.year, first.month, first.day)
    end = dt.datetime(last.year, last.month, last.day) + dt.timedelta(days=1)
    query = (
        Assignment.select(
            Assignment.rep,
            Assignment.created_at,
            Assignment.accepted_at,
            Assignment.ended_at,
            Assignment.end_reason,
            Lead.product_line,
            SalesLeadFact.outcome_at,
        )
        .join(Lead, on=(Lead.id == Assignment.lead))
        .join(SalesLeadFact, pw.JOIN.LEFT_OUTER, on=(SalesLeadFact.lead == Assignment.lead))
        .where(
            Assignment.rep.is_null(False)
            & (Assignment.created_at < end)
            & (Assignment.ended_at.is_null() | (Assignment.ended_at >= start))
            & (SalesLeadFact.outcome_at.is_null() | (SalesLeadFact.outcome_at >= core.epoch(start)))
        )
        .tuples()
    )
    intervals = []
    for rep_id, created, accepted, ended, reason, line, outcome_at in query:
        ends = [moment for moment in (_seconds(ended), outcome_at) if moment is not None]
        intervals.append(
            core.Interval(
                rep_id,
                core.epoch(created),
                until=min(ends) if ends else None,
                accepted=_seconds(accepted),
                ended=_seconds(ended),
                ended_as=_ended_as(reason),
                product_line_id=line,
                team_id=teams.get(rep_id),
            )
        )
    days = core.rep_days(intervals, first, last)
    rows = [
        {
            "day": core.day_number(day.day),
            "rep": day.rep_id,
            "product_line": day.product_line_id,
            "team": day.team_id,
            "open_leads": day.open_leads,
            "assigned": day.assigned,
            "accepted": day.accepted,
            "overdue": day.overdue,
            "declined": day.declined,
            "reassigned": day.reassigned,
        }
        for day in days
    ]
    with transaction():
        SalesRepDay.delete().where(
            (SalesRepDay.day >= core.day_number(first)) & (SalesRepDay.day <= core.day_number(last))
        ).execute()
        bulk_insert(SalesRepDay, rows)
    return len(rows)


def bulk_insert(model, rows: list[dict], **conflict) -> None:
    """Insert ``rows`` (dicts of one shape, keyed by field name) through the
    driver's ``executemany`` (``leads.base.bulk``: peewee's ``insert_many``
    spends seconds building the SQL of 10k rows); ``conflict`` as there."""
    if not rows:
        return
    fields = [model._meta.fields[name] for name in rows[0]]
    bulk.insert(model, fields, [tuple(row.values()) for row in rows], **conflict)
