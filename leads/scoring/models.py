"""Scoring models, leads' scores and their history, pending re-scores and qualification criteria (S1–S6, Q1–Q6)."""

from __future__ import annotations

import peewee as pw

from auth.models import User
from leads.base.db import BaseModel, JSONField, utcnow
from leads.base.models import BackgroundTask
from leads.records.models import Lead


class ScoringModel(BaseModel):
    """S1: a named scoring model; ``definition`` is ``leads.core.scoring.ScoringModel.to_dict``
    without id and name. ``version`` grows on every save, so jobs and caches can
    tell an old definition from the current one."""

    name = pw.CharField(max_length=120, unique=True)
    description = pw.TextField(default="")
    status = pw.CharField(max_length=20, default="draft")
    definition = JSONField(default=dict)
    version = pw.IntegerField(default=1)
    created_by = pw.ForeignKeyField(User, null=True, on_delete="SET NULL")
    created_at = pw.DateTimeField(default=utcnow)
    updated_at = pw.DateTimeField(default=utcnow)
    published_at = pw.DateTimeField(null=True)


class LeadScore(BaseModel):
    """S6: a lead's current score in one model, with its breakdown. Recomputed
    from the stored events and upserted, never incremented (S4). A lead outside
    the model's audience has no row."""

    lead = pw.ForeignKeyField(Lead, backref="scores", on_delete="CASCADE")
    model = pw.ForeignKeyField(ScoringModel, backref="scores", on_delete="CASCADE")
    score = pw.IntegerField()
    grade = pw.CharField(max_length=20, null=True)
    breakdown = JSONField(default=list)
    sales_ready = pw.BooleanField(default=False)
    expires_at = pw.DateTimeField(null=True)
    computed_at = pw.DateTimeField(default=utcnow)

    class Meta:
        indexes = (
            (("lead", "model"), True),
            (("model", "score"), False),
            (("expires_at",), False),
        )


class ScoreChange(BaseModel):
    """S6: the history of a lead's score in a model: when, why, old → new."""

    lead = pw.ForeignKeyField(Lead, on_delete="CASCADE")
    model = pw.ForeignKeyField(ScoringModel, on_delete="CASCADE")
    old_score = pw.IntegerField(null=True)
    new_score = pw.IntegerField(null=True)
    cause = pw.CharField(max_length=200)
    created_at = pw.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("lead", "created_at"), False),)


class PendingScore(BaseModel):
    """S4: a lead whose scores must be recomputed. Written in the same transaction
    as what caused it (an event, a field change, a publication); a job deletes
    it once applied, only if ``token`` is still the one it read, so a cause that
    arrives meanwhile is never lost. The sweeper re-enqueues old rows."""

    lead = pw.ForeignKeyField(Lead, primary_key=True, on_delete="CASCADE")
    token = pw.CharField(max_length=32)
    cause = pw.CharField(max_length=200)
    task = pw.ForeignKeyField(BackgroundTask, null=True, on_delete="SET NULL")
    queued_at = pw.DateTimeField(default=utcnow, index=True)


class QualificationCriteria(BaseModel):
    """Q1–Q3, Q6: ``definition`` is ``leads.core.qualification.Criteria.to_dict``
    without id, name and status."""

    name = pw.CharField(max_length=120, unique=True)
    status = pw.CharField(max_length=20, default="draft")
    definition = JSONField(default=dict)
    created_by = pw.ForeignKeyField(User, null=True, on_delete="SET NULL")
    created_at = pw.DateTimeField(default=utcnow)
    updated_at = pw.DateTimeField(default=utcnow)
    published_at = pw.DateTimeField(null=True)
