"""Keeping the sales rollup (SPEC D1) in slices: ``refresh_slice`` recomputes
the facts of up to ``SLICE`` leads changed since the last slice (read by their
last change, then id, from ``SalesRollupState``; leads given a new activity
too), each from its history, assignments and activities through
``reports.core.build_fact``; once it has caught up, it recomputes the rep days
from the day before the last one it wrote up to today (when a lead changed,
at most once a minute, or on a new day). Facts and days are
recomputed from their source rows and replaced whole, never incremented, so a
slice run twice changes nothing.

The day blocks (``SalesDayBlock``: the stays' lengths and the funnel's
entries per block of days) follow the facts in the same
transaction: what a lead's old fact counted is taken off and what its new one
counts added, so a slice run twice (old and new the same) or killed (rolled
back) changes nothing. ``SalesRollupState.blocks_facts`` says how many facts
they count; when the facts table holds another number (a lead deleted takes its
fact with it), or before their first build, they are rebuilt whole from the
facts once the slices have caught up. The sweeper runs one slice per sweep
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
from leads.base.db import db, transaction, utcnow
from leads.records.models import Lead, LeadHistory
from reports import core
from reports.cursor import changed_leads, micros
from reports.sales.models import SalesDayBlock, SalesLeadFact, SalesRepDay, SalesRollupState
from routing.assign import END_DECLINED, END_OVERDUE, END_REASSIGNED
from routing.models import Assignment

BATCH = 1000
SLICE = 2000  # leads per slice: a sweep's turn stays well under a second
DAYS_EVERY_SECONDS = 60  # rep days are rewritten at most once a minute (and on a new day)
_KINDS = ("stage", "status", "sales_ready")


def refresh(now: dt.datetime | None = None) -> dict:
    """Run slices until the rollup has caught up; returns what they rewrote."""
    total = {"facts": 0, "rep_days": 0, "day_blocks": 0}
    while True:
        done = refresh_slice(now)
        for name in total:
            total[name] += done[name]
        if done["caught_up"]:
            return total


def _state() -> SalesRollupState:
    state = SalesRollupState.select().order_by(SalesRollupState.id).first()
    return state or SalesRollupState.create()


def refresh_slice(now: dt.datetime | None = None, size: int = SLICE) -> dict:
    """One slice: the next ``size`` changed leads (and those with new
    activities), then, once caught up, the rep days. Returns what it rewrote
    and whether it caught up."""
    now = now or utcnow()
    state = _state()
    if state.leads_through is None and not state.activities_last_id:
        # A first build reads every lead with its activities: none to read twice.
        state.activities_last_id = Activity.select(pw.fn.MAX(Activity.id)).scalar() or 0
    changed = changed_leads(state, size)
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
        state.leads_through, state.leads_last_id = micros(last_at), last_id
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
    blocks = 0
    if caught_up:
        state.refreshed_at = core.epoch(now)
    # The day blocks' count of facts is kept by their own writes (``_shift_day_blocks``), not this copy.
    state.save(
        only=[field for field in SalesRollupState._meta.sorted_fields[1:] if field.name != "blocks_facts"]
    )
    if caught_up and _blocks_out_of_step():
        blocks = store_day_blocks()
    return {"facts": len(ids), "rep_days": days, "day_blocks": blocks, "caught_up": caught_up}


def _blocks_out_of_step() -> bool:
    """Whether the day blocks were never built or count other facts than the table holds."""
    counted = SalesRollupState.select(SalesRollupState.blocks_facts).order_by(SalesRollupState.id).scalar()
    return counted is None or counted != SalesLeadFact.select().count()


def store_day_blocks() -> int:
    """Rebuild the day blocks whole from the facts (one transaction); returns
    how many rows were written."""
    with transaction():
        cells = []
        facts = 0
        for row in db.execute(SalesLeadFact.select(*_block_columns())).fetchall():
            facts += 1
            cells += _cells_of(row)
        counted = core.block_cells(cells)
        SalesDayBlock.delete().execute()
        rows = [(*key, tally) for key, tally in counted.items()]
        for first in range(0, len(rows), 20_000):
            bulk.insert(SalesDayBlock, _BLOCK_FIELDS, rows[first : first + 20_000])
        state = _state()
        SalesRollupState.update(blocks_facts=facts).where(SalesRollupState.id == state.id).execute()
    return len(rows)


def _block_columns() -> list[pw.Field]:
    """What a fact's cells are made of: its entries, its exits, its outcome;
    its rep, team, and the moments of speed to lead."""
    return [
        *(_entered(stage) for stage in core.STAGES),
        *(_left(stage) for stage in core.STAGES),
        SalesLeadFact.outcome,
        SalesLeadFact.owner,
        SalesLeadFact.team,
        SalesLeadFact.sales_ready_at,
        SalesLeadFact.assigned_at,
        SalesLeadFact.accepted_at,
        SalesLeadFact.first_activity_at,
    ]


def _entered(stage: int):
    return getattr(SalesLeadFact, f"entered_{stage}")


def _left(stage: int):
    return getattr(SalesLeadFact, f"left_{stage}")


def _cells_of(row: tuple) -> list[tuple[int, ...]]:
    """``core.fact_cells`` and ``core.speed_cells`` of a fact read as its ``_block_columns``."""
    count = len(core.STAGES)
    cells: list[tuple[int, ...]] = list(core.fact_cells(row[:count], row[count : 2 * count], row[2 * count]))
    return cells + core.speed_cells(*row[2 * count + 1 :])


_BLOCK_FIELDS = [
    SalesDayBlock.level,
    SalesDayBlock.block,
    SalesDayBlock.kind,
    SalesDayBlock.bucket,
    SalesDayBlock.rep,
    SalesDayBlock.team,
    SalesDayBlock.tally,
]
_BLOCK_KEY = ("level", "block", "kind", "bucket", "rep", "team")


def _shift_day_blocks(old: list[tuple], new: list[tuple], gained: int) -> None:
    """Take the cells of the facts ``old`` off the day blocks and add those of
    ``new`` (each a row of ``_block_columns``), and ``gained`` facts to the
    count they keep: in the caller's transaction, after the facts are written."""
    delta: dict[tuple[int, ...], int] = {}
    for rows, sign in ((old, -1), (new, 1)):
        for key, count in core.block_cells(cell for row in rows for cell in _cells_of(row)).items():
            delta[key] = delta.get(key, 0) + sign * count
    changed = [(*key, count) for key, count in delta.items() if count]
    if changed:
        table = bulk.quote(SalesDayBlock._meta.table_name)
        columns = ", ".join(bulk.quote(field.column_name) for field in _BLOCK_FIELDS)
        marks = ", ".join(db.param for _ in _BLOCK_FIELDS)
        cursor = db.cursor()
        cursor.executemany(
            f"INSERT INTO {table} ({columns}) VALUES ({marks})"
            f" ON CONFLICT ({', '.join(bulk.quote(name) for name in _BLOCK_KEY)})"
            f' DO UPDATE SET "tally" = {table}."tally" + excluded."tally"',
            changed,
        )
        gone = [key for *key, count in changed if count < 0]
        if gone:
            where = " AND ".join(f'"{name}" = {db.param}' for name in _BLOCK_KEY)
            cursor.executemany(f'DELETE FROM {table} WHERE {where} AND "tally" <= 0', gone)
    if gained:
        SalesRollupState.update(blocks_facts=SalesRollupState.blocks_facts + gained).where(
            SalesRollupState.blocks_facts.is_null(False)
        ).execute()


def _rep_teams() -> dict[int, int | None]:
    return dict(User.select(User.id, User.team).tuples())


def _seconds(moment: dt.datetime | None) -> int | None:
    return core.epoch(moment) if moment is not None else None


def store_facts(ids: list[int], stamp: int, teams: dict[int, int | None]) -> None:
    """Recompute and upsert the facts of ``ids`` (in the caller's transaction):
    four queries per batch, whatever its size."""
    if not ids:
        return
    keeping = SalesRollupState.select(SalesRollupState.blocks_facts).order_by(SalesRollupState.id).scalar()
    block_columns = _block_columns()
    before = {}
    if keeping is not None:  # the day blocks are built: they follow the facts
        before = {
            row[0]: row[1:]
            for row in db.execute(
                SalesLeadFact.select(SalesLeadFact.lead, *block_columns).where(SalesLeadFact.lead.in_(ids))
            ).fetchall()
        }
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
    if keeping is not None:
        after = [tuple(row[column.name] for column in block_columns) for row in rows]
        gained = sum(1 for row in rows if row["lead"] not in before) - len(stale & set(before))
        _shift_day_blocks(list(before.values()), after, gained)


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
