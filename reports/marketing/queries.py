"""The marketers' dashboard's named queries (SPEC D2), each grouped in SQL on
indexed columns (migration 016), so a year of 100k leads is never loaded into
Python: the leads created per week, the leads that became marketing qualified,
sales-ready or converted per week (from the lead history), the MQL → converted
count, and the interaction types seen before leads became sales-ready.

Every query takes the same ``Filters`` (a date range and optional source,
capture source, campaign and product line) and, where it groups, the column to
break down by; they return rows of plain values (tuples).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import peewee as pw

from leads.base.db import db, is_sqlite
from leads.core import lifecycle
from leads.records.models import Contact, Interaction, Lead, LeadHistory

SOURCE, CAPTURE_SOURCE, CAMPAIGN, PRODUCT_LINE = "source", "capture_source", "campaign", "product_line"
BREAKDOWNS = {
    SOURCE: "Source",
    CAPTURE_SOURCE: "Capture source",
    CAMPAIGN: "Campaign",
    PRODUCT_LINE: "Product line",
}
CAPTURE_PREFIX, RULE_PREFIX = "capture:", "rule:"  # Lead.source of captured leads (C3-C5) and rules' (C6)
EVERY_CAPTURE, EVERY_RULE = "capture:*", "rule:*"  # source filters for all of them

MQL, SALES_READY, CONVERTED = "mql", "sales_ready", "converted"
# The history row (kind, new value) that says a lead became each of them (P7).
EVENTS = {
    MQL: ("status_reason", lifecycle.REASON_MARKETING_QUALIFIED),
    SALES_READY: ("sales_ready", "1"),
    CONVERTED: ("status_reason", lifecycle.REASON_CONVERTED),
}


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

    def lead_conditions(self) -> list:
        """The conditions on ``Lead`` for the record filters (not the dates)."""
        conditions = []
        if self.source == EVERY_CAPTURE:
            conditions.append(Lead.source.startswith(CAPTURE_PREFIX))
        elif self.source == EVERY_RULE:
            conditions.append(Lead.source.startswith(RULE_PREFIX))
        elif self.source:
            conditions.append(Lead.source == self.source)
        if self.capture_source_id is not None:
            conditions.append(Lead.source == f"{CAPTURE_PREFIX}{self.capture_source_id}")
        if self.campaign_id is not None:
            conditions.append(Lead.campaign == self.campaign_id)
        if self.product_line_id is not None:
            conditions.append(Lead.product_line == self.product_line_id)
        return conditions


def week_of(column) -> pw.Node:
    """The Monday (``YYYY-MM-DD`` text) of the week holding ``column``, the same on both backends."""
    if is_sqlite():
        return pw.fn.date(column, "weekday 0", "-6 days")  # the coming Sunday (or today), back to Monday
    return pw.fn.to_char(pw.fn.date_trunc("week", column), "YYYY-MM-DD")


def group_column(by: str) -> pw.Field:
    """The lead column a breakdown groups on (capture sources are sources ``capture:<id>``)."""
    return {
        SOURCE: Lead.source,
        CAPTURE_SOURCE: Lead.source,
        CAMPAIGN: Lead.campaign,
        PRODUCT_LINE: Lead.product_line,
    }[by]


def _all(conditions) -> pw.Node:
    node = conditions[0]
    for condition in conditions[1:]:
        node &= condition
    return node


def leads_per_week(filters: Filters, by: str) -> pw.ModelSelect:
    """``(week, group value, leads)``: the leads created in the range, per week and
    breakdown value (read from the ``(created_at, source, campaign, product_line)``
    index alone)."""
    key = group_column(by)
    conditions = [Lead.created_at >= filters.start, Lead.created_at < filters.end, *filters.lead_conditions()]
    return (
        Lead.select(week_of(Lead.created_at), key, pw.fn.COUNT(Lead.id))
        .where(_all(conditions))
        .group_by(pw.SQL("1"), pw.SQL("2"))
        .tuples()
    )


def _event_rows(filters: Filters, event: str) -> list:
    kind, value = EVENTS[event]
    return [
        LeadHistory.kind == kind,
        LeadHistory.new_value == value,
        LeadHistory.created_at >= filters.start,
        LeadHistory.created_at < filters.end,
        *filters.lead_conditions(),
    ]


def events_per_week(filters: Filters, by: str, event: str) -> pw.ModelSelect:
    """``(week, group value, leads)``: the leads that became ``event`` (MQL,
    SALES_READY, CONVERTED) in the range, per week of that moment and breakdown
    value, each lead once per week (the ``(kind, new_value, created_at, lead_id)``
    index, migration 018)."""
    key = group_column(by)
    return (
        LeadHistory.select(
            week_of(LeadHistory.created_at), key, pw.fn.COUNT(pw.fn.DISTINCT(LeadHistory.lead))
        )
        .join(Lead, on=(Lead.id == LeadHistory.lead))
        .where(_all(_event_rows(filters, event)))
        .group_by(pw.SQL("1"), pw.SQL("2"))
        .tuples()
    )


def event_totals(filters: Filters, by: str, event: str) -> pw.ModelSelect:
    """``(group value, leads, converted since)``: per breakdown value, the leads
    that became ``event`` in the range (each once) and how many of them are
    converted now (for MQL: the MQL → converted rate)."""
    key = group_column(by)
    converted = pw.Case(None, [(Lead.status_reason == lifecycle.REASON_CONVERTED, LeadHistory.lead)], None)
    return (
        LeadHistory.select(
            key, pw.fn.COUNT(pw.fn.DISTINCT(LeadHistory.lead)), pw.fn.COUNT(pw.fn.DISTINCT(converted))
        )
        .join(Lead, on=(Lead.id == LeadHistory.lead))
        .where(_all(_event_rows(filters, event)))
        .group_by(pw.SQL("1"))
        .tuples()
    )


def _days_before(moment, days: int) -> pw.Node:
    if is_sqlite():
        return pw.fn.datetime(moment, f"-{int(days)} days")
    return moment - pw.SQL(f"INTERVAL '{int(days)} days'")


def interactions_before_sales_ready(filters: Filters, days: int = 30, limit: int = 10):
    """``(interaction type, leads)``: for the leads that became sales-ready in the
    range, how many had at least one interaction of each type in the ``days``
    before that moment, most frequent first. The interactions that count are
    those of the lead and of its contact, or, for a lead with an account and no
    contact, of the account's contacts (S3); each branch reads an
    ``(…, occurred_at, type)`` index alone (migration 018)."""
    ready = (
        LeadHistory.select(LeadHistory.lead, Lead.contact, Lead.account, LeadHistory.created_at)
        .join(Lead, on=(Lead.id == LeadHistory.lead))
        .where(_all(_event_rows(filters, SALES_READY)))
        .cte("ready", columns=("lead_id", "contact_id", "account_id", "ready_at"))
    )

    def within(interaction_time):
        return (interaction_time <= ready.c.ready_at) & (
            interaction_time >= _days_before(ready.c.ready_at, days)
        )

    def pairs_from():  # the CTE is declared once, on the outer query (select_from would repeat it)
        return pw.Select([ready], [ready.c.lead_id, Interaction.type])

    own = pairs_from().join(
        Interaction, on=(Interaction.lead == ready.c.lead_id) & within(Interaction.occurred_at)
    )
    of_contact = (
        pairs_from()
        .join(Interaction, on=(Interaction.contact == ready.c.contact_id) & within(Interaction.occurred_at))
        .where(ready.c.contact_id.is_null(False))
    )
    of_account = (
        pairs_from()
        .join(Contact, on=(Contact.account == ready.c.account_id))
        .join(Interaction, on=(Interaction.contact == Contact.id) & within(Interaction.occurred_at))
        .where(ready.c.contact_id.is_null() & ready.c.account_id.is_null(False))
    )
    pairs = own.union_all(of_contact).union_all(of_account).alias("pairs")
    leads = pw.fn.COUNT(pw.fn.DISTINCT(pairs.c.lead_id))
    return (
        pw.Select([pairs], [pairs.c.type, leads])
        .with_cte(ready)
        .group_by(pairs.c.type)
        .order_by(leads.desc(), pairs.c.type)
        .limit(limit)
        .bind(db)
        .tuples()
    )


def sources_in_range(filters: Filters) -> pw.ModelSelect:
    """``(source,)``: every ``Lead.source`` of the leads created in the range (the
    filter's choices; read from the same index)."""
    return (
        Lead.select(Lead.source)
        .where((Lead.created_at >= filters.start) & (Lead.created_at < filters.end))
        .distinct()
        .order_by(Lead.source)
        .tuples()
    )
