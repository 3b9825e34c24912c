"""Keeping the marketers' dashboard's rollup (SPEC D2) in slices, as the sales
rollup is kept (``reports.sales.rollup``): ``refresh_slice`` recomputes the
event rows of up to ``SLICE`` leads changed since the last slice (read by their
last change, then id), and of the sales-ready leads a new interaction may
precede (read by interaction id); then rewrites the day counts of every day
those leads had or now have a row on, grouped in SQL from the event rows.
Rows are recomputed from the history and replaced whole, never incremented,
so a slice run twice, or killed half-way (each batch is one transaction),
counts nothing twice. Once caught up, at most once a minute, it looks for
leads deleted since and rewrites their days. ``refresh`` runs slices until
caught up (a first build, the tests, the benchmark); the sweeper runs one per
sweep (``reports.marketing.jobs``).

An interaction edited later is read again only when its lead changes.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable

import peewee as pw

from leads.base import bulk
from leads.base.db import transaction, utcnow
from leads.core import lifecycle
from leads.records.models import Contact, Interaction, Lead, LeadHistory
from reports import core
from reports.cursor import changed_leads, micros
from reports.marketing.models import (
    BY_CAMPAIGN,
    BY_PRODUCT_LINE,
    BY_SOURCE,
    FULL,
    MarketingDay,
    MarketingLeadEvent,
    MarketingRollupState,
)

BATCH = 1000
SLICE = 2000  # leads per slice: a sweep's turn stays well under a second
CHECK_EVERY_SECONDS = 60  # deleted leads are looked for at most once a minute
PRECEDING_DAYS = 30  # how far back "precede" looks from the sales-ready moment
LEAD, MQL, SALES_READY, CONVERTED = "lead", "mql", "sales_ready", "converted"
BEFORE = "before:"  # + an interaction type: it preceded the lead's sales-ready moment that day
# The history row (kind, new value) that says a lead became each of them (P7).
EVENTS = {
    ("status_reason", lifecycle.REASON_MARKETING_QUALIFIED): MQL,
    ("sales_ready", "1"): SALES_READY,
    ("status_reason", lifecycle.REASON_CONVERTED): CONVERTED,
}


def refresh(now: dt.datetime | None = None) -> dict:
    """Run slices until the rollup has caught up; returns how many leads it read."""
    total = 0
    while True:
        done = refresh_slice(now)
        total += done["leads"]
        if done["caught_up"]:
            return {"leads": total}


def _state() -> MarketingRollupState:
    state = MarketingRollupState.select().order_by(MarketingRollupState.id).first()
    return state or MarketingRollupState.create()


def day_of(moment: dt.datetime) -> int:
    return core.day_number(moment.date())


def refresh_slice(now: dt.datetime | None = None, size: int = SLICE) -> dict:
    """One slice: the next ``size`` changed leads and those a new interaction
    may have preceded; once caught up, the deleted leads. Returns how many
    leads it rewrote and whether it caught up."""
    now = now or utcnow()
    state = _state()
    if state.leads_through is None and not state.interactions_last_id:
        # A first build reads every lead with its interactions: none to read twice.
        state.interactions_last_id = Interaction.select(pw.fn.MAX(Interaction.id)).scalar() or 0
    changed = changed_leads(state, size)
    noted = list(
        Interaction.select(Interaction.id, Interaction.lead, Interaction.contact)
        .where(Interaction.id > state.interactions_last_id)
        .order_by(Interaction.id)
        .limit(size)
        .tuples()
    )
    ids = sorted({lead_id for lead_id, _at in changed} | _preceded_leads(noted))
    for first in range(0, len(ids), BATCH):
        with transaction():
            store_leads(ids[first : first + BATCH])
    if changed:
        last_id, last_at = changed[-1]
        state.leads_through, state.leads_last_id = micros(last_at), last_id
    if noted:
        state.interactions_last_id = noted[-1][0]
    caught_up = len(changed) < size and len(noted) < size
    gone = 0
    if caught_up and (state.checked_at or 0) <= core.epoch(now) - CHECK_EVERY_SECONDS:
        gone = _forget_deleted()
        state.checked_at = core.epoch(now)
    if caught_up:
        state.refreshed_at = core.epoch(now)
    state.save()
    return {"leads": len(ids) + gone, "caught_up": caught_up}


def _preceded_leads(noted: list[tuple[int, int | None, int | None]]) -> set[int]:
    """The sales-ready leads (those with a sales-ready row) whose interactions,
    or their contact's, or their account's contacts' when they have no
    contact, include one of ``noted``."""
    own = {lead_id for _id, lead_id, _contact in noted if lead_id}
    contacts = {contact_id for _id, _lead, contact_id in noted if contact_id}
    candidates = set(own)
    if contacts:
        candidates |= {
            lead_id for (lead_id,) in Lead.select(Lead.id).where(Lead.contact.in_(contacts)).tuples()
        }
        accounts = {
            account_id
            for (account_id,) in Contact.select(Contact.account)
            .where(Contact.id.in_(contacts) & Contact.account.is_null(False))
            .tuples()
        }
        if accounts:
            candidates |= {
                lead_id
                for (lead_id,) in Lead.select(Lead.id)
                .where(Lead.account.in_(accounts) & Lead.contact.is_null())
                .tuples()
            }
    if not candidates:
        return set()
    return {
        lead_id
        for (lead_id,) in MarketingLeadEvent.select(MarketingLeadEvent.lead_id)
        .where((MarketingLeadEvent.event == SALES_READY) & MarketingLeadEvent.lead_id.in_(sorted(candidates)))
        .distinct()
        .tuples()
    }


def _forget_deleted() -> int:
    """Rewrite the days of the leads deleted since they were read (every lead
    read has its ``lead`` row, so more of them than leads means some are gone)."""
    read = MarketingLeadEvent.select().where(MarketingLeadEvent.event == LEAD).count()
    if read <= Lead.select().count():
        return 0
    gone = [
        lead_id
        for (lead_id,) in MarketingLeadEvent.select(MarketingLeadEvent.lead_id)
        .join(Lead, pw.JOIN.LEFT_OUTER, on=(Lead.id == MarketingLeadEvent.lead_id))
        .where((MarketingLeadEvent.event == LEAD) & Lead.id.is_null())
        .tuples()
    ]
    for first in range(0, len(gone), BATCH):
        with transaction():
            store_leads(gone[first : first + BATCH])
    return len(gone)


def lead_events(
    created: dt.datetime,
    events: Iterable[tuple[str, dt.datetime]],
    interactions: Iterable[tuple[str, dt.datetime]],
) -> dict[str, list[int]]:
    """Event → the sorted days a lead had it: created, each of ``events``
    ((MQL / SALES_READY / CONVERTED, moment)), and ``before:<type>`` on the
    days it became sales-ready with an interaction of that type (``(type,
    moment)``) in the ``PRECEDING_DAYS`` before (the moment included)."""
    days: dict[str, set[int]] = defaultdict(set)
    days[LEAD].add(day_of(created))
    ready = []
    for event, moment in events:
        days[event].add(day_of(moment))
        if event == SALES_READY:
            ready.append(moment)
    window = dt.timedelta(days=PRECEDING_DAYS)
    for kind, moment in interactions:
        for at in ready:
            if at - window <= moment <= at:
                days[BEFORE + kind].add(day_of(at))
    return {event: sorted(found) for event, found in days.items()}


def store_leads(ids: list[int]) -> None:
    """Recompute the event rows of ``ids`` (deleted leads lose theirs) and
    rewrite the days they were or are on (in the caller's transaction): a
    handful of queries per batch, whatever its size."""
    if not ids:
        return
    days = {
        day
        for (day,) in MarketingLeadEvent.select(MarketingLeadEvent.day)
        .where(MarketingLeadEvent.lead_id.in_(ids))
        .distinct()
        .tuples()
    }
    MarketingLeadEvent.delete().where(MarketingLeadEvent.lead_id.in_(ids)).execute()
    leads = list(
        Lead.select(
            Lead.id,
            Lead.created_at,
            Lead.source,
            Lead.campaign,
            Lead.product_line,
            Lead.status_reason,
            Lead.contact,
            Lead.account,
        )
        .where(Lead.id.in_(ids))
        .tuples()
    )
    events: dict[int, list[tuple[str, dt.datetime]]] = defaultdict(list)
    history = (
        LeadHistory.select(LeadHistory.lead, LeadHistory.kind, LeadHistory.new_value, LeadHistory.created_at)
        .where(
            LeadHistory.lead.in_(ids)
            & LeadHistory.kind.in_(sorted({kind for kind, _ in EVENTS}))
            & LeadHistory.new_value.in_(sorted({value for _, value in EVENTS}))
        )
        .tuples()
    )
    for lead_id, kind, value, at in history:
        if (kind, value) in EVENTS:
            events[lead_id].append((EVENTS[(kind, value)], at))
    ready = {lead_id for lead_id, found in events.items() if any(e == SALES_READY for e, _ in found)}
    interactions = _interactions([lead for lead in leads if lead[0] in ready], events)
    rows = []
    for lead_id, created, source, campaign, line, reason, _contact, _account in leads:
        converted = int(reason == lifecycle.REASON_CONVERTED)
        for event, found in lead_events(created, events[lead_id], interactions[lead_id]).items():
            previous = None
            for day in found:
                rows.append((lead_id, event, day, previous, source, campaign, line, converted))
                previous = day
                days.add(day)
    fields = [
        MarketingLeadEvent.lead_id,
        MarketingLeadEvent.event,
        MarketingLeadEvent.day,
        MarketingLeadEvent.previous_day,
        MarketingLeadEvent.source,
        MarketingLeadEvent.campaign_id,
        MarketingLeadEvent.product_line_id,
        MarketingLeadEvent.converted,
    ]
    bulk.insert(MarketingLeadEvent, fields, rows)
    rewrite_days(sorted(days))


def _interactions(leads: list[tuple], events: dict) -> dict[int, list[tuple[str, dt.datetime]]]:
    """Per sales-ready lead, the (type, moment) of its interactions that may
    precede one of its sales-ready moments: its own and its contact's, or its
    account's contacts' when it has no contact (S3). Three queries at most."""
    found: dict[int, list[tuple[str, dt.datetime]]] = defaultdict(list)
    if not leads:
        return found
    moments = [at for lead in leads for event, at in events[lead[0]] if event == SALES_READY]
    since, until = min(moments) - dt.timedelta(days=PRECEDING_DAYS), max(moments)
    when = (Interaction.occurred_at >= since) & (Interaction.occurred_at <= until)
    of_contact: dict[int, list[int]] = defaultdict(list)
    of_account: dict[int, list[int]] = defaultdict(list)
    for lead_id, *_rest, contact_id, account_id in leads:
        if contact_id:
            of_contact[contact_id].append(lead_id)
        elif account_id:
            of_account[account_id].append(lead_id)
    if of_account:
        for contact_id, account_id in (
            Contact.select(Contact.id, Contact.account)
            .where(Contact.account.in_(sorted(of_account)))
            .tuples()
        ):
            of_contact[contact_id].extend(of_account[account_id])
    own = Interaction.select(Interaction.lead, Interaction.type, Interaction.occurred_at).where(
        Interaction.lead.in_([lead[0] for lead in leads]) & when
    )
    for lead_id, kind, at in own.tuples():
        found[lead_id].append((kind, at))
    if of_contact:
        theirs = Interaction.select(Interaction.contact, Interaction.type, Interaction.occurred_at).where(
            Interaction.contact.in_(sorted(of_contact)) & when
        )
        for contact_id, kind, at in theirs.tuples():
            for lead_id in of_contact[contact_id]:
                found[lead_id].append((kind, at))
    return found


def rewrite_days(days: list[int]) -> None:
    """Replace the day counts of ``days``, every grain, by the event rows
    grouped in SQL."""
    e, m = MarketingLeadEvent, MarketingDay
    none = pw.SQL("NULL")
    grains = (
        (FULL, e.source, e.campaign_id, e.product_line_id),
        (BY_SOURCE, e.source, none, none),
        (BY_CAMPAIGN, none, e.campaign_id, none),
        (BY_PRODUCT_LINE, none, none, e.product_line_id),
    )
    for first in range(0, len(days), 500):
        chunk = days[first : first + 500]
        m.delete().where(m.day.in_(chunk)).execute()
        for grain, source, campaign, line in grains:
            keys = [column for column in (source, campaign, line) if column is not none]
            grouped = (
                e.select(
                    pw.Value(grain),
                    e.day,
                    e.event,
                    source,
                    campaign,
                    line,
                    pw.fn.COUNT(e.id),
                    pw.fn.SUM(e.converted),
                )
                .where(e.day.in_(chunk))
                .group_by(e.day, e.event, *keys)
            )
            fields = [
                m.grain,
                m.day,
                m.event,
                m.source,
                m.campaign_id,
                m.product_line_id,
                m.leads,
                m.converted,
            ]
            m.insert_from(grouped, fields).execute()
