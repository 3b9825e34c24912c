"""Records of lead routing (SPEC R1–R6): reps' profiles,
assignment rules, round-robin pointers and assignments (notifications and the
outbox live in ``leads.notify``). Schema: ``migrations/007_routing.py``.

"One live assignment per lead" is a database fact: a partial unique index on
``assignment(lead_id) WHERE ended_at IS NULL`` (SQLite and PostgreSQL), so two
workers routing the same lead can never both store one.
"""

from __future__ import annotations

import peewee as pw

from auth.models import User
from leads.base.db import BaseModel, JSONField, utcnow
from leads.records.models import Lead, ProductLine

DEFAULT_CAPACITY = 20


class RepProfile(BaseModel):
    """A sales rep's routing settings: how many open leads they can hold and
    when they are away (either end may be open)."""

    user = pw.ForeignKeyField(User, unique=True, backref="rep_profile", on_delete="CASCADE")
    capacity = pw.IntegerField(default=DEFAULT_CAPACITY)
    away_from = pw.DateTimeField(null=True)
    away_until = pw.DateTimeField(null=True)
    updated_at = pw.DateTimeField(default=utcnow)


class RepProductLine(BaseModel):
    """R3: a product line a rep sells."""

    rep = pw.ForeignKeyField(User, backref="product_line_links", on_delete="CASCADE")
    product_line = pw.ForeignKeyField(ProductLine, on_delete="CASCADE")

    class Meta:
        table_name = "rep_product_line"
        indexes = ((("rep", "product_line"), True), (("product_line",), False))


class AssignmentRule(BaseModel):
    """R1/R4: one rule of the ordered list; ``definition`` is
    ``routing.router.Rule.to_dict`` (without id, name and active, kept here)."""

    position = pw.IntegerField(index=True)
    name = pw.CharField(max_length=200)
    enabled = pw.BooleanField(default=True)
    definition = JSONField(default=dict)
    accept_within_hours = pw.IntegerField(null=True)
    created_at = pw.DateTimeField(default=utcnow)
    updated_at = pw.DateTimeField(default=utcnow)


class PoolPointer(BaseModel):
    """R3: when ``rep`` last got a lead from the pool ``pool_key`` (routing or by hand)."""

    pool_key = pw.CharField(max_length=100)
    rep = pw.ForeignKeyField(User, on_delete="CASCADE")
    last_assigned_at = pw.DateTimeField()

    class Meta:
        table_name = "pool_pointer"
        indexes = ((("pool_key", "rep"), True),)


class Assignment(BaseModel):
    """One routing decision or hand-over of a lead. A row with a rep and no
    ``ended_at`` is the lead's live assignment (at most one, by index); a
    decision that found nobody is stored ended, for its reason and trace."""

    lead = pw.ForeignKeyField(Lead, backref="assignments", on_delete="CASCADE")
    rep = pw.ForeignKeyField(User, null=True, on_delete="CASCADE")
    rule = pw.ForeignKeyField(AssignmentRule, null=True, on_delete="SET NULL")
    assigned_by = pw.ForeignKeyField(User, null=True, on_delete="SET NULL")  # None: the router
    decision = JSONField(default=dict)
    reason = pw.CharField(max_length=200)
    created_at = pw.DateTimeField(default=utcnow)
    due_at = pw.DateTimeField(null=True)  # R6: to accept before, else re-routed
    accepted_at = pw.DateTimeField(null=True)
    declined_at = pw.DateTimeField(null=True)
    ended_at = pw.DateTimeField(null=True)
    end_reason = pw.CharField(max_length=300, null=True)

    class Meta:
        indexes = (
            (("lead", "created_at"), False),
            (("rep", "ended_at"), False),
            (("due_at",), False),
        )


class RuleChange(BaseModel):
    """R4: a change to the rule set worth keeping after the rule is gone (its
    removal): which rule it was (name, place and definition, as they were), who
    did it and when."""

    rule_id = pw.IntegerField()
    action = pw.CharField(max_length=20)
    name = pw.CharField(max_length=200)
    position = pw.IntegerField(null=True)
    definition = JSONField(default=dict)
    by = pw.ForeignKeyField(User, null=True, on_delete="SET NULL")
    created_at = pw.DateTimeField(default=utcnow)

    class Meta:
        table_name = "rule_change"
        indexes = ((("created_at",), False),)
