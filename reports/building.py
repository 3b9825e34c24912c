"""How far a dashboard's rollup has got with its first build (D1, D2).

An install that upgrades to the dashboards, or restores a backup, has months
of leads the rollups have not counted yet; the sweeper counts them a slice at
a time (``reports.sales.rollup``, ``reports.marketing.rollup``), a few minutes
at 100k leads. Until a rollup has caught up once, its dashboard says so, with
a progress bar and the share of leads counted, instead of showing partial
figures as if they were whole. Once caught up (``refreshed_at`` set) this
costs nothing: no query is made.
"""

from __future__ import annotations

from dataclasses import dataclass

from leads.records.models import Lead
from reports import cursor


@dataclass(frozen=True)
class Building:
    done: int  # leads counted so far
    total: int  # leads in the install

    @property
    def percent(self) -> int:
        return min(99, self.done * 100 // self.total) if self.total else 0


def first_build(state_model) -> Building | None:
    """None once the rollup of ``state_model`` (its cursor row: ``leads_through``
    in microseconds since 1970 and ``leads_last_id``) has caught up once, or
    when there are no leads; else how many leads its slices have read."""
    state = state_model.select().order_by(state_model.id).first()
    if state is not None and state.refreshed_at is not None:
        return None
    total = Lead.select().count()
    if not total:
        return None
    ahead = cursor.read_past(state)
    if ahead is None:
        return Building(0, total)
    return Building(total - Lead.select().where(ahead).count(), total)
