"""R1–R6 and R2 notifications: rep profiles and product lines, assignment rules,
round-robin pool pointers, assignments (one live per lead: a partial unique
index, valid on SQLite and PostgreSQL), notifications and the outbox."""

import peewee as pw
from peewee_migrate import Migrator


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    orm = migrator.orm

    def user_fk(column, null=False, on_delete="CASCADE"):
        return pw.ForeignKeyField(
            column_name=column, field="id", model=orm["user"], null=null, on_delete=on_delete
        )

    @migrator.create_model
    class RepProfile(pw.Model):
        id = pw.AutoField()
        user = pw.ForeignKeyField(
            column_name="user_id", field="id", model=orm["user"], unique=True, on_delete="CASCADE"
        )
        capacity = pw.IntegerField(default=20)
        away_from = pw.DateTimeField(null=True)
        away_until = pw.DateTimeField(null=True)
        updated_at = pw.DateTimeField()

        class Meta:
            table_name = "rep_profile"

    @migrator.create_model
    class RepProductLine(pw.Model):
        id = pw.AutoField()
        rep = user_fk("rep_id")
        product_line = pw.ForeignKeyField(
            column_name="product_line_id", field="id", model=orm["product_line"], on_delete="CASCADE"
        )

        class Meta:
            table_name = "rep_product_line"
            indexes = [(("rep", "product_line"), True), (("product_line",), False)]

    @migrator.create_model
    class AssignmentRule(pw.Model):
        id = pw.AutoField()
        position = pw.IntegerField(index=True)
        name = pw.CharField(max_length=200)
        enabled = pw.BooleanField(default=True)
        definition = pw.TextField()
        accept_within_hours = pw.IntegerField(null=True)
        created_at = pw.DateTimeField()
        updated_at = pw.DateTimeField()

        class Meta:
            table_name = "assignment_rule"

    @migrator.create_model
    class PoolPointer(pw.Model):
        id = pw.AutoField()
        pool_key = pw.CharField(max_length=100)
        rep = user_fk("rep_id")
        last_assigned_at = pw.DateTimeField()

        class Meta:
            table_name = "pool_pointer"
            indexes = [(("pool_key", "rep"), True)]

    @migrator.create_model
    class Assignment(pw.Model):
        id = pw.AutoField()
        lead = pw.ForeignKeyField(column_name="lead_id", field="id", model=orm["lead"], on_delete="CASCADE")
        rep = user_fk("rep_id", null=True)
        rule = pw.ForeignKeyField(
            column_name="rule_id", field="id", model=orm["assignment_rule"], null=True, on_delete="SET NULL"
        )
        assigned_by = user_fk("assigned_by_id", null=True, on_delete="SET NULL")
        decision = pw.TextField()
        reason = pw.CharField(max_length=200)
        created_at = pw.DateTimeField()
        due_at = pw.DateTimeField(null=True)
        accepted_at = pw.DateTimeField(null=True)
        declined_at = pw.DateTimeField(null=True)
        ended_at = pw.DateTimeField(null=True)
        end_reason = pw.CharField(max_length=300, null=True)

        class Meta:
            table_name = "assignment"
            indexes = [(("lead", "created_at"), False), (("rep", "ended_at"), False), (("due_at",), False)]

    # One live assignment per lead, in the database (R1: exactly one, whatever the workers).
    migrator.sql(
        'CREATE UNIQUE INDEX "assignment_one_live" ON "assignment" ("lead_id") WHERE "ended_at" IS NULL'
    )

    @migrator.create_model
    class Notification(pw.Model):
        id = pw.AutoField()
        user = user_fk("user_id")
        kind = pw.CharField(max_length=30)
        lead = pw.ForeignKeyField(
            column_name="lead_id", field="id", model=orm["lead"], null=True, on_delete="CASCADE"
        )
        text = pw.CharField(max_length=300)
        key = pw.CharField(max_length=200, null=True, unique=True)
        created_at = pw.DateTimeField()
        read_at = pw.DateTimeField(null=True)

        class Meta:
            table_name = "notification"
            indexes = [(("user", "read_at", "created_at"), False)]

    @migrator.create_model
    class Outbox(pw.Model):
        id = pw.AutoField()
        to = pw.CharField(max_length=254)
        subject = pw.CharField(max_length=300)
        body = pw.TextField()
        reply_to = pw.CharField(max_length=254, null=True)
        status = pw.CharField(max_length=20, default="queued")
        created_at = pw.DateTimeField()
        sent_at = pw.DateTimeField(null=True)

        class Meta:
            table_name = "outbox"
            indexes = [(("status", "created_at"), False)]


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.sql('DROP INDEX IF EXISTS "assignment_one_live"')
    for name in (
        "outbox",
        "notification",
        "assignment",
        "pool_pointer",
        "assignment_rule",
        "rep_product_line",
        "rep_profile",
    ):
        migrator.remove_model(name)
