"""The configurable qualification fields of stage 4 (P5)."""

from __future__ import annotations

import peewee as pw

from leads.base.db import BaseModel, JSONField


class QualificationField(BaseModel):
    """One field of the teleprospector's qualification form (P5), configurable by an admin."""

    KINDS = {"text": "Short text", "textarea": "Long text", "select": "Choice", "yesno": "Yes / no"}

    key = pw.CharField(max_length=40, unique=True)
    label = pw.CharField(max_length=100)
    kind = pw.CharField(max_length=20, default="text")
    choices = JSONField(default=list)
    required = pw.BooleanField(default=False)
    position = pw.IntegerField(default=0)
    active = pw.BooleanField(default=True)
