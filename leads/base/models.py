"""Long work run by jobs (re-scoring after a publication, imports, campaign launches) and its progress."""

from __future__ import annotations

import peewee as pw

from auth.models import User
from leads.base.db import BaseModel, JSONField, utcnow


class BackgroundTask(BaseModel):
    """Long work run by jobs (re-scoring after a publication, imports) and its
    progress, for the progress bar: ``done`` of ``total`` items."""

    kind = pw.CharField(max_length=40)
    title = pw.CharField(max_length=200)
    status = pw.CharField(max_length=20, default="queued")  # queued, running, done, failed
    total = pw.IntegerField(default=0)
    done = pw.IntegerField(default=0)
    detail = JSONField(default=dict)
    created_by = pw.ForeignKeyField(User, null=True, on_delete="SET NULL")
    created_at = pw.DateTimeField(default=utcnow)
    finished_at = pw.DateTimeField(null=True)

    class Meta:
        indexes = ((("kind", "created_at"), False),)
