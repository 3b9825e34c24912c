"""Signed webhook deliveries (Q2 follow-ups): which events make a delivery,
one HMAC-signed POST per delivery, retried with backoff until delivered.

Connected to the domain's signals at app set-up (``connect``): a lead that
meets qualification criteria or becomes sales-ready, by the scoring job or by
a person through any door, makes one delivery per webhook that wants it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging

from flask import current_app

from leads.base import signals
from leads.base.db import on_commit, transaction, utcnow
from leads.base.queue import enqueue
from leads.records.models import Lead
from leads.webhooks import targets
from leads.webhooks.models import Webhook, WebhookDelivery

log = logging.getLogger(__name__)

WEBHOOK_BACKOFF = [10, 60, 300, 1800, 7200]  # seconds before attempts 2..6
LEAD_QUALIFIED, LEAD_SALES_READY = "lead.qualified", "lead.sales_ready"
WEBHOOK_EVENTS = {
    LEAD_QUALIFIED: "A lead met qualification criteria",
    LEAD_SALES_READY: "A lead became sales-ready",
}


def create_deliveries(events: list[tuple[str, int]]) -> list[int]:
    """A delivery per active webhook that wants each ``(event, lead_id)``, once
    per webhook and event (a unique key); enqueued after commit. Returns the
    new deliveries' ids."""
    hooks = [hook for hook in Webhook.select().where(Webhook.active == True)]  # noqa: E712
    wanted = [(hook, event, lead_id) for hook in hooks for event, lead_id in events if event in (hook.events or [])]
    created = []
    with transaction():
        for hook, event, lead_id in wanted:
            inserted = (
                WebhookDelivery.insert(
                    webhook=hook.id,
                    key=f"{event}:{lead_id}",
                    event=event,
                    payload=_payload(event, lead_id),
                    next_attempt_at=utcnow(),
                )
                .on_conflict_ignore()
                .execute()
            )
            if inserted:
                created.append(inserted)
        on_commit(lambda: [_enqueue_delivery(delivery_id) for delivery_id in created])
    return created


def on_leads_qualified(sender=None, *, qualified=(), sales_ready=(), **_) -> None:
    """Q2: a lead met qualification criteria, or became sales-ready by them."""
    create_deliveries(
        [(LEAD_QUALIFIED, lead_id) for lead_id in qualified]
        + [(LEAD_SALES_READY, lead_id) for lead_id in sales_ready]
    )


def on_action_done(sender=None, *, lead, before, **_) -> None:
    """A lead became sales-ready by a person or an integration (any door)."""
    if lead.sales_ready and not before.sales_ready:
        create_deliveries([(LEAD_SALES_READY, lead.id)])


def due_deliveries(sender=None, *, now, **_) -> dict:
    """The sweeper's turn: enqueue the deliveries whose next attempt is due."""
    due = [
        delivery_id
        for (delivery_id,) in WebhookDelivery.select(WebhookDelivery.id)
        .where((WebhookDelivery.status == "pending") & (WebhookDelivery.next_attempt_at <= now))
        .tuples()
    ]
    for delivery_id in due:
        _enqueue_delivery(delivery_id)
    return {"webhooks": len(due)}


def connect() -> None:
    """Connect the webhooks to the domain's signals (once, at app set-up)."""
    signals.leads_qualified.connect(on_leads_qualified, weak=False)
    signals.action_done.connect(on_action_done, weak=False)
    signals.sweep_due.connect(due_deliveries, weak=False)


def _payload(event: str, lead_id: int) -> dict:
    lead = Lead.get_by_id(lead_id)
    return {
        "event": event,
        "lead": {
            "id": lead.id,
            "email": lead.email,
            "name": lead.name,
            "stage": lead.stage,
            "status": lead.status,
            "status_reason": lead.status_reason,
            "sales_ready": lead.sales_ready,
        },
        "at": utcnow().isoformat() + "Z",
    }


def _enqueue_delivery(delivery_id: int) -> None:
    delivery = WebhookDelivery.get_by_id(delivery_id)
    enqueue(
        "leads.webhooks.delivery.deliver_webhook",
        delivery_id,
        job_id=f"webhook-{delivery_id}-{delivery.attempts}",
        timeout=30,
    )


def sign(secret: str, body: bytes) -> str:
    """The signature header value: HMAC-SHA256 of the exact body with the webhook's secret."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def deliver_webhook(delivery_id: int) -> str:
    """POST one delivery, signed; on failure schedule the next attempt with backoff
    (the sweeper enqueues it when due), until the attempts run out."""
    delivery = WebhookDelivery.get_or_none(WebhookDelivery.id == delivery_id)
    if delivery is None or delivery.status != "pending":
        return "nothing to do"
    hook = delivery.webhook
    body = json.dumps(delivery.payload, sort_keys=True).encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "leadflow-webhooks",
        "X-Leadflow-Event": delivery.event,
        "X-Leadflow-Delivery": str(delivery.id),
        "X-Leadflow-Signature": sign(hook.secret, body),
    }
    attempts = delivery.attempts + 1
    status, problem = _post(hook, delivery, body, headers)
    if status is not None and 200 <= status < 300:
        WebhookDelivery.update(
            status="delivered", attempts=attempts, delivered_at=utcnow(), last_error=None
        ).where(WebhookDelivery.id == delivery.id).execute()
        return "delivered"
    if attempts > len(WEBHOOK_BACKOFF):
        WebhookDelivery.update(status="failed", attempts=attempts, last_error=problem).where(
            WebhookDelivery.id == delivery.id
        ).execute()
        return "failed"
    wait = dt.timedelta(seconds=WEBHOOK_BACKOFF[attempts - 1])
    WebhookDelivery.update(attempts=attempts, last_error=problem, next_attempt_at=utcnow() + wait).where(
        WebhookDelivery.id == delivery.id
    ).execute()
    return "retry later"


UNREACHABLE = "The target could not be reached."


def _post(hook: Webhook, delivery: WebhookDelivery, body: bytes, headers: dict) -> tuple[int | None, str | None]:
    """The HTTP status (or None) and what the delivery page may say about a
    failure: the status, a refused address, or a generic "could not be
    reached" (G1: the page is no port scanner); the detail goes to the log."""
    try:
        status = targets.post(
            hook.url,
            body,
            headers,
            timeout=10,
            allow_private=bool(current_app.config.get("WEBHOOK_ALLOW_PRIVATE_TARGETS")),
        )
    except targets.TargetRefused as refused:
        log.warning("webhook %s delivery %s refused: %s", hook.id, delivery.id, refused.reason)
        return None, refused.reason
    except OSError as error:
        log.warning("webhook %s delivery %s could not reach %s: %s", hook.id, delivery.id, hook.url, error)
        return None, UNREACHABLE
    if 300 <= status < 400:
        return status, f"HTTP {status} (redirects are not followed)"
    return status, f"HTTP {status}"
