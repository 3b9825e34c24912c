"""Managing outgoing webhooks (Q2 follow-ups): create and edit them, rotate their
secret, list their deliveries, retry one now and send a test ``ping``.

Delivery itself (signing, backoff, the sweeper) lives in ``leads.scoring.jobs``; this
module only stores rows and enqueues ``leads.webhooks.delivery.deliver_webhook`` for them.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass

import peewee as pw

from leads.base.db import utcnow
from leads.webhooks.delivery import _enqueue_delivery
from leads.webhooks.models import Webhook, WebhookDelivery

PING = "ping"
DELIVERY_LIMIT = 50  # deliveries shown on a webhook's page
STATUSES = ("pending", "delivered", "failed")


def new_secret() -> str:
    """A fresh signing secret (URL-safe, 43 characters)."""
    return secrets.token_urlsafe(32)


def masked(secret: str) -> str:
    """The secret as shown after creation: only its last four characters."""
    return "••••••••" + secret[-4:]


@dataclass
class WebhookRow:
    """A webhook and the count of its deliveries per status, for the list page."""

    webhook: Webhook
    counts: dict


def webhooks_overview() -> list[WebhookRow]:
    """Every webhook, by name, with its pending/delivered/failed counts (two queries)."""
    hooks = list(Webhook.select().order_by(Webhook.name, Webhook.id))
    counts = {hook.id: dict.fromkeys(STATUSES, 0) for hook in hooks}
    grouped = (
        WebhookDelivery.select(
            WebhookDelivery.webhook, WebhookDelivery.status, pw.fn.COUNT(WebhookDelivery.id)
        )
        .group_by(WebhookDelivery.webhook, WebhookDelivery.status)
        .tuples()
    )
    for webhook_id, status, count in grouped:
        if webhook_id in counts:
            counts[webhook_id][status] = count
    return [WebhookRow(hook, counts[hook.id]) for hook in hooks]


def latest_deliveries(webhook: Webhook, limit: int = DELIVERY_LIMIT):
    """The webhook's most recent deliveries, newest first (a query)."""
    return (
        WebhookDelivery.select()
        .where(WebhookDelivery.webhook == webhook)
        .order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id.desc())
        .limit(limit)
    )


def create_webhook(name: str, url: str, events: list[str], active: bool) -> Webhook:
    """Store a new webhook with a freshly generated secret (the caller shows it once)."""
    return Webhook.create(
        name=name.strip(), url=url.strip(), events=sorted(set(events)), active=active, secret=new_secret()
    )


def update_webhook(webhook: Webhook, name: str, url: str, events: list[str], active: bool) -> Webhook:
    """Change a webhook's settings (never its secret: see ``rotate_secret``)."""
    webhook.name, webhook.url = name.strip(), url.strip()
    webhook.events, webhook.active = sorted(set(events)), active
    webhook.save()
    return webhook


def rotate_secret(webhook: Webhook) -> str:
    """Replace the webhook's secret; returns the new one (shown once). Deliveries
    not yet sent are signed with it, since signing happens at send time."""
    secret = new_secret()
    Webhook.update(secret=secret).where(Webhook.id == webhook.id).execute()
    webhook.secret = secret
    return secret


def retry_now(delivery: WebhookDelivery) -> bool:
    """Make a failed delivery, or one waiting for its next attempt, due now and
    enqueue it. A conditional update, so a double click (or a delivery already
    due, which its job or the sweeper will send) enqueues nothing more.
    Returns whether it was enqueued."""
    now = utcnow()
    changed = (
        WebhookDelivery.update(status="pending", next_attempt_at=now)
        .where(
            (WebhookDelivery.id == delivery.id)
            & (
                (WebhookDelivery.status == "failed")
                | ((WebhookDelivery.status == "pending") & (WebhookDelivery.next_attempt_at > now))
            )
        )
        .execute()
    )
    if changed:
        _enqueue_delivery(delivery.id)
    return bool(changed)


def send_test(webhook: Webhook) -> WebhookDelivery:
    """A ``ping`` delivery with a small payload, enqueued at once."""
    delivery = WebhookDelivery.create(
        webhook=webhook,
        key=f"{PING}:{uuid.uuid4().hex}",
        event=PING,
        payload={
            "event": PING,
            "webhook": {"id": webhook.id, "name": webhook.name},
            "at": utcnow().isoformat() + "Z",
        },
        next_attempt_at=utcnow(),
    )
    _enqueue_delivery(delivery.id)
    return delivery
