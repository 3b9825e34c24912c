"""Stage actions on stored leads: load the state, call ``leads.lifecycle``,
store the answer and its history in one transaction."""

from __future__ import annotations

from auth.models import REP, User
from leads import lifecycle
from leads.db import transaction, utcnow
from leads.lifecycle import Actor, TransitionError
from leads.models import Lead, LeadHistory

_COLUMNS = {
    "stage": Lead.stage,
    "status": Lead.status,
    "status_reason": Lead.status_reason,
    "sales_ready": Lead.sales_ready,
    "ready_for_tp": Lead.ready_for_tp,
    "tp_accepted": Lead.tp_accepted,
    "sales_accepted": Lead.sales_accepted,
    "owner_id": Lead.owner,
    "teleprospector_id": Lead.teleprospector,
    "qualification": Lead.qualification,
}


def actor_for(user: User | None) -> Actor:
    """The lifecycle actor for a user (None: the system)."""
    return lifecycle.SYSTEM_ACTOR if user is None else Actor(user.role, user.id)


def perform(
    lead: Lead, action: str, user: User | None, via: str | None = None, note: str | None = None, **args
) -> Lead:
    """Apply ``action`` to ``lead`` as ``user`` and store it; returns the fresh lead.

    The write is conditional on the state we read (no lost update when two
    people click at once); ``TransitionError`` says why an action is refused."""
    if action == "assign":
        _check_assignee(args.get("owner_id"))
    old = lead.state
    new, changes = lifecycle.apply(old, action, actor_for(user), **args)
    if not changes:
        return lead
    with transaction():
        _store(lead.id, old, new, action)
        _record(lead.id, changes, user, via or action.replace("_", " "), note)
    return Lead.get_by_id(lead.id)


def _check_assignee(owner_id) -> None:
    rep = User.get_or_none(User.id == owner_id)
    if rep is None or rep.role != REP or not rep.is_active:
        raise TransitionError("Choose an active sales rep.")


def _store(lead_id: int, old: lifecycle.LeadState, new: lifecycle.LeadState, action: str) -> None:
    values = {column: getattr(new, name) for name, column in _COLUMNS.items()}
    values[Lead.updated_at] = utcnow()
    if new.owner_id != old.owner_id:
        values[Lead.assigned_at] = utcnow() if new.owner_id else None
    guard = (
        (Lead.id == lead_id)
        & (Lead.stage == old.stage)
        & (Lead.status == old.status)
        & (Lead.sales_accepted == old.sales_accepted)
        & (Lead.owner.is_null() if old.owner_id is None else Lead.owner == old.owner_id)
    )
    if Lead.update(values).where(guard).execute() != 1:
        raise TransitionError("Someone else changed this lead meanwhile. Reload and try again.")


_HISTORY_KINDS = {"stage", "status", "status_reason", "sales_ready", "owner_id", "qualification"}


def _record(lead_id, changes, user, via, note) -> None:
    rows = [
        {
            "lead": lead_id,
            "kind": change.kind.removesuffix("_id"),
            "old_value": None if change.old is None else str(change.old),
            "new_value": None if change.new is None else str(change.new),
            "actor": user.id if user else None,
            "via": via,
            "note": note,
            "created_at": utcnow(),
        }
        for change in changes
        if change.kind in _HISTORY_KINDS
    ]
    if rows:
        LeadHistory.insert_many(rows).execute()


def record_created(lead: Lead, user: User | None, via: str) -> None:
    """History entry for a new lead (its first stage)."""
    LeadHistory.create(
        lead=lead, kind="stage", old_value=None, new_value=str(lead.stage), actor=user, via=via
    )
