"""Outgoing webhooks and their deliveries (Q2 follow-ups)."""

from __future__ import annotations

import peewee as pw

from leads.base.db import BaseModel, JSONField, utcnow


class Webhook(BaseModel):
    """An outgoing webhook (Q2 follow-ups): ``events`` it wants, signed with ``secret`` (HMAC-SHA256)."""

    name = pw.CharField(max_length=120)
    url = pw.CharField(max_length=500)
    secret = pw.CharField(max_length=100)
    events = JSONField(default=list)
    active = pw.BooleanField(default=True)
    created_at = pw.DateTimeField(default=utcnow)


class WebhookDelivery(BaseModel):
    """One event for one webhook, retried with backoff until delivered; ``key``
    makes the same event for the same webhook one delivery."""

    webhook = pw.ForeignKeyField(Webhook, backref="deliveries", on_delete="CASCADE")
    key = pw.CharField(max_length=200)
    event = pw.CharField(max_length=40)
    payload = JSONField(default=dict)
    status = pw.CharField(max_length=20, default="pending")  # pending, delivered, failed
    attempts = pw.IntegerField(default=0)
    last_error = pw.CharField(max_length=300, null=True)
    next_attempt_at = pw.DateTimeField(default=utcnow)
    created_at = pw.DateTimeField(default=utcnow)
    delivered_at = pw.DateTimeField(null=True)

    class Meta:
        indexes = (
            (("webhook", "key"), True),
            (("status", "next_attempt_at"), False),
        )
