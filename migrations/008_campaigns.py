"""G2, G3, R8: campaign audience, message and launch columns; campaign messages
(one per audience member), replies routed back to reps, campaign requests."""

import peewee as pw
from peewee_migrate import Migrator


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    orm = migrator.orm
    migrator.add_fields(
        "campaign",
        segment=pw.TextField(null=True),
        subject=pw.CharField(max_length=200, default=""),
        body=pw.TextField(default=""),
        launched_by=pw.ForeignKeyField(
            column_name="launched_by_id", field="id", model=orm["user"], null=True, on_delete="SET NULL"
        ),
        launched_at=pw.DateTimeField(null=True),
        launch_task=pw.IntegerField(null=True),
        completed_at=pw.DateTimeField(null=True),
    )
    # The lifecycle is now draft → launched → completed.
    migrator.sql("UPDATE campaign SET status = 'launched' WHERE status = 'active'")
    migrator.sql("UPDATE campaign SET status = 'completed' WHERE status = 'closed'")

    @migrator.create_model
    class CampaignMessage(pw.Model):
        id = pw.AutoField()
        campaign = pw.ForeignKeyField(
            column_name="campaign_id", field="id", model=orm["campaign"], on_delete="CASCADE"
        )
        contact = pw.ForeignKeyField(
            column_name="contact_id", field="id", model=orm["contact"], on_delete="CASCADE"
        )
        lead = pw.ForeignKeyField(
            column_name="lead_id", field="id", model=orm["lead"], null=True, on_delete="SET NULL"
        )
        rep = pw.ForeignKeyField(
            column_name="rep_id", field="id", model=orm["user"], null=True, on_delete="SET NULL"
        )
        to_email = pw.CharField(max_length=254)
        from_name = pw.CharField(max_length=120)
        subject = pw.CharField(max_length=200)
        body = pw.TextField()
        reply_to = pw.CharField(max_length=254)
        token = pw.CharField(max_length=40, unique=True)
        outbox_id = pw.IntegerField(null=True)
        status = pw.CharField(max_length=20, default="queued")
        created_at = pw.DateTimeField()
        sent_at = pw.DateTimeField(null=True)

        class Meta:
            table_name = "campaign_message"
            indexes = [(("campaign", "contact"), True)]

    @migrator.create_model
    class CampaignReply(pw.Model):
        id = pw.AutoField()
        message = pw.ForeignKeyField(
            column_name="message_id", field="id", model=orm["campaign_message"], on_delete="CASCADE"
        )
        campaign = pw.ForeignKeyField(
            column_name="campaign_id", field="id", model=orm["campaign"], on_delete="CASCADE"
        )
        contact = pw.ForeignKeyField(
            column_name="contact_id", field="id", model=orm["contact"], null=True, on_delete="SET NULL"
        )
        lead = pw.ForeignKeyField(
            column_name="lead_id", field="id", model=orm["lead"], null=True, on_delete="SET NULL"
        )
        rep = pw.ForeignKeyField(
            column_name="rep_id", field="id", model=orm["user"], null=True, on_delete="SET NULL"
        )
        from_email = pw.CharField(max_length=254)
        subject = pw.CharField(max_length=200, default="")
        text = pw.TextField(default="")
        external_id = pw.CharField(max_length=250, unique=True)
        received_at = pw.DateTimeField()

        class Meta:
            table_name = "campaign_reply"
            indexes = [(("rep", "received_at"), False)]

    @migrator.create_model
    class CampaignRequest(pw.Model):
        id = pw.AutoField()
        requested_by = pw.ForeignKeyField(
            column_name="requested_by_id", field="id", model=orm["user"], on_delete="CASCADE"
        )
        goal = pw.TextField()
        audience = pw.TextField()
        timing = pw.CharField(max_length=200)
        status = pw.CharField(max_length=20, default="pending")
        reason = pw.TextField(null=True)
        campaign = pw.ForeignKeyField(
            column_name="campaign_id", field="id", model=orm["campaign"], null=True, on_delete="SET NULL"
        )
        decided_by = pw.ForeignKeyField(
            column_name="decided_by_id", field="id", model=orm["user"], null=True, on_delete="SET NULL"
        )
        decided_at = pw.DateTimeField(null=True)
        created_at = pw.DateTimeField()

        class Meta:
            table_name = "campaign_request"
            indexes = [(("requested_by", "created_at"), False), (("status", "created_at"), False)]


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.remove_model("campaign_request")
    migrator.remove_model("campaign_reply")
    migrator.remove_model("campaign_message")
    migrator.remove_fields(
        "campaign", "segment", "subject", "body", "launched_by", "launched_at", "launch_task", "completed_at"
    )
