"""Saved views of the lead list (W5). The schema is ``migrations/012_saved_views.py``."""

from __future__ import annotations

import peewee as pw

from auth.models import Team, User
from leads.base.db import BaseModel, JSONField, utcnow


class SavedView(BaseModel):
    """A named lead-list state (search, filters, sort, columns) kept by its
    owner; a manager may share it with a team, whose members then see it too.

    ``filters`` holds the list's query arguments other than the sort and the
    columns (as ``ListParams.to_query_args`` gives them, the page left out)."""

    owner = pw.ForeignKeyField(User, backref="saved_views", on_delete="CASCADE")
    name = pw.CharField(max_length=80)
    filters = JSONField(default=dict)
    sort = pw.CharField(max_length=40, default="")
    columns = JSONField(default=list)
    team = pw.ForeignKeyField(Team, null=True, backref="shared_views", on_delete="SET NULL")
    created_at = pw.DateTimeField(default=utcnow)
    updated_at = pw.DateTimeField(default=utcnow)

    class Meta:
        indexes = (
            (("owner", "name"), True),  # one name per owner: saving again under it replaces
            (("team",), False),
        )
