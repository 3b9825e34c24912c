"""The marketers' dashboard's named queries (SPEC D2), read from its rollup
(``reports.marketing.models``, kept by the sweeper): the day counts of the
range summed per week, event and breakdown value, and the few event rows of
leads that had the same event on an earlier day of the range (taken off, so a
lead counts once per week and once in the range). Their cost follows the
number of days and breakdown values, not the number of leads.

Every query takes the same ``Filters`` (a date range and optional source,
capture source, campaign and product line) and, where it groups, the column to
break down by; they return rows of plain values (tuples).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import peewee as pw

from reports import core
from reports.marketing.models import (
    BY_CAMPAIGN,
    BY_PRODUCT_LINE,
    BY_SOURCE,
    FULL,
    MarketingDay,
    MarketingLeadEvent,
)
from reports.marketing.rollup import BEFORE, CONVERTED, LEAD, MQL, SALES_READY

__all__ = ["BEFORE", "CONVERTED", "LEAD", "MQL", "SALES_READY"]

SOURCE, CAPTURE_SOURCE, CAMPAIGN, PRODUCT_LINE = "source", "capture_source", "campaign", "product_line"
BREAKDOWNS = {
    SOURCE: "Source",
    CAPTURE_SOURCE: "Capture source",
    CAMPAIGN: "Campaign",
    PRODUCT_LINE: "Product line",
}
CAPTURE_PREFIX, RULE_PREFIX = "capture:", "rule:"  # Lead.source of captured leads (C3-C5) and rules' (C6)
EVERY_CAPTURE, EVERY_RULE = "capture:*", "rule:*"  # source filters for all of them


@dataclass(frozen=True)
class Filters:
    """What the dashboard counts: from ``start`` (included) to ``end`` (excluded),
    naive UTC, and only leads of the given source key (a ``Lead.source``, or
    ``EVERY_CAPTURE`` / ``EVERY_RULE``), capture source, campaign and product line."""

    start: dt.datetime
    end: dt.datetime
    source: str | None = None
    capture_source_id: int | None = None
    campaign_id: int | None = None
    product_line_id: int | None = None


def conditions_on(model, filters: Filters) -> list:
    """``filters``' record conditions on a rollup table (its ``source``,
    ``campaign_id`` and ``product_line_id`` columns: the lead's as it is now)."""
    conditions = []
    if filters.source == EVERY_CAPTURE:
        conditions.append(model.source.startswith(CAPTURE_PREFIX))
    elif filters.source == EVERY_RULE:
        conditions.append(model.source.startswith(RULE_PREFIX))
    elif filters.source:
        conditions.append(model.source == filters.source)
    if filters.capture_source_id is not None:
        conditions.append(model.source == f"{CAPTURE_PREFIX}{filters.capture_source_id}")
    if filters.campaign_id is not None:
        conditions.append(model.campaign_id == filters.campaign_id)
    if filters.product_line_id is not None:
        conditions.append(model.product_line_id == filters.product_line_id)
    return conditions


def day_range(filters: Filters) -> tuple[int, int]:
    """The range as day numbers, first included, last excluded (the rollup
    counts whole UTC days: a range that starts or ends within a day counts it)."""
    first = core.day_number(filters.start.date())
    end = filters.end.date() + (dt.timedelta(days=1) if filters.end.time() != dt.time() else dt.timedelta())
    return first, core.day_number(end)


def group_column(model, by: str) -> pw.Field:
    """The rollup column a breakdown groups on (capture sources are sources ``capture:<id>``)."""
    return {
        SOURCE: model.source,
        CAPTURE_SOURCE: model.source,
        CAMPAIGN: model.campaign_id,
        PRODUCT_LINE: model.product_line_id,
    }[by]


def _all(conditions) -> pw.Node:
    node = conditions[0]
    for condition in conditions[1:]:
        node &= condition
    return node


def grain(filters: Filters, by: str) -> int:
    """The day counts' grain that holds the page: one column's own when the
    breakdown and every filter are on that column, else the full one."""
    columns = {CAMPAIGN: "campaign", PRODUCT_LINE: "product_line"}.get(by, "source")
    used = {columns}
    if filters.source or filters.capture_source_id is not None:
        used.add("source")
    if filters.campaign_id is not None:
        used.add("campaign")
    if filters.product_line_id is not None:
        used.add("product_line")
    if len(used) > 1:
        return FULL
    return {"source": BY_SOURCE, "campaign": BY_CAMPAIGN, "product_line": BY_PRODUCT_LINE}[used.pop()]


def week_counts(filters: Filters, by: str) -> pw.ModelSelect:
    """``(week, event, group value, leads, of them converted now)``: the day
    counts of the range summed per week (its number: ``week * 7 - 3`` is its
    Monday's day number), event and breakdown value. A lead with the same
    event on several days of a week or of the range is in each: ``repeats``
    says which to take off."""
    first, end = day_range(filters)
    m = MarketingDay
    week = (m.day + 3) / 7  # integer division on both backends; day 0 (1970-01-01) is a Thursday
    key = group_column(m, by)
    return (
        m.select(week, m.event, key, pw.fn.SUM(m.leads), pw.fn.SUM(m.converted))
        .where(_all([m.grain == grain(filters, by), m.day >= first, m.day < end, *conditions_on(m, filters)]))
        .group_by(pw.SQL("1"), pw.SQL("2"), pw.SQL("3"))
        .tuples()
    )


def repeats(filters: Filters, by: str) -> pw.ModelSelect:
    """``(day, previous day, event, group value, converted now)``: the event
    rows of the range whose lead had the same event on an earlier day of the
    range (few: read by the ``previous_day`` index)."""
    first, end = day_range(filters)
    e = MarketingLeadEvent
    key = group_column(e, by)
    return (
        e.select(e.day, e.previous_day, e.event, key, e.converted)
        .where(_all([e.previous_day >= first, e.day < end, *conditions_on(e, filters)]))
        .tuples()
    )


def sources_in_range(filters: Filters) -> pw.ModelSelect:
    """``(source,)``: every ``Lead.source`` of the leads created in the range (the
    filter's choices; read from the day counts)."""
    first, end = day_range(filters)
    m = MarketingDay
    return (
        m.select(m.source)
        .where((m.grain == BY_SOURCE) & (m.event == LEAD) & (m.day >= first) & (m.day < end))
        .distinct()
        .order_by(m.source)
        .tuples()
    )
