"""Named queries. Each returns a peewee query so callers can filter and paginate."""

from __future__ import annotations

from auth.models import ADMIN, INTEGRATION, MANAGER, MARKETER, REP, TELEPROSPECTOR, User
from leads import lifecycle
from leads.models import Contact, Lead

SEE_ALL = {ADMIN, MANAGER, MARKETER, INTEGRATION}


def visible_leads(user: User):
    """Leads ``user`` may see (G1, P8): everyone's for admin, managers, marketers
    and integrations; stages 3–4 for teleprospectors; their own for reps."""
    query = Lead.select()
    if user.role in SEE_ALL:
        return query
    if user.role == TELEPROSPECTOR:
        return query.where(
            (Lead.status == lifecycle.OPEN)
            & Lead.stage.in_([lifecycle.TP_ACCEPTANCE, lifecycle.TP_QUALIFICATION])
        )
    if user.role == REP:
        return query.where(Lead.owner == user.id)
    return query.where(False)


def lead_for(user: User, lead_id: int) -> Lead | None:
    """The lead with ``lead_id`` if ``user`` may see it, else None (callers answer 404)."""
    return visible_leads(user).where(Lead.id == lead_id).first()


def visible_contacts(user: User):
    """Contacts ``user`` may see: reps only those they own or hold a lead of."""
    query = Contact.select()
    if user.role == REP:
        mine = Lead.select(Lead.contact).where((Lead.owner == user.id) & Lead.contact.is_null(False))
        return query.where((Contact.owner == user.id) | Contact.id.in_(mine))
    return query


def assignable_reps():
    """Active sales reps, by name: the only users offered as lead owners."""
    return (
        User.select()
        .where((User.role == REP) & (User.is_active == True))  # noqa: E712
        .order_by(User.name)
    )


def leads_in_stage(stage: int):
    """Open leads in ``stage``, oldest first."""
    return (
        Lead.select()
        .where((Lead.status == lifecycle.OPEN) & (Lead.stage == stage))
        .order_by(Lead.created_at, Lead.id)
    )


def unassigned_sales_ready():
    """Open stage-5 leads with no owner: the sales managers' queue (P6, R4)."""
    return leads_in_stage(lifecycle.SALES_ACCEPTANCE).where(Lead.owner.is_null())


def queue_for(user: User):
    """A rep's own open sales-ready leads, oldest assignment first (P8, R6)."""
    return (
        Lead.select()
        .where(
            (Lead.owner == user.id)
            & (Lead.status == lifecycle.OPEN)
            & (Lead.stage == lifecycle.SALES_ACCEPTANCE)
        )
        .order_by(Lead.assigned_at, Lead.id)
    )
