"""Intake records (C3–C6, M1–M5): matching strategies, the match-key index,
capture sources and the rules that create leads automatically."""

from __future__ import annotations

import peewee as pw

from leads.base.db import BaseModel, JSONField, utcnow
from leads.core import matching
from leads.records.models import Campaign, ProductLine

FORM, EVENT, WEBHOOK = "form", "event", "webhook"
SOURCE_KINDS = {
    FORM: "Landing-page form",
    EVENT: "Event registration",
    WEBHOOK: "External lead-gen webhook",
}


class MatchingStrategyRecord(BaseModel):
    """M1/M3: a stored matching strategy. One default per entity (a partial
    unique index, migration 005)."""

    name = pw.CharField(max_length=120, unique=True)
    entity = pw.CharField(max_length=20)
    fields = JSONField(default=list)
    is_default = pw.BooleanField(default=False)
    created_at = pw.DateTimeField(default=utcnow)
    updated_at = pw.DateTimeField(default=utcnow)

    class Meta:
        table_name = "matching_strategy"

    def to_core(self) -> matching.MatchingStrategy:
        """The pure ``matching.MatchingStrategy`` for this row."""
        return matching.MatchingStrategy(self.id, self.name, self.entity, tuple(self.fields), self.is_default)


class MatchKey(BaseModel):
    """The index behind ``match_keys.DbIndex``: one record's normalised key for one
    strategy. Unique per (entity, strategy, key): the first record to claim a
    key owns it, so two concurrent submissions cannot both create."""

    entity = pw.CharField(max_length=20)
    strategy = pw.CharField(max_length=40)  # str(strategy id): stored ids and built-in ones
    key = pw.CharField(max_length=300)
    record_id = pw.IntegerField()

    class Meta:
        table_name = "match_key"
        indexes = (
            (("entity", "strategy", "key"), True),
            (("entity", "record_id"), False),
        )


class MatchKeyWatermark(BaseModel):
    """Per entity, the highest record id whose keys are in ``match_key``: records
    created by other paths (by hand, C1) are indexed on the next intake."""

    entity = pw.CharField(max_length=20, primary_key=True)
    last_id = pw.IntegerField(default=0)

    class Meta:
        table_name = "match_key_watermark"


class CaptureSource(BaseModel):
    """C3–C5: a public form, event registration or lead-gen webhook. ``key`` is
    the unguessable part of its public URL."""

    name = pw.CharField(max_length=120, unique=True)
    key = pw.CharField(max_length=64, unique=True)
    kind = pw.CharField(max_length=20, default=FORM)
    event_id = pw.CharField(max_length=100, null=True)
    field_mapping = JSONField(default=dict)  # webhook: their field -> our field
    contact_strategies = JSONField(default=list)  # strategy ids in order; empty: the default
    lead_strategies = JSONField(default=list)
    campaign = pw.ForeignKeyField(Campaign, null=True, on_delete="SET NULL")
    product_line = pw.ForeignKeyField(ProductLine, null=True, on_delete="SET NULL")
    creates_lead = pw.BooleanField(default=True)
    update_policy = pw.CharField(max_length=20, default=matching.FILL_EMPTY)
    thank_you_url = pw.CharField(max_length=500, null=True)
    active = pw.BooleanField(default=True)
    created_at = pw.DateTimeField(default=utcnow)
    updated_at = pw.DateTimeField(default=utcnow)

    class Meta:
        table_name = "capture_source"

    @property
    def lead_source(self) -> str:
        """What ``Lead.source`` says for leads from here (the form id of M2)."""
        return f"capture:{self.id}"

    @property
    def kind_label(self) -> str:
        return SOURCE_KINDS.get(self.kind, self.kind)


class AutoLeadRule(BaseModel):
    """C6: when a contact interacts with ``campaign`` (or ``product_line``) and
    has no open lead for it, create one."""

    name = pw.CharField(max_length=120, unique=True)
    campaign = pw.ForeignKeyField(Campaign, null=True, on_delete="CASCADE")
    product_line = pw.ForeignKeyField(ProductLine, null=True, on_delete="CASCADE")
    interaction_types = JSONField(default=list)  # empty: any type
    active = pw.BooleanField(default=True)
    created_at = pw.DateTimeField(default=utcnow)

    class Meta:
        table_name = "auto_lead_rule"
