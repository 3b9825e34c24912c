"""Launching campaigns (G2) and routing their replies back to reps (R8).

- ``audience(campaign)``: the contacts with an email that the campaign's segment
  selects, each with the lead the message is about and the rep it is sent for.
- ``launch(campaign, user)``: draft → launched (a conditional update, so a
  double click launches once) and the ``launch_campaign`` job, whose progress
  the campaign page polls.
- ``launch_campaign(campaign_id)`` (RQ job): one message and one outbox email
  per audience member (unique per campaign and contact) and an ``email_sent``
  interaction each (E3: one external id per member): safe to run twice.
- ``record_reply(...)``: an inbound reply, found by its reply address's token,
  stored once per Message-ID, recorded as ``email_replied`` and notified to the
  owner rep with its campaign and lead.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import peewee as pw
from flask import current_app

from auth.models import MARKETER, User
from campaigns.models import CampaignMessage, CampaignReply
from leads.base.db import transaction, utcnow
from leads.base.models import BackgroundTask
from leads.base.queue import enqueue
from leads.core import interactions, lifecycle
from leads.core.conditions import ACCOUNT, CONTACT, FIELDS, LEAD, Facts, build_segment, matches
from leads.intake import interactions as events
from leads.notify.models import Notification, Outbox
from leads.records.models import Account, Campaign, Contact, Lead

DRAFT, LAUNCHED, COMPLETED = "draft", "launched", "completed"
STATUSES = {DRAFT: "Draft", LAUNCHED: "Launched", COMPLETED: "Completed"}
DEFAULT_REPLY_DOMAIN = "replies.leadflow.local"
DEFAULT_FROM_NAME = "leadflow marketing"
SENT, REPLIED = interactions.EMAIL_SENT, interactions.EMAIL_REPLIED
SENT_SOURCE, REPLY_SOURCE = "campaign", "email"
BATCH = 200  # audience members per transaction
TOKEN_RE = re.compile(r"reply\+([0-9a-f]{16,40})@", re.IGNORECASE)


class CampaignError(ValueError):
    """A refused campaign action; ``field`` names the form field it concerns."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Member:
    """One audience member: who gets the email, about which lead, for which rep."""

    contact_id: int
    email: str
    lead_id: int | None
    rep_id: int | None


# --- The audience ---------------------------------------------------------------


def _record(row, entity: str) -> dict:
    return {name: getattr(row, name) for name in FIELDS[entity]}


def _chunks(items: list, size: int = 500) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _leads_by_contact(contact_ids: list[int], product_line_id: int | None) -> dict[int, Lead]:
    """Each contact's lead the message is about: its newest open lead of the
    campaign's product line, else its newest open lead."""
    chosen: dict[int, Lead] = {}
    rows = (
        Lead.select()
        .where(Lead.contact.in_(contact_ids) & (Lead.status == lifecycle.OPEN))
        .order_by(Lead.id.desc())
    )
    for lead in rows:
        held = chosen.get(lead.contact_id)
        if held is None or (
            product_line_id
            and lead.product_line_id == product_line_id
            and held.product_line_id != product_line_id
        ):
            chosen[lead.contact_id] = lead
    return chosen


def audience(campaign: Campaign) -> list[Member]:
    """The contacts with an email in ``campaign``'s segment (all of them without
    one), by contact id; a few queries per 500 contacts."""
    segment = build_segment(campaign.segment) if campaign.segment else None
    ids = [
        contact_id
        for (contact_id,) in Contact.select(Contact.id)
        .where(Contact.email.is_null(False) & (pw.fn.TRIM(Contact.email) != ""))
        .order_by(Contact.id)
        .tuples()
    ]
    members = []
    for chunk in _chunks(ids):
        contacts = list(Contact.select().where(Contact.id.in_(chunk)).order_by(Contact.id))
        account_ids = {c.account_id for c in contacts if c.account_id}
        accounts = (
            {a.id: a for a in Account.select().where(Account.id.in_(account_ids))} if account_ids else {}
        )
        leads = _leads_by_contact(chunk, campaign.product_line_id)
        for contact in contacts:
            lead, account = leads.get(contact.id), accounts.get(contact.account_id)
            facts = Facts(
                lead={} if lead is None else _record(lead, LEAD),
                contact=_record(contact, CONTACT),
                account=None if account is None else _record(account, ACCOUNT),
            )
            if matches(segment, facts):
                rep_id = contact.owner_id or (account.owner_id if account else None)
                members.append(Member(contact.id, contact.email.strip(), lead and lead.id, rep_id))
    return members


# --- Launching ---------------------------------------------------------------------


def launch(campaign: Campaign, user: User) -> BackgroundTask:
    """G2: launch a draft campaign as ``user`` (a marketer or admin: the routes
    say so); its messages are written by the ``launch_campaign`` job."""
    if campaign.status != DRAFT:
        raise CampaignError("Only a draft campaign can be launched.")
    if not campaign.subject.strip() or not campaign.body.strip():
        raise CampaignError("Write the message (subject and body) before launching.", "subject")
    with transaction():
        task = BackgroundTask.create(
            kind="campaign_launch",
            title=f"Launching {campaign.name}",
            created_by=user.id,
            detail={"campaign_id": campaign.id},
        )
        claimed = (
            Campaign.update(status=LAUNCHED, launched_by=user.id, launched_at=utcnow(), launch_task=task.id)
            .where((Campaign.id == campaign.id) & (Campaign.status == DRAFT))
            .execute()
        )
        if not claimed:
            raise CampaignError("This campaign was launched meanwhile.")
    enqueue("campaigns.launch.launch_campaign", campaign.id, job_id=f"launch-{campaign.id}", timeout=1800)
    return task


def complete(campaign: Campaign) -> bool:
    """launched → completed; False when the campaign was not launched."""
    return bool(
        Campaign.update(status=COMPLETED, completed_at=utcnow())
        .where((Campaign.id == campaign.id) & (Campaign.status == LAUNCHED))
        .execute()
    )


def reply_address(token: str) -> str:
    """R8: the Reply-To that brings a reply back to the inbound endpoint."""
    return f"reply+{token}@{current_app.config.get('REPLY_DOMAIN', DEFAULT_REPLY_DOMAIN)}"


def launch_campaign(campaign_id: int) -> dict:
    """The launch job: messages, outbox emails and ``email_sent`` interactions
    for the whole audience, in batches, with progress. Safe to run twice."""
    campaign = Campaign.get_or_none(Campaign.id == campaign_id)
    if campaign is None or campaign.status == DRAFT:
        return {"messages": 0}
    members = audience(campaign)
    _progress(campaign.launch_task, status="running", total=len(members), done=0)
    reps = _names({m.rep_id for m in members if m.rep_id})
    # Interactions are checked against what the launcher may see: a marketer sees all.
    sender = campaign.launched_by or User(role=MARKETER, name="campaign")
    written = 0
    for done, chunk in _batches(members):
        with transaction():
            written += _write_messages(campaign, chunk, reps)
        events.record_interactions(_sent_events(campaign, chunk), sender, default_source=SENT_SOURCE)
        _progress(campaign.launch_task, done=done)
    _progress(campaign.launch_task, status="done", finished_at=utcnow())
    return {"audience": len(members), "messages": written}


def _batches(members: list[Member]) -> Iterator[tuple[int, list[Member]]]:
    for start in range(0, len(members), BATCH):
        chunk = members[start : start + BATCH]
        yield start + len(chunk), chunk


def _names(user_ids: Iterable[int]) -> dict[int, str]:
    ids = sorted(user_ids)
    return {uid: name for uid, name in User.select(User.id, User.name).where(User.id.in_(ids)).tuples()}


def _progress(task_id: int | None, **values) -> None:
    if task_id:
        BackgroundTask.update(**values).where(BackgroundTask.id == task_id).execute()


def _write_messages(campaign: Campaign, chunk: list[Member], reps: dict[int, str]) -> int:
    """Insert the chunk's messages (a member already written is skipped) and an
    outbox email for each new one; returns how many were new."""
    now = utcnow()
    rows = []
    for member in chunk:
        token = secrets.token_hex(16)
        rows.append(
            {
                "campaign": campaign.id,
                "contact": member.contact_id,
                "lead": member.lead_id,
                "rep": member.rep_id,
                "to_email": member.email,
                "from_name": reps.get(member.rep_id, DEFAULT_FROM_NAME)[:120],
                "subject": campaign.subject,
                "body": campaign.body,
                "reply_to": reply_address(token),
                "token": token,
                "created_at": now,
            }
        )
    CampaignMessage.insert_many(rows).on_conflict_ignore().execute()
    fresh = list(
        CampaignMessage.select()
        .where(
            (CampaignMessage.campaign == campaign.id)
            & CampaignMessage.contact.in_([m.contact_id for m in chunk])
            & CampaignMessage.outbox_id.is_null()
        )
        .order_by(CampaignMessage.id)
    )
    for message in fresh:
        outbox = Outbox.create(
            to=message.to_email, subject=message.subject, body=message.body, reply_to=message.reply_to
        )
        CampaignMessage.update(outbox_id=outbox.id).where(CampaignMessage.id == message.id).execute()
    return len(fresh)


def _sent_events(campaign: Campaign, chunk: list[Member]) -> list[dict]:
    return [
        {
            "type": SENT,
            "external_id": f"campaign-{campaign.id}-{member.contact_id}",
            "source": SENT_SOURCE,
            "contact_id": member.contact_id,
            "lead_id": member.lead_id,
            "properties": {"campaign_id": campaign.id, "campaign": campaign.name},
        }
        for member in chunk
    ]


# --- Replies (R8) ---------------------------------------------------------------------


def message_for_address(address: str) -> CampaignMessage | None:
    """The message whose reply address is (in) ``address``, or None."""
    found = TOKEN_RE.search(address or "")
    if found is None:
        return None
    return CampaignMessage.get_or_none(CampaignMessage.token == found.group(1).lower())


def record_reply(
    message: CampaignMessage, user: User, *, from_email: str, subject: str, text: str, message_id: str
) -> tuple[CampaignReply, bool]:
    """R8: store a reply to ``message`` once per ``message_id``, record it as an
    ``email_replied`` interaction of its contact and lead, and notify the owner
    rep. Returns the reply and whether it is new."""
    try:
        with transaction():
            known = CampaignReply.get_or_none(CampaignReply.external_id == message_id)
            if known is not None:
                return known, False
            reply = CampaignReply.create(
                message=message.id,
                campaign=message.campaign_id,
                contact=message.contact_id,
                lead=message.lead_id,
                rep=message.rep_id,
                from_email=from_email[:254],
                subject=subject[:200],
                text=text,
                external_id=message_id,
            )
            if reply.rep_id:
                _notify_rep(reply)
    except pw.IntegrityError:  # the same reply posted twice at once: the index keeps one
        return CampaignReply.get(CampaignReply.external_id == message_id), False
    events.record_interactions(
        [
            {
                "type": REPLIED,
                "external_id": message_id,
                "source": REPLY_SOURCE,
                "contact_id": message.contact_id,
                "lead_id": message.lead_id,
                "properties": {"campaign_id": message.campaign_id, "subject": subject[:200]},
            }
        ],
        user,
        default_source=REPLY_SOURCE,
    )
    return reply, True


def _notify_rep(reply: CampaignReply) -> None:
    campaign = Campaign.get_by_id(reply.campaign_id)
    who = reply.contact.name if reply.contact_id else reply.from_email
    about = f" about {reply.lead.name}" if reply.lead_id else ""
    Notification.insert(
        user=reply.rep_id,
        kind="campaign_reply",
        lead=reply.lead_id,
        text=f"{who} replied to campaign {campaign.name}{about}"[:300],
        key=f"campaign-reply-{reply.id}",
        created_at=utcnow(),
    ).on_conflict_ignore().execute()


def replies_for(user: User):
    """R8: the replies routed to ``user``, newest first, with campaign, lead and contact."""
    return (
        CampaignReply.select(CampaignReply, Campaign, Lead, Contact)
        .join(Campaign, on=(CampaignReply.campaign == Campaign.id))
        .switch(CampaignReply)
        .join(Lead, pw.JOIN.LEFT_OUTER, on=(CampaignReply.lead == Lead.id))
        .switch(CampaignReply)
        .join(Contact, pw.JOIN.LEFT_OUTER, on=(CampaignReply.contact == Contact.id))
        .where(CampaignReply.rep == user.id)
        .order_by(CampaignReply.received_at.desc(), CampaignReply.id.desc())
    )


def message_counts(campaign_ids: list[int]) -> dict[int, int]:
    """Messages written per campaign."""
    if not campaign_ids:
        return {}
    query = (
        CampaignMessage.select(CampaignMessage.campaign, pw.fn.COUNT(CampaignMessage.id))
        .where(CampaignMessage.campaign.in_(campaign_ids))
        .group_by(CampaignMessage.campaign)
    )
    return dict(query.tuples())
