"""Notifications and email (R2, R8): an in-app notification, opening it from
its lead, an email in the outbox, and telling owner reps their leads or
contacts engaged (connected to ``interactions_stored`` at app set-up)."""

from __future__ import annotations

from dataclasses import dataclass, field

import peewee as pw

from leads.base import signals
from leads.base.db import utcnow
from leads.core.interactions import LOGGED
from leads.notify.models import Notification, Outbox
from leads.records.models import Contact, Lead, ProductLine
from leads.records.queries import visible_leads

ENGAGED = "engaged"
SHOWN = 100  # notifications on the page, newest first

# Where a notification about no lead links to, by kind: an endpoint a higher
# package registers at set-up (``register_link``), as notify may not import it.
_LINKS: dict[str, str] = {}


def register_link(kind: str, endpoint: str) -> None:
    """Notifications of ``kind`` with no lead link to ``endpoint`` (no arguments)."""
    _LINKS[kind] = endpoint


def link_endpoint(kind: str) -> str | None:
    """The endpoint a notification of ``kind`` with no lead links to, if any."""
    return _LINKS.get(kind)


@dataclass
class Group:
    """The notifications about one lead (or, with no lead, about one kind),
    newest first, with the lead's name, topic and product line."""

    lead: Lead | None
    visible: bool  # the user may still open the lead
    kind: str
    items: list[Notification] = field(default_factory=list)

    @property
    def unread(self) -> list[Notification]:
        """The group's unread notifications."""
        return [item for item in self.items if item.read_at is None]


def notifications_for(user, limit: int = SHOWN) -> list[Group]:
    """The user's latest ``limit`` notifications grouped per lead (the group of
    the newest news first), each lead with its topic and product line and
    whether the user may still open it: two queries."""
    rows = list(
        Notification.select(
            Notification, Lead.id, Lead.first_name, Lead.last_name, Lead.email, Lead.topic, ProductLine
        )
        .join(Lead, pw.JOIN.LEFT_OUTER, on=(Notification.lead == Lead.id), attr="about")
        .join(ProductLine, pw.JOIN.LEFT_OUTER, on=(Lead.product_line == ProductLine.id), attr="line")
        .where(Notification.user == user.id)
        .order_by(Notification.created_at.desc(), Notification.id.desc())
        .limit(limit)
    )
    lead_ids = {row.lead_id for row in rows if row.lead_id}
    visible = (
        {lead.id for lead in visible_leads(user).select(Lead.id).where(Lead.id.in_(list(lead_ids)))}
        if lead_ids
        else set()
    )
    groups: dict[tuple, Group] = {}
    for row in rows:
        key = ("lead", row.lead_id) if row.lead_id else ("kind", row.kind)
        if key not in groups:
            lead = getattr(row, "about", None) if row.lead_id else None
            groups[key] = Group(lead, row.lead_id in visible, row.kind)
        groups[key].items.append(row)
    return list(groups.values())


def notify(user_id: int, kind: str, text: str, lead_id: int | None = None, key: str | None = None) -> None:
    """An in-app notification (once per ``key`` when one is given)."""
    Notification.insert(
        user=user_id, kind=kind, lead=lead_id, text=text[:300], key=key, created_at=utcnow()
    ).on_conflict_ignore().execute()


def mark_opened(user_id: int, lead_id: int, notification_id) -> bool:
    """R2: the user opened lead ``lead_id`` from notification ``notification_id``
    (the ``?n=`` of its link): when it is the user's own unread notification
    about that lead, it and the user's other unread news of the lead (its
    group) are marked read; anything else changes nothing. Returns whether
    any was marked (the badge shows it on its next poll)."""
    try:
        number = int(notification_id)
    except (TypeError, ValueError):
        return False
    if not -(2**31) < number < 2**31:
        return False
    mine = (Notification.user == user_id) & (Notification.lead == lead_id) & Notification.read_at.is_null()
    if not Notification.select().where(mine & (Notification.id == number)).exists():
        return False
    return bool(Notification.update(read_at=utcnow()).where(mine).execute())


def queue_email(to: str, subject: str, body: str, reply_to: str | None = None) -> int:
    """An email in the outbox; sent by ``leads.notify.jobs.send_outbox`` when SMTP is configured."""
    return Outbox.insert(
        to=to, subject=subject[:300], body=body, reply_to=reply_to, created_at=utcnow()
    ).execute()


def queue_emails(messages) -> None:
    """Several emails in the outbox in one insert; ``messages`` are (to, subject, body)."""
    now = utcnow()
    rows = [
        dict(to=to, subject=subject[:300], body=body, reply_to=None, created_at=now)
        for to, subject, body in messages
    ]
    if rows:
        Outbox.insert_many(rows).execute()


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
