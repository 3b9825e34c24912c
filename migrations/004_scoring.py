"""S1–S6, Q1–Q6: scoring models, lead scores and their history, pending
re-scores, qualification criteria, background tasks (progress bars) and
outgoing webhooks."""

import peewee as pw
from peewee_migrate import Migrator


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    orm = migrator.orm

    @migrator.create_model
    class BackgroundTask(pw.Model):
        id = pw.AutoField()
        kind = pw.CharField(max_length=40)
        title = pw.CharField(max_length=200)
        status = pw.CharField(max_length=20, default="queued")
        total = pw.IntegerField(default=0)
        done = pw.IntegerField(default=0)
        detail = pw.TextField()
        created_by = pw.ForeignKeyField(
            column_name="created_by_id", field="id", model=orm["user"], null=True, on_delete="SET NULL"
        )
        created_at = pw.DateTimeField()
        finished_at = pw.DateTimeField(null=True)

        class Meta:
            table_name = "background_task"
            indexes = [(("kind", "created_at"), False)]

    @migrator.create_model
    class ScoringModel(pw.Model):
        id = pw.AutoField()
        name = pw.CharField(max_length=120, unique=True)
        description = pw.TextField(default="")
        status = pw.CharField(max_length=20, default="draft")
        definition = pw.TextField()
        version = pw.IntegerField(default=1)
        created_by = pw.ForeignKeyField(
            column_name="created_by_id", field="id", model=orm["user"], null=True, on_delete="SET NULL"
        )
        created_at = pw.DateTimeField()
        updated_at = pw.DateTimeField()
        published_at = pw.DateTimeField(null=True)

        class Meta:
            table_name = "scoring_model"

    @migrator.create_model
    class LeadScore(pw.Model):
        id = pw.AutoField()
        lead = pw.ForeignKeyField(column_name="lead_id", field="id", model=orm["lead"], on_delete="CASCADE")
        model = pw.ForeignKeyField(
            column_name="model_id", field="id", model=orm["scoring_model"], on_delete="CASCADE"
        )
        score = pw.IntegerField()
        grade = pw.CharField(max_length=20, null=True)
        breakdown = pw.TextField()
        sales_ready = pw.BooleanField(default=False)
        expires_at = pw.DateTimeField(null=True)
        computed_at = pw.DateTimeField()

        class Meta:
            table_name = "lead_score"
            indexes = [(("lead", "model"), True), (("model", "score"), False), (("expires_at",), False)]

    @migrator.create_model
    class ScoreChange(pw.Model):
        id = pw.AutoField()
        lead = pw.ForeignKeyField(column_name="lead_id", field="id", model=orm["lead"], on_delete="CASCADE")
        model = pw.ForeignKeyField(
            column_name="model_id", field="id", model=orm["scoring_model"], on_delete="CASCADE"
        )
        old_score = pw.IntegerField(null=True)
        new_score = pw.IntegerField(null=True)
        cause = pw.CharField(max_length=200)
        created_at = pw.DateTimeField()

        class Meta:
            table_name = "score_change"
            indexes = [(("lead", "created_at"), False)]

    @migrator.create_model
    class PendingScore(pw.Model):
        lead = pw.ForeignKeyField(
            column_name="lead_id", field="id", model=orm["lead"], primary_key=True, on_delete="CASCADE"
        )
        token = pw.CharField(max_length=32)
        cause = pw.CharField(max_length=200)
        task = pw.ForeignKeyField(
            column_name="task_id", field="id", model=orm["background_task"], null=True, on_delete="SET NULL"
        )
        queued_at = pw.DateTimeField(index=True)

        class Meta:
            table_name = "pending_score"

    @migrator.create_model
    class QualificationCriteria(pw.Model):
        id = pw.AutoField()
        name = pw.CharField(max_length=120, unique=True)
        status = pw.CharField(max_length=20, default="draft")
        definition = pw.TextField()
        created_by = pw.ForeignKeyField(
            column_name="created_by_id", field="id", model=orm["user"], null=True, on_delete="SET NULL"
        )
        created_at = pw.DateTimeField()
        updated_at = pw.DateTimeField()
        published_at = pw.DateTimeField(null=True)

        class Meta:
            table_name = "qualification_criteria"

    @migrator.create_model
    class Webhook(pw.Model):
        id = pw.AutoField()
        name = pw.CharField(max_length=120)
        url = pw.CharField(max_length=500)
        secret = pw.CharField(max_length=100)
        events = pw.TextField()
        active = pw.BooleanField(default=True)
        created_at = pw.DateTimeField()

        class Meta:
            table_name = "webhook"

    @migrator.create_model
    class WebhookDelivery(pw.Model):
        id = pw.AutoField()
        webhook = pw.ForeignKeyField(
            column_name="webhook_id", field="id", model=orm["webhook"], on_delete="CASCADE"
        )
        key = pw.CharField(max_length=200)
        event = pw.CharField(max_length=40)
        payload = pw.TextField()
        status = pw.CharField(max_length=20, default="pending")
        attempts = pw.IntegerField(default=0)
        last_error = pw.CharField(max_length=300, null=True)
        next_attempt_at = pw.DateTimeField()
        created_at = pw.DateTimeField()
        delivered_at = pw.DateTimeField(null=True)

        class Meta:
            table_name = "webhook_delivery"
            indexes = [(("webhook", "key"), True), (("status", "next_attempt_at"), False)]


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    for name in (
        "webhook_delivery",
        "webhook",
        "background_task",
        "qualification_criteria",
        "pending_score",
        "score_change",
        "lead_score",
        "scoring_model",
    ):
        migrator.remove_model(name)
