"""What the sales dashboard reads (SPEC D1): named queries over the rollup
(``reports.sales.models``), each narrowed by the same ``Filters`` (date range,
team, product line, and the rep a rep is held to, G1). A range reads the facts
active in it through the ``active_until`` index, never the history of every lead.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import peewee as pw

from auth.models import REP, Team, User
from leads.base.db import db
from leads.records.models import Lead, ProductLine
from reports import core
from reports.sales.models import SalesDayBlock, SalesLeadFact, SalesRepDay, SalesRollupState
from routing.models import DEFAULT_CAPACITY, RepProductLine, RepProfile

STUCK_PER_STAGE = 5


@dataclass(frozen=True)
class Filters:
    """The dashboard's question: days ``start`` to ``end`` (both included), an
    optional team and product line, and ``rep_id`` for a rep's own figures."""

    start: dt.date
    end: dt.date
    team_id: int | None = None
    product_line_id: int | None = None
    rep_id: int | None = None

    @property
    def bounds(self) -> tuple[int, int]:
        """The range as epoch seconds [start, end)."""
        return core.day_start(self.start), core.day_start(self.end) + core.DAY


def _narrow(query, model, filters: Filters, owner_column):
    if filters.team_id:
        query = query.where(model.team == filters.team_id)
    if filters.product_line_id:
        query = query.where(model.product_line == filters.product_line_id)
    if filters.rep_id:
        query = query.where(owner_column == filters.rep_id)
    return query


def _entered(stage: int):
    return getattr(SalesLeadFact, f"entered_{stage}")


def _left(stage: int):
    return getattr(SalesLeadFact, f"left_{stage}")


def _between(column, start: int, end: int):
    return (column >= start) & (column < end)


def _facts(filters: Filters, *columns) -> pw.ModelSelect:
    """``columns`` of the facts of the leads with anything in the range (created
    before its end, active after its start, read through the ``active_until``
    index), narrowed by the filters."""
    start, end = filters.bounds
    query = SalesLeadFact.select(*columns).where(
        (SalesLeadFact.active_until >= start) & (SalesLeadFact.created < end)
    )
    return _narrow(query, SalesLeadFact, filters, SalesLeadFact.owner)


def _count(condition):
    return pw.fn.SUM(pw.Case(None, [(condition, 1)], 0))


def _whole(filters: Filters) -> bool:
    """Whether the filters ask for the whole install (no team, line or rep)
    and the day blocks are there to answer it."""
    return not (filters.team_id or filters.product_line_id or filters.rep_id) and _day_blocks_built()


def funnel(filters: Filters) -> list[core.FunnelStep]:
    """Per stage, the leads that first entered it in the range and how many of
    them went on (``core.funnel``): for the whole install, summed from the day
    blocks of the range; narrowed, counted over the facts in one row."""
    if _whole(filters):
        kinds = [core.FUNNEL + stage for stage in core.STAGES]
        return core.funnel_of_histograms(day_histograms(filters.start, filters.end, kinds))
    start, end = filters.bounds
    sums = []
    for index, stage in enumerate(core.STAGES):
        came = _between(_entered(stage), start, end)
        later = [_entered(after).is_null(False) for after in core.STAGES[index + 1 :]]
        if stage == core.STAGES[-1]:
            later.append(SalesLeadFact.outcome == core.CONVERTED)
        went = later[0]
        for condition in later[1:]:
            went = went | condition
        sums += [_count(came), _count(came & went)]
    row = _raw(_facts(filters, *sums))[0]
    values = [int(value or 0) for value in row]
    return core.funnel_of(
        {stage: (values[2 * index], values[2 * index + 1]) for index, stage in enumerate(core.STAGES)}
    )


def outcomes(filters: Filters) -> core.Outcomes:
    """The outcomes recorded in the range (``core.outcomes``), grouped in the database."""
    start, end = filters.bounds
    # Through the covering index on (outcome_at, created, …): an outcome in the
    # range makes its lead active in it.
    query = SalesLeadFact.select(
        SalesLeadFact.outcome, SalesLeadFact.outcome_reason, pw.fn.COUNT(SalesLeadFact.outcome_at)
    ).where(_between(SalesLeadFact.outcome_at, start, end) & (SalesLeadFact.created < end))
    query = _narrow(query, SalesLeadFact, filters, SalesLeadFact.owner).group_by(
        SalesLeadFact.outcome, SalesLeadFact.outcome_reason
    )
    return core.outcomes_of((outcome, reason, int(count)) for outcome, reason, count in _raw(query))


def stage_times(filters: Filters) -> list[core.StageTime]:
    """Per stage, the stays that ended in the range. For the whole install
    (no team, line or rep), summed from the rollup's histograms over the few
    blocks of days the range is made of (``core.day_blocks``: a few thousand
    rows, whatever the range), each length read to within 1%
    (``core.PRECISION``); narrowed, from the stays themselves
    (``core.time_in_stage``, exact)."""
    if _whole(filters):
        return core.stage_times_of_histograms(day_histograms(filters.start, filters.end, core.STAGES))
    return _exact_stage_times(filters)


def _day_blocks_built() -> bool:
    return (
        SalesRollupState.select(SalesRollupState.blocks_facts).order_by(SalesRollupState.id).scalar()
        is not None
    )


def day_histograms(first: dt.date, last: dt.date, kinds) -> dict[int, dict[int, int]]:
    """Per kind of ``kinds``, ``{bucket: count}`` from ``first`` to ``last``
    (both included): the day blocks the range is made of, summed."""
    counts: dict[int, dict[int, int]] = {kind: {} for kind in kinds}
    for kind, bucket, tally in _block_rows(first, last, min(kinds), max(kinds), with_who=False):
        histogram = counts.setdefault(kind, {})
        histogram[bucket] = histogram.get(bucket, 0) + tally
    return counts


def speed_histograms(first: dt.date, last: dt.date) -> dict[tuple, dict[int, dict[int, int]]]:
    """Per (rep, team) (0: none), per kind of speed to lead, ``{bucket: count}``
    from ``first`` to ``last`` (both included): the day blocks the range is
    made of, summed."""
    counts: dict[tuple, dict[int, dict[int, int]]] = {}
    for kind, bucket, tally, rep, team in _block_rows(first, last, core.SPEED, core.SPANS[-1], with_who=True):
        who = counts.get((rep, team))
        if who is None:
            who = counts[(rep, team)] = {}
        histogram = who.get(kind)
        if histogram is None:
            histogram = who[kind] = {}
        histogram[bucket] = histogram.get(bucket, 0) + tally
    return counts


def _block_rows(first: dt.date, last: dt.date, low: int, high: int, *, with_who: bool) -> list[tuple]:
    """(kind, bucket, tally[, rep, team]) of the day blocks the days make, kinds
    ``low`` to ``high``: one range of the covering index per block (UNION ALL),
    read from the index alone."""
    columns = [SalesDayBlock.kind, SalesDayBlock.bucket, SalesDayBlock.tally]
    if with_who:
        columns += [SalesDayBlock.rep, SalesDayBlock.team]
    query = None
    for level, block in core.day_blocks(core.day_number(first), core.day_number(last)):
        part = SalesDayBlock.select(*columns).where(
            (SalesDayBlock.level == level)
            & (SalesDayBlock.block == block)
            & SalesDayBlock.kind.between(low, high)
        )
        query = part if query is None else query + part  # UNION ALL
    return _raw(query) if query is not None else []


def _exact_stage_times(filters: Filters) -> list[core.StageTime]:
    """``core.time_in_stage`` of the narrowed facts: only their durations read,
    one column, the five stages in one statement."""
    start, end = filters.bounds
    query = None
    for stage in core.STAGES:
        came, went = _entered(stage), _left(stage)
        part = _facts(filters, pw.SQL(str(int(stage))), went - came).where(
            came.is_null(False) & _between(went, start, end)
        )
        query = part if query is None else query + part  # UNION ALL
    durations: dict[int, list[int]] = {stage: [] for stage in core.STAGES}
    for stage, seconds in _raw(query):
        durations[stage].append(seconds)
    return core.stage_times(durations)


def speeds(filters: Filters) -> tuple[list[core.Speed], list[core.Speed], core.Speed]:
    """Speed to lead per rep, per team and for all (``core.speed_to_lead``) over
    the leads that became sales-ready in the range. For the whole install,
    summed per rep and team from the day blocks of the range (the counts exact,
    each span within ``core.PRECISION``); narrowed, from the three spans of
    those leads, exact."""
    if _whole(filters):
        return core.speeds_of_histograms(speed_histograms(filters.start, filters.end))
    start, end = filters.bounds
    ready = SalesLeadFact.sales_ready_at
    # Read through the covering index on (sales_ready_at, created, …): a lead
    # sales-ready in the range is active in it (active_until >= sales_ready_at).
    query = SalesLeadFact.select(
        SalesLeadFact.owner,
        SalesLeadFact.team,
        SalesLeadFact.assigned_at - ready,
        SalesLeadFact.accepted_at - ready,
        SalesLeadFact.first_activity_at - ready,
    ).where(_between(ready, start, end) & (SalesLeadFact.created < end))
    query = _narrow(query, SalesLeadFact, filters, SalesLeadFact.owner)
    return core.speeds_by_rep_and_team(_raw(query))


@dataclass(frozen=True)
class StuckLead:
    lead_id: int
    name: str
    since: int
    owner: str | None


def stuck_leads(filters: Filters, per_stage: int = STUCK_PER_STAGE) -> dict[int, list[StuckLead]]:
    """Per stage, the open leads in it the longest (by when they last entered
    it), whatever the date range: what is stuck now."""
    found: dict[int, list[StuckLead]] = {}
    for stage in core.STAGES:
        query = (
            SalesLeadFact.select(
                Lead.id, Lead.first_name, Lead.last_name, Lead.email, SalesLeadFact.stage_since, User.name
            )
            .join(Lead, on=(Lead.id == SalesLeadFact.lead))
            .switch(SalesLeadFact)
            .join(User, pw.JOIN.LEFT_OUTER, on=(User.id == SalesLeadFact.owner))
            .where((SalesLeadFact.status == "open") & (SalesLeadFact.stage == stage))
            .order_by(SalesLeadFact.stage_since, SalesLeadFact.id)
            .limit(per_stage)
            .tuples()
        )
        found[stage] = [
            StuckLead(lead_id, f"{first} {last}".strip() or email or f"Lead {lead_id}", since, owner)
            for lead_id, first, last, email, since, owner in _narrow(
                query, SalesLeadFact, filters, SalesLeadFact.owner
            )
        ]
    return found


def rep_days_in_range(filters: Filters) -> list[core.RepDay]:
    """The rep days of the range, summed over product lines (or for the one
    asked for) in the database: at most one row per rep and day."""
    query = (
        SalesRepDay.select(
            SalesRepDay.day,
            SalesRepDay.rep,
            *(
                pw.fn.SUM(column)
                for column in (
                    SalesRepDay.open_leads,
                    SalesRepDay.assigned,
                    SalesRepDay.accepted,
                    SalesRepDay.overdue,
                    SalesRepDay.declined,
                    SalesRepDay.reassigned,
                )
            ),
        )
        .where(
            (SalesRepDay.day >= core.day_number(filters.start))
            & (SalesRepDay.day <= core.day_number(filters.end))
        )
        .group_by(SalesRepDay.day, SalesRepDay.rep)
    )
    query = _narrow(query, SalesRepDay, filters, SalesRepDay.rep)
    days: dict[int, dt.date] = {}
    found = []
    for number, rep_id, *counts in _raw(query):
        day = days.get(number) or days.setdefault(number, core.from_day_number(number))
        found.append(core.RepDay(day, rep_id, None, None, *(int(count) for count in counts)))
    return found


def _raw(query) -> list[tuple]:
    """The rows of ``query`` as the driver hands them (integers stay integers):
    peewee's per-value conversion costs more than the query on these reads."""
    return db.execute(query).fetchall()


def capacities(filters: Filters) -> dict[int, int]:
    """The capacity of each active rep the filters cover (a rep: themselves),
    as set today: capacity has no history."""
    query = (
        User.select(User.id, RepProfile.capacity)
        .join(RepProfile, pw.JOIN.LEFT_OUTER, on=(RepProfile.user == User.id))
        .where((User.role == REP) & User.is_active)
    )
    if filters.rep_id:
        query = query.where(User.id == filters.rep_id)
    if filters.team_id:
        query = query.where(User.team == filters.team_id)
    if filters.product_line_id:
        sells = RepProductLine.select(RepProductLine.rep).where(
            RepProductLine.product_line == filters.product_line_id
        )
        query = query.where(User.id.in_(sells))
    return {rep_id: capacity or DEFAULT_CAPACITY for rep_id, capacity in query.tuples()}


def names(model, ids) -> dict[int, str]:
    """``{id: name}`` for the users or teams ``ids`` (one query)."""
    ids = sorted({identifier for identifier in ids if identifier})
    if not ids:
        return {}
    return dict(model.select(model.id, model.name).where(model.id.in_(ids)).tuples())


def filter_choices() -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
    """The teams and product lines the filter form offers."""
    teams = list(Team.select(Team.id, Team.name).order_by(Team.name).tuples())
    lines = list(ProductLine.select(ProductLine.id, ProductLine.name).order_by(ProductLine.name).tuples())
    return teams, lines


def refreshed_at() -> int | None:
    """When the rollup last caught up (epoch seconds), None before its first time."""
    return SalesRollupState.select(pw.fn.MAX(SalesRollupState.refreshed_at)).scalar()
