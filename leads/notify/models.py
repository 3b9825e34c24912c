"""In-app notifications and the outbox of emails (R2, R8)."""

from __future__ import annotations

import peewee as pw

from auth.models import User
from leads.base.db import BaseModel, utcnow
from leads.records.models import Lead


class Notification(BaseModel):
    """An in-app notification; ``key`` (when set) makes the same news one row."""

    user = pw.ForeignKeyField(User, backref="notifications", on_delete="CASCADE")
    kind = pw.CharField(max_length=30)
    lead = pw.ForeignKeyField(Lead, null=True, on_delete="CASCADE")
    text = pw.CharField(max_length=300)
    key = pw.CharField(max_length=200, null=True, unique=True)
    created_at = pw.DateTimeField(default=utcnow)
    read_at = pw.DateTimeField(null=True)

    class Meta:
        indexes = ((("user", "read_at", "created_at"), False),)


class Outbox(BaseModel):
    """An email waiting to go out (sent by SMTP only when ``SMTP_HOST`` is set)."""

    to = pw.CharField(max_length=254)
    subject = pw.CharField(max_length=300)
    body = pw.TextField()
    reply_to = pw.CharField(max_length=254, null=True)
    status = pw.CharField(max_length=20, default="queued")  # queued, sent, failed
    created_at = pw.DateTimeField(default=utcnow)
    sent_at = pw.DateTimeField(null=True)

    class Meta:
        indexes = ((("status", "created_at"), False),)
