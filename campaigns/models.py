"""Campaign records beyond the campaign itself (G2, G3, R8): one message per
audience member, the replies routed back to the owner rep, and the reps'
campaign requests. Schema: ``migrations/008_campaigns.py``."""

from __future__ import annotations

import peewee as pw

from auth.models import User
from leads.base.db import BaseModel, utcnow
from leads.records.models import Campaign, Contact, Lead


class CampaignMessage(BaseModel):
    """One email of a launched campaign to one contact, sent on behalf of ``rep``
    (the contact's owner, else its account's owner). ``(campaign, contact)`` is
    unique, so a launch run twice writes each message once; ``token`` is the
    reply address's key (R8)."""

    campaign = pw.ForeignKeyField(Campaign, backref="messages", on_delete="CASCADE")
    contact = pw.ForeignKeyField(Contact, on_delete="CASCADE")
    lead = pw.ForeignKeyField(Lead, null=True, on_delete="SET NULL")
    rep = pw.ForeignKeyField(User, null=True, on_delete="SET NULL")
    to_email = pw.CharField(max_length=254)
    from_name = pw.CharField(max_length=120)
    subject = pw.CharField(max_length=200)
    body = pw.TextField()
    reply_to = pw.CharField(max_length=254)
    token = pw.CharField(max_length=40, unique=True)
    outbox_id = pw.IntegerField(null=True)  # the shared outbox row, when there is one
    status = pw.CharField(max_length=20, default="queued")
    created_at = pw.DateTimeField(default=utcnow)
    sent_at = pw.DateTimeField(null=True)

    class Meta:
        table_name = "campaign_message"
        indexes = ((("campaign", "contact"), True),)


class CampaignReply(BaseModel):
    """R8: a reply to a campaign message, attributed to its campaign, lead and
    rep. ``external_id`` (the email's Message-ID) is unique: a reply posted twice
    is stored once."""

    message = pw.ForeignKeyField(CampaignMessage, backref="replies", on_delete="CASCADE")
    campaign = pw.ForeignKeyField(Campaign, on_delete="CASCADE")
    contact = pw.ForeignKeyField(Contact, null=True, on_delete="SET NULL")
    lead = pw.ForeignKeyField(Lead, null=True, on_delete="SET NULL")
    rep = pw.ForeignKeyField(User, null=True, on_delete="SET NULL")
    from_email = pw.CharField(max_length=254)
    subject = pw.CharField(max_length=200, default="")
    text = pw.TextField(default="")
    external_id = pw.CharField(max_length=250, unique=True)
    received_at = pw.DateTimeField(default=utcnow)

    class Meta:
        table_name = "campaign_reply"
        indexes = ((("rep", "received_at"), False),)


class CampaignRequest(BaseModel):
    """G3: a rep asks marketing for a campaign; a marketer approves it (creating a
    draft campaign, ``campaign``) or declines it with a ``reason``."""

    requested_by = pw.ForeignKeyField(User, backref="campaign_requests", on_delete="CASCADE")
    goal = pw.TextField()
    audience = pw.TextField()
    timing = pw.CharField(max_length=200)
    status = pw.CharField(max_length=20, default="pending")  # pending, approved, declined
    reason = pw.TextField(null=True)
    campaign = pw.ForeignKeyField(Campaign, null=True, on_delete="SET NULL")
    decided_by = pw.ForeignKeyField(User, null=True, on_delete="SET NULL")
    decided_at = pw.DateTimeField(null=True)
    created_at = pw.DateTimeField(default=utcnow)

    class Meta:
        table_name = "campaign_request"
        indexes = (
            (("requested_by", "created_at"), False),
            (("status", "created_at"), False),
        )
