"""The rollups' cursor over the leads (SPEC D1, D2): how far a rollup has
read the leads in the order of their last change, then id, kept on its state
row as ``leads_through`` (microseconds since 1970) and ``leads_last_id``. The
same cursor serves the sales and marketing rollups and the page that says how
far a first build has got (``reports.building``)."""

from __future__ import annotations

import datetime as dt

from leads.records.models import Lead

_EPOCH = dt.datetime(1970, 1, 1)


def micros(moment: dt.datetime) -> int:
    """``moment`` as the cursor keeps it."""
    return (moment - _EPOCH) // dt.timedelta(microseconds=1)


def read_past(state):
    """The leads the cursor of ``state`` has not reached yet (a peewee
    condition; None when it has read nothing, so every lead)."""
    if state is None or state.leads_through is None:
        return None
    through = _EPOCH + dt.timedelta(microseconds=state.leads_through)
    return (Lead.updated_at > through) | ((Lead.updated_at == through) & (Lead.id > state.leads_last_id))


def changed_leads(state, size: int) -> list[tuple[int, dt.datetime]]:
    """The next ``size`` leads by (last change, id) after the cursor of ``state``."""
    query = Lead.select(Lead.id, Lead.updated_at).order_by(Lead.updated_at, Lead.id).limit(size)
    ahead = read_past(state)
    return list((query if ahead is None else query.where(ahead)).tuples())
