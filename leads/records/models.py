"""CRM records: product lines, campaigns, accounts, contacts, leads,
interactions, the lead's history (P7) and the configurable qualification fields."""

from __future__ import annotations

import peewee as pw

from auth.models import Team, User
from leads.base.db import BaseModel, JSONField, utcnow
from leads.core import lifecycle


class ProductLine(BaseModel):
    name = pw.CharField(max_length=100, unique=True)
    code = pw.CharField(max_length=20, unique=True)

    def __str__(self):
        return self.name


class Campaign(BaseModel):
    """A marketing campaign (G2): an audience ``segment`` (a ``leads.core.conditions``
    group over lead, contact and account; None: every contact with an email) and
    a message; draft → launched → completed. Extra columns: migration 008."""

    name = pw.CharField(max_length=150, unique=True)
    product_line = pw.ForeignKeyField(ProductLine, null=True, on_delete="SET NULL")
    status = pw.CharField(max_length=20, default="draft")
    segment = JSONField(null=True)
    subject = pw.CharField(max_length=200, default="")
    body = pw.TextField(default="")
    launched_by = pw.ForeignKeyField(User, null=True, on_delete="SET NULL")
    launched_at = pw.DateTimeField(null=True)
    launch_task = pw.IntegerField(null=True)  # the BackgroundTask of the launch (progress bar)
    completed_at = pw.DateTimeField(null=True)
    created_at = pw.DateTimeField(default=utcnow)

    def __str__(self):
        return self.name


class Account(BaseModel):
    name = pw.CharField(max_length=200)
    domain = pw.CharField(max_length=200, null=True, index=True)
    industry = pw.CharField(max_length=100, null=True)
    employee_count = pw.IntegerField(null=True)
    annual_revenue = pw.BigIntegerField(null=True)
    country = pw.CharField(max_length=2, null=True)
    owner = pw.ForeignKeyField(User, null=True, backref="accounts", on_delete="SET NULL")
    created_at = pw.DateTimeField(default=utcnow)
    updated_at = pw.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("name",), False),)

    def __str__(self):
        return self.name


class Contact(BaseModel):
    first_name = pw.CharField(max_length=100, default="")
    last_name = pw.CharField(max_length=100, default="")
    email = pw.CharField(max_length=254, null=True, index=True)
    phone = pw.CharField(max_length=40, null=True)
    job_title = pw.CharField(max_length=150, null=True)
    country = pw.CharField(max_length=2, null=True)
    account = pw.ForeignKeyField(Account, null=True, backref="contacts", on_delete="SET NULL")
    owner = pw.ForeignKeyField(User, null=True, backref="contacts", on_delete="SET NULL")
    created_at = pw.DateTimeField(default=utcnow)
    updated_at = pw.DateTimeField(default=utcnow)

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip() or (self.email or f"Contact {self.id}")

    def __str__(self):
        return self.name


class Lead(BaseModel):
    """One expressed interest (E1: contact and account are optional; E2: a contact
    may hold several open leads, one per campaign or product line)."""

    topic = pw.CharField(max_length=200)
    first_name = pw.CharField(max_length=100, default="")
    last_name = pw.CharField(max_length=100, default="")
    email = pw.CharField(max_length=254, null=True)
    phone = pw.CharField(max_length=40, null=True)
    company = pw.CharField(max_length=200, null=True)
    job_title = pw.CharField(max_length=150, null=True)
    country = pw.CharField(max_length=2, null=True)
    source = pw.CharField(max_length=50, default="manual")
    contact = pw.ForeignKeyField(Contact, null=True, backref="leads", on_delete="SET NULL")
    account = pw.ForeignKeyField(Account, null=True, backref="leads", on_delete="SET NULL")
    campaign = pw.ForeignKeyField(Campaign, null=True, backref="leads", on_delete="SET NULL")
    product_line = pw.ForeignKeyField(ProductLine, null=True, backref="leads", on_delete="SET NULL")
    team = pw.ForeignKeyField(Team, null=True, backref="leads", on_delete="SET NULL")
    status = pw.CharField(max_length=20, default=lifecycle.OPEN)
    status_reason = pw.CharField(max_length=30, default=lifecycle.REASON_NEW)
    stage = pw.SmallIntegerField(default=lifecycle.INQUIRY)
    sales_ready = pw.BooleanField(default=False)
    ready_for_tp = pw.BooleanField(default=False)
    tp_accepted = pw.BooleanField(default=False)
    sales_accepted = pw.BooleanField(default=False)
    owner = pw.ForeignKeyField(User, null=True, backref="owned_leads", on_delete="SET NULL")
    teleprospector = pw.ForeignKeyField(User, null=True, backref="prospected_leads", on_delete="SET NULL")
    qualification = JSONField(default=dict)
    assigned_at = pw.DateTimeField(null=True)
    created_at = pw.DateTimeField(default=utcnow)
    updated_at = pw.DateTimeField(default=utcnow, index=True)  # 011: the sales rollup reads changes by it

    class Meta:
        # Every list filter is indexed together with the default sort column.
        indexes = (
            (("created_at",), False),
            (("stage", "created_at"), False),
            (("status", "created_at"), False),
            (("status", "stage", "product_line", "created_at"), False),  # migration 003
            (("owner", "status", "created_at"), False),
            (("product_line", "created_at"), False),
            (("team", "created_at"), False),
            (("email",), False),
            (("last_name", "first_name"), False),
            (("company",), False),
            (("created_at", "source", "campaign", "product_line"), False),  # migration 016: D2 per week
        )

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip() or (self.email or f"Lead {self.id}")

    @property
    def tel_uri(self) -> str | None:
        """The phone as a ``tel:`` link target (a leading + and the digits, what
        dialers read), or None without a phone that has digits."""
        digits = "".join(char for char in self.phone or "" if char.isdigit())
        if not digits:
            return None
        return f"tel:{'+' if (self.phone or '').lstrip().startswith('+') else ''}{digits}"

    @property
    def state(self) -> lifecycle.LeadState:
        """The process-relevant part of this row, for ``leads.core.lifecycle``."""
        return lifecycle.LeadState(
            stage=self.stage,
            status=self.status,
            status_reason=self.status_reason,
            sales_ready=self.sales_ready,
            ready_for_tp=self.ready_for_tp,
            tp_accepted=self.tp_accepted,
            sales_accepted=self.sales_accepted,
            owner_id=self.owner_id,
            teleprospector_id=self.teleprospector_id,
            qualification=dict(self.qualification or {}),
        )

    @property
    def stage_label(self) -> str:
        return lifecycle.display_stage(self.state)

    @property
    def status_reason_label(self) -> str:
        return lifecycle.STATUS_REASONS.get(self.status_reason, self.status_reason)

    def __str__(self):
        return self.name


class Interaction(BaseModel):
    """Something a person did (E3: ``(source, external_id)`` is unique, so the
    same event posted twice is stored once)."""

    contact = pw.ForeignKeyField(Contact, null=True, backref="interactions", on_delete="CASCADE")
    lead = pw.ForeignKeyField(Lead, null=True, backref="interactions", on_delete="CASCADE")
    type = pw.CharField(max_length=50)
    occurred_at = pw.DateTimeField(default=utcnow)
    properties = JSONField(default=dict)
    source = pw.CharField(max_length=100, default="api")
    external_id = pw.CharField(max_length=200)
    created_at = pw.DateTimeField(default=utcnow)

    class Meta:
        indexes = (
            (("source", "external_id"), True),
            (("contact", "occurred_at", "type"), False),  # migration 018: D2 reads the type from the index
            (("lead", "occurred_at", "type"), False),
        )


class CustomInteractionType(BaseModel):
    """An interaction type an admin registered beside the built-in ones
    (``leads.core.interactions``): integrations may post it, the scoring builder
    offers it under ``label``. Migration 013."""

    name = pw.CharField(max_length=50, unique=True)
    label = pw.CharField(max_length=80)
    created_by = pw.ForeignKeyField(User, null=True, on_delete="SET NULL")
    created_at = pw.DateTimeField(default=utcnow)

    class Meta:
        table_name = "custom_interaction_type"


class LeadHistory(BaseModel):
    """The lead's timeline (P7): what changed, from, to, by whom or what rule, when."""

    lead = pw.ForeignKeyField(Lead, backref="history", on_delete="CASCADE")
    kind = pw.CharField(max_length=30)
    old_value = pw.CharField(max_length=100, null=True)
    new_value = pw.CharField(max_length=100, null=True)
    actor = pw.ForeignKeyField(User, null=True, on_delete="SET NULL")
    via = pw.CharField(max_length=200, null=True)
    note = pw.TextField(null=True)
    created_at = pw.DateTimeField(default=utcnow)

    class Meta:
        indexes = (
            (("lead", "created_at"), False),
            (("kind", "new_value", "created_at", "lead"), False),  # migrations 016, 018: D2's events per week
        )
