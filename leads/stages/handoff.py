"""What sales gets with a lead (W3): the teleprospector's findings (P5), who
recorded them and when, the latest activities and the interactions that came
just before the lead became sales-ready. The scores and their why come from
the lead page's live part (S6), already loaded."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from auth.models import TELEPROSPECTOR, User
from leads.core import activities as rules
from leads.core import lifecycle
from leads.records import activity
from leads.records.models import Interaction, Lead
from leads.records.queries import with_related

LATEST_ACTIVITIES = 3
LEADING_INTERACTIONS = 3


@dataclass(frozen=True)
class Handoff:
    """The hand-off panel of a stage-5 lead."""

    findings: list[tuple[str, str]]
    recorded_by: str | None
    recorded_at: dt.datetime | None
    ready_at: dt.datetime | None
    activities: list = field(default_factory=list)
    interactions: list = field(default_factory=list)
    kinds = rules.KINDS  # how activities and call outcomes read
    outcomes = rules.OUTCOMES


def shows_handoff(lead: Lead) -> bool:
    """The panel is for leads handed to sales: stage 5 and later."""
    return lead.stage >= lifecycle.SALES_ACCEPTANCE


def handed_by(user: User, lead_id: int) -> Lead | None:
    """The lead ``lead_id`` if ``user`` is the teleprospector who handed it to
    sales (stage 5 or later, so out of their view), with its owner; else None."""
    if user.role != TELEPROSPECTOR:
        return None
    query = Lead.select().where(
        (Lead.id == lead_id) & (Lead.teleprospector == user.id) & (Lead.stage >= lifecycle.SALES_ACCEPTANCE)
    )
    return with_related(query).first()


def findings(lead: Lead, labels: dict[str, str]) -> list[tuple[str, str]]:
    """The lead's findings as ``(label, value)`` in form order; keys no field
    knows any more come last under their key."""
    stored = lead.qualification or {}
    known = [(labels[key], str(stored[key])) for key in labels if stored.get(key)]
    unknown = [(key, str(value)) for key, value in stored.items() if value and key not in labels]
    return known + unknown


def handoff(lead: Lead, labels: dict[str, str], history_rows, *, interactions, activities) -> Handoff:
    """The panel's content from what the lead page already loaded: its history
    rows (newest first), the newest interactions and activities (newest first).
    One query only when the interactions before Sales ready are older than
    every loaded one."""
    recorded = next((row for row in history_rows if row.kind == "qualification"), None)
    ready = next((row for row in history_rows if row.kind == "sales_ready" and row.new_value == "1"), None)
    recorded_by = lead.teleprospector.name if lead.teleprospector else None
    if recorded_by is None and recorded is not None and recorded.actor_id is not None:
        recorded_by = recorded.actor.name
    leading = []
    if ready is not None:
        leading = [row for row in interactions if row.occurred_at <= ready.created_at]
        if len(leading) < LEADING_INTERACTIONS and len(interactions) >= activity.SHOWN:
            before = activity.lead_interactions(lead).where(Interaction.occurred_at <= ready.created_at)
            leading = activity.shown(before, LEADING_INTERACTIONS)
    return Handoff(
        findings=findings(lead, labels),
        recorded_by=recorded_by,
        recorded_at=recorded.created_at if recorded else None,
        ready_at=ready.created_at if ready else None,
        activities=list(activities[:LATEST_ACTIVITIES]),
        interactions=leading[:LEADING_INTERACTIONS],
    )
