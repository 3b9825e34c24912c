"""Sending the outbox (R8): one job per queued email, only when ``SMTP_HOST``
is set (otherwise the emails stay in the outbox, visible to admins)."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage

from flask import current_app

from leads.base.db import utcnow
from leads.base.queue import enqueue
from leads.notify.models import Outbox


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
    ids = [
        row_id
        for (row_id,) in Outbox.select(Outbox.id)
        .where(Outbox.status == "queued")
        .order_by(Outbox.id)
        .limit(limit)
        .tuples()
    ]
    for row_id in ids:
        enqueue("leads.notify.jobs.send_outbox", row_id, job_id=f"outbox-{row_id}", timeout=60)
    return len(ids)


def sweep_outbox(sender=None, **_) -> dict:
    """The sweeper's turn: send what waits in the outbox (with SMTP configured)."""
    return {"emails": send_queued_emails()}
