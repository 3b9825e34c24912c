"""Notifications and email (R2, R8): an in-app notification, opening it from
its lead, an email in the outbox, and telling owner reps their leads or
contacts engaged (connected to ``interactions_stored`` at app set-up)."""

from __future__ import annotations

from leads.base import signals
from leads.base.db import utcnow
from leads.core.interactions import LOGGED
from leads.notify.models import Notification, Outbox
from leads.records.models import Contact, Lead

ENGAGED = "engaged"


def notify(user_id: int, kind: str, text: str, lead_id: int | None = None, key: str | None = None) -> None:
    """An in-app notification (once per ``key`` when one is given)."""
    Notification.insert(
        user=user_id, kind=kind, lead=lead_id, text=text[:300], key=key, created_at=utcnow()
    ).on_conflict_ignore().execute()


def mark_opened(user_id: int, lead_id: int, notification_id) -> bool:
    """R2: the user opened lead ``lead_id`` from notification ``notification_id``
    (the ``?n=`` of its link): mark it read when it is the user's own unread
    notification about that lead; anything else changes nothing. Returns
    whether it was marked (the badge shows it on its next poll)."""
    try:
        number = int(notification_id)
    except (TypeError, ValueError):
        return False
    marked = (
        Notification.update(read_at=utcnow())
        .where(
            (Notification.id == number)
            & (Notification.user == user_id)
            & (Notification.lead == lead_id)
            & Notification.read_at.is_null()
        )
        .execute()
    )
    return bool(marked)


def queue_email(to: str, subject: str, body: str, reply_to: str | None = None) -> int:
    """An email in the outbox; sent by ``leads.notify.jobs.send_outbox`` when SMTP is configured."""
    return Outbox.insert(
        to=to, subject=subject[:300], body=body, reply_to=reply_to, created_at=utcnow()
    ).execute()


def notify_engaged(sender=None, *, interactions, **_) -> None:
    """R2: an interaction arrived for a lead or contact a rep owns: tell the
    lead's owner and the contact's owner (one notification per rep and person
    per batch). A handful of queries whatever the batch size. A call or note a
    user logged (W1) is not the person engaging: nobody is told."""
    interactions = [row for row in interactions if row.type not in LOGGED]
    lead_ids = {row.lead_id for row in interactions if row.lead_id}
    contact_ids = {row.contact_id for row in interactions if row.contact_id}
    if not lead_ids and not contact_ids:
        return
    people: dict[tuple[int, str], tuple[str, int | None]] = {}
    if lead_ids:
        for lead in Lead.select(Lead.id, Lead.owner, Lead.first_name, Lead.last_name, Lead.email).where(
            Lead.id.in_(list(lead_ids)) & Lead.owner.is_null(False)
        ):
            people[(lead.owner_id, f"lead:{lead.id}")] = (lead.name, lead.id)
    if contact_ids:
        for contact in Contact.select(
            Contact.id, Contact.owner, Contact.first_name, Contact.last_name, Contact.email
        ).where(Contact.id.in_(list(contact_ids)) & Contact.owner.is_null(False)):
            people[(contact.owner_id, f"contact:{contact.id}")] = (contact.name, None)
    kinds = sorted({row.type for row in interactions})
    what = ", ".join(kinds[:3]) + ("…" if len(kinds) > 3 else "")
    now = utcnow()
    rows = [
        dict(user=user_id, kind=ENGAGED, lead=lead_id, text=f"{name} engaged: {what}"[:300], created_at=now)
        for (user_id, _who), (name, lead_id) in people.items()
    ]
    if rows:
        Notification.insert_many(rows).execute()


def connect() -> None:
    """Connect notifications to the domain's signals (once, at app set-up)."""
    from leads.notify.jobs import sweep_outbox

    signals.interactions_stored.connect(notify_engaged, weak=False)
    signals.sweep_due.connect(sweep_outbox, weak=False)
