"""An activity on a lead, a contact or an account (W1): a note, a logged call or a task. It keeps its
author and time; an edit or a deletion keeps who and when (a deleted one stays
stored, out of the timeline). A note or call points at the interaction it was
also recorded as, so scoring models count it (S2)."""

from __future__ import annotations

import peewee as pw

from auth.models import User
from leads.base.db import BaseModel, utcnow
from leads.records.models import Account, Contact, Interaction, Lead


class Activity(BaseModel):
    # Exactly one of lead, contact and account (the service keeps it; PostgreSQL checks it).
    lead = pw.ForeignKeyField(Lead, null=True, backref="activities", on_delete="CASCADE")
    contact = pw.ForeignKeyField(Contact, null=True, backref="activities", on_delete="CASCADE")
    account = pw.ForeignKeyField(Account, null=True, backref="activities", on_delete="CASCADE")
    kind = pw.CharField(max_length=10)  # leads.core.activities.KINDS
    author = pw.ForeignKeyField(User, null=True, backref="+", on_delete="SET NULL")
    body = pw.TextField(default="")  # the note, or the call's note
    outcome = pw.CharField(max_length=20, null=True)  # calls
    duration_minutes = pw.IntegerField(null=True)  # calls
    title = pw.CharField(max_length=200, null=True)  # tasks
    due_at = pw.DateTimeField(null=True)  # tasks
    assignee = pw.ForeignKeyField(User, null=True, backref="+", on_delete="SET NULL")  # tasks
    done = pw.BooleanField(default=False)  # tasks
    interaction = pw.ForeignKeyField(Interaction, null=True, backref="+", on_delete="SET NULL")
    created_at = pw.DateTimeField(default=utcnow)
    edited_at = pw.DateTimeField(null=True)
    edited_by = pw.ForeignKeyField(User, null=True, backref="+", on_delete="SET NULL")
    deleted_at = pw.DateTimeField(null=True)
    deleted_by = pw.ForeignKeyField(User, null=True, backref="+", on_delete="SET NULL")

    class Meta:
        indexes = ((("lead", "created_at"), False),)
