"""CRM records: product lines, campaigns, accounts, contacts, leads,
interactions, the lead's history (P7) and the configurable qualification fields."""

from __future__ import annotations

import peewee as pw

from auth.models import Team, User
from leads import lifecycle
from leads.db import BaseModel, JSONField, utcnow


class ProductLine(BaseModel):
    name = pw.CharField(max_length=100, unique=True)
    code = pw.CharField(max_length=20, unique=True)

    def __str__(self):
        return self.name


class Campaign(BaseModel):
    """A marketing campaign (G2): an audience ``segment`` (a ``leads.conditions``
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
    updated_at = pw.DateTimeField(default=utcnow)

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
        )

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip() or (self.email or f"Lead {self.id}")

    @property
    def state(self) -> lifecycle.LeadState:
        """The process-relevant part of this row, for ``leads.lifecycle``."""
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
            (("contact", "occurred_at"), False),
            (("lead", "occurred_at"), False),
        )


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
        indexes = ((("lead", "created_at"), False),)


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


class ScoringModel(BaseModel):
    """S1: a named scoring model; ``definition`` is ``leads.scoring.ScoringModel.to_dict``
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
    """Q1–Q3, Q6: ``definition`` is ``leads.qualification.Criteria.to_dict``
    without id, name and status."""

    name = pw.CharField(max_length=120, unique=True)
    status = pw.CharField(max_length=20, default="draft")
    definition = JSONField(default=dict)
    created_by = pw.ForeignKeyField(User, null=True, on_delete="SET NULL")
    created_at = pw.DateTimeField(default=utcnow)
    updated_at = pw.DateTimeField(default=utcnow)
    published_at = pw.DateTimeField(null=True)


class Webhook(BaseModel):
    """An outgoing webhook (Q2 follow-ups): ``events`` it wants, signed with ``secret`` (HMAC-SHA256)."""

    name = pw.CharField(max_length=120)
    url = pw.CharField(max_length=500)
    secret = pw.CharField(max_length=100)
    events = JSONField(default=list)
    active = pw.BooleanField(default=True)
    created_at = pw.DateTimeField(default=utcnow)


class WebhookDelivery(BaseModel):
    """One event for one webhook, retried with backoff until delivered; ``key``
    makes the same event for the same webhook one delivery."""

    webhook = pw.ForeignKeyField(Webhook, backref="deliveries", on_delete="CASCADE")
    key = pw.CharField(max_length=200)
    event = pw.CharField(max_length=40)
    payload = JSONField(default=dict)
    status = pw.CharField(max_length=20, default="pending")  # pending, delivered, failed
    attempts = pw.IntegerField(default=0)
    last_error = pw.CharField(max_length=300, null=True)
    next_attempt_at = pw.DateTimeField(default=utcnow)
    created_at = pw.DateTimeField(default=utcnow)
    delivered_at = pw.DateTimeField(null=True)

    class Meta:
        indexes = (
            (("webhook", "key"), True),
            (("status", "next_attempt_at"), False),
        )


def all_models() -> list[type[BaseModel]]:
    """Every table, in dependency order (tests truncate in reverse)."""
    from auth.models import ApiToken, UserSession

    return [
        Team,
        User,
        UserSession,
        ApiToken,
        ProductLine,
        Campaign,
        Account,
        Contact,
        Lead,
        Interaction,
        LeadHistory,
        QualificationField,
        BackgroundTask,
        ScoringModel,
        LeadScore,
        ScoreChange,
        PendingScore,
        QualificationCriteria,
        Webhook,
        WebhookDelivery,
    ]
