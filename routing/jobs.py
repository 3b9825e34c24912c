"""Routing jobs (R1, R6): take ids, reload rows, safe to run twice.

- ``route_lead(lead_id)``: the hook for sales-ready leads (``SALES_READY_JOBS``)
  and on demand: R2 tells the relationship owners, then the lead is routed.
- ``reroute_overdue()``: called by the sweeper (``leads.jobs.sweep``): leads not
  accepted within their rule's time limit leave their rep and are routed again.
- ``send_outbox(outbox_id)``: one queued email by SMTP, only when ``SMTP_HOST`` is set.
"""

from __future__ import annotations

import datetime as dt
import smtplib
from email.message import EmailMessage

from flask import current_app

from leads.db import utcnow
from routing import assign
from routing.models import Outbox


def route_lead(lead_id: int, force: bool = False) -> str:
    """R1/R2: notify the lead's relationship owners that it is sales-ready (once),
    then route it; returns what happened (assigned, unassigned, skipped, conflict)."""
    return assign.route_lead(lead_id, force=force, notify_owners=not force).status


def reroute_overdue(now: dt.datetime | None = None) -> int:
    """R6: take back every lead not accepted in time and enqueue its routing
    (excluding that rep); returns how many."""
    now = now or utcnow()
    count = 0
    for row in list(assign.overdue(now)):
        if assign.take_back_overdue(row.id, now):
            assign.reroute_later(row.lead_id, row.id)
            count += 1
    return count


def send_outbox(outbox_id: int) -> str:
    """Send one queued email by SMTP; without ``SMTP_HOST`` it stays queued."""
    host = current_app.config.get("SMTP_HOST")
    row = Outbox.get_or_none(Outbox.id == outbox_id)
    if row is None or row.status != "queued":
        return "nothing to do"
    if not host:
        return "queued (no SMTP_HOST)"
    message = EmailMessage()
    message["From"] = current_app.config.get("MAIL_FROM", "leadflow@localhost")
    message["To"], message["Subject"] = row.to, row.subject
    if row.reply_to:
        message["Reply-To"] = row.reply_to
    message.set_content(row.body)
    with smtplib.SMTP(host, int(current_app.config.get("SMTP_PORT", 25)), timeout=20) as smtp:
        smtp.send_message(message)
    Outbox.update(status="sent", sent_at=utcnow()).where(Outbox.id == row.id).execute()
    return "sent"


def send_queued_emails(limit: int = 100) -> int:
    """Enqueue a send job per queued email, only when ``SMTP_HOST`` is set
    (otherwise the outbox keeps them); returns how many were enqueued."""
    if not current_app.config.get("SMTP_HOST"):
        return 0
    from leads.queue import enqueue

    ids = [
        row_id
        for (row_id,) in Outbox.select(Outbox.id)
        .where(Outbox.status == "queued")
        .order_by(Outbox.id)
        .limit(limit)
        .tuples()
    ]
    for row_id in ids:
        enqueue("routing.jobs.send_outbox", row_id, job_id=f"outbox-{row_id}", timeout=60)
    return len(ids)
