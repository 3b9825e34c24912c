"""The background jobs of scoring and qualification (S4), and how they are enqueued.

Every job takes ids (RQ's JSON serializer, never pickle), has a deterministic
id, a timeout and retries with backoff (``leads.queue.enqueue``), and is safe
to run twice: the work it does is read from the database (``PendingScore``
rows, ``WebhookDelivery`` rows), never from the job's arguments alone.

- ``score_leads(lead_ids)``: re-score those leads that are still pending
  (``leads.scorer``), then run the hooks for the leads that became sales-ready
  or qualified.
- ``sweep()``: the safety net, every ``SWEEP_SECONDS``: re-enqueues pending
  rows nobody has applied for a while (a lost job, a Redis restart), marks the
  leads whose time windows ran out (S4), and retries due webhook deliveries.
- ``deliver_webhook(delivery_id)``: one HMAC-signed POST.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import urllib.error
import urllib.request
from collections.abc import Iterable

from flask import current_app

from leads import scorer
from leads.db import transaction, utcnow
from leads.models import BackgroundTask, Lead, LeadScore, PendingScore, Webhook, WebhookDelivery
from leads.queue import enqueue, get_queue

log = logging.getLogger(__name__)

JOB_BATCH = 200  # leads per scoring job (PERF: many events per job, not one)
SWEEP_SECONDS = 15
STALE_SECONDS = 60  # a pending row older than this has probably lost its job
WEBHOOK_BACKOFF = [10, 60, 300, 1800, 7200]  # seconds before attempts 2..6
LEAD_QUALIFIED, LEAD_SALES_READY = "lead.qualified", "lead.sales_ready"
WEBHOOK_EVENTS = {
    LEAD_QUALIFIED: "A lead met qualification criteria",
    LEAD_SALES_READY: "A lead became sales-ready",
}


# --- Enqueueing ---------------------------------------------------------------


def enqueue_scoring(lead_ids: Iterable[int]) -> int:
    """After commit: one job per ``JOB_BATCH`` pending leads. The job id is made
    of the leads and their current tokens, so enqueueing the same pending state
    twice launches one job, and a newer cause a new one. Returns the job count."""
    ids = sorted(set(lead_ids))
    count = 0
    for start in range(0, len(ids), JOB_BATCH):
        chunk = ids[start : start + JOB_BATCH]
        tokens = (
            PendingScore.select(PendingScore.token)
            .where(PendingScore.lead.in_(chunk))
            .order_by(PendingScore.lead)
        )
        digest = hashlib.sha1(
            (",".join(map(str, chunk)) + "|" + ",".join(t for (t,) in tokens.tuples())).encode()
        ).hexdigest()[:20]
        enqueue("leads.jobs.score_leads", chunk, job_id=f"score-{digest}", timeout=300)
        count += 1
    return count


# --- Jobs ---------------------------------------------------------------------


def score_leads(lead_ids: list[int]) -> dict:
    """S4: re-score the still-pending ``lead_ids``; then the hooks (Q2, P3)."""
    outcome = scorer.rescore_pending(lead_ids)
    if outcome.qualified or outcome.sales_ready:
        leads_qualified(outcome.qualified, outcome.sales_ready)
    return {"scored": outcome.scored, "changed": outcome.changed, "moved": outcome.moved}


def sweep(now: dt.datetime | None = None, reschedule: bool = False) -> dict:
    """The safety net (S4): nothing stored is left unapplied for long."""
    now = now or utcnow()
    stale = now - dt.timedelta(seconds=STALE_SECONDS)
    expired = [
        lead_id
        for (lead_id,) in LeadScore.select(LeadScore.lead)
        .join(Lead)
        .where(LeadScore.expires_at.is_null(False) & (LeadScore.expires_at <= now) & (Lead.status == "open"))
        .distinct()
        .tuples()
    ]
    if expired:
        with transaction():
            scorer.mark_pending(expired, "time window ended")
            LeadScore.update(expires_at=None).where(
                LeadScore.lead.in_(expired) & (LeadScore.expires_at <= now)
            ).execute()
    lost = [
        lead_id
        for (lead_id,) in PendingScore.select(PendingScore.lead)
        .where(PendingScore.queued_at <= stale)
        .tuples()
    ]
    if lost:
        PendingScore.update(queued_at=now).where(PendingScore.lead.in_(lost)).execute()
    jobs = enqueue_scoring(set(expired) | set(lost))
    due = [
        delivery_id
        for (delivery_id,) in WebhookDelivery.select(WebhookDelivery.id)
        .where((WebhookDelivery.status == "pending") & (WebhookDelivery.next_attempt_at <= now))
        .tuples()
    ]
    for delivery_id in due:
        _enqueue_delivery(delivery_id)
    from routing.jobs import reroute_overdue, send_queued_emails

    reroute_overdue(now)  # R6: leads not accepted in time are routed again
    send_queued_emails()  # the outbox, when SMTP is configured
    if reschedule:
        schedule_sweeper()
    return {"expired": len(expired), "requeued": len(lost), "jobs": jobs, "webhooks": len(due)}


def schedule_sweeper() -> None:
    """Run ``sweep`` again in ``SWEEP_SECONDS`` (one scheduled entry, whatever the
    number of workers: its id is fixed). Workers run with the RQ scheduler."""
    get_queue().enqueue_in(
        dt.timedelta(seconds=SWEEP_SECONDS),
        "leads.jobs.sweep",
        kwargs={"reschedule": True},
        job_id="sweeper",
        job_timeout=120,
    )


# --- The "lead qualified" hook and webhooks -----------------------------------


def leads_qualified(qualified: list[int], sales_ready: list[int]) -> None:
    """Q2 follow-ups: a delivery per active webhook that wants the event, and the
    jobs configured for sales-ready leads (``SALES_READY_JOBS``, e.g. routing)."""
    events = [(LEAD_QUALIFIED, lead_id) for lead_id in qualified]
    events += [(LEAD_SALES_READY, lead_id) for lead_id in sales_ready]
    created = []
    hooks = list(Webhook.select().where(Webhook.active == True))  # noqa: E712
    with transaction():
        for hook in hooks:
            for event, lead_id in events:
                if event not in (hook.events or []):
                    continue
                key = f"{event}:{lead_id}"
                inserted = (
                    WebhookDelivery.insert(
                        webhook=hook.id,
                        key=key,
                        event=event,
                        payload=_payload(event, lead_id),
                        next_attempt_at=utcnow(),
                    )
                    .on_conflict_ignore()
                    .execute()
                )
                if inserted:
                    created.append(inserted)
    for delivery_id in created:
        _enqueue_delivery(delivery_id)
    for path in current_app.config.get("SALES_READY_JOBS", ()):
        for lead_id in sales_ready:
            enqueue(path, lead_id, job_id=f"{path.replace('.', '_')}-{lead_id}")  # RQ ids: no dots


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
        "leads.jobs.deliver_webhook",
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
    request = urllib.request.Request(
        hook.url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": "leadflow-webhooks",
            "X-Leadflow-Event": delivery.event,
            "X-Leadflow-Delivery": str(delivery.id),
            "X-Leadflow-Signature": sign(hook.secret, body),
        },
    )
    attempts = delivery.attempts + 1
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            status = response.status
    except urllib.error.HTTPError as error:
        status, problem = error.code, f"HTTP {error.code}"
    except (urllib.error.URLError, OSError) as error:
        status, problem = None, str(getattr(error, "reason", error))[:300]
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


# --- Publishing a model ---------------------------------------------------------


def start_rescore_all(title: str, user_id: int | None, cause: str) -> BackgroundTask:
    """S4 on publication: every open lead is marked pending (the audience is
    decided by the engine) under one task, whose progress bar the UI polls."""
    from leads import lifecycle

    with transaction():
        ids = [lead_id for (lead_id,) in Lead.select(Lead.id).where(Lead.status == lifecycle.OPEN).tuples()]
        task = BackgroundTask.create(
            kind="rescore",
            title=title,
            status="running" if ids else "done",
            total=len(ids),
            created_by=user_id,
            finished_at=None if ids else utcnow(),
        )
        scorer.mark_pending(ids, cause, task_id=task.id)
    enqueue_scoring(ids)
    return task


def rescore_records(cause: str, *, lead_ids=(), contact_ids=(), account_ids=()) -> set[int]:
    """S4: a scored field changed on these records: mark the open leads that read
    them and enqueue their scoring (nothing when no model is live and no criteria
    published: there is nothing a field could change)."""
    from leads.facts import open_leads_of
    from leads.models import QualificationCriteria, ScoringModel

    if not (
        ScoringModel.select().where(ScoringModel.status == "live").exists()
        or QualificationCriteria.select().where(QualificationCriteria.status == "published").exists()
    ):
        return set()
    touched = set(lead_ids) | open_leads_of(contact_ids=contact_ids, account_ids=account_ids)
    if touched:
        with transaction():
            scorer.mark_pending(touched, cause)
        enqueue_scoring(touched)
    return touched
