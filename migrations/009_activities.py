"""W1: activities on a lead (notes, logged calls, tasks), with who wrote,
edited or deleted each, and the interaction a note or call was recorded as."""

import peewee as pw
from peewee_migrate import Migrator


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    orm = migrator.orm

    def user(name: str):
        return pw.ForeignKeyField(
            column_name=f"{name}_id", field="id", model=orm["user"], null=True, on_delete="SET NULL"
        )

    @migrator.create_model
    class Activity(pw.Model):
        id = pw.AutoField()
        lead = pw.ForeignKeyField(column_name="lead_id", field="id", model=orm["lead"], on_delete="CASCADE")
        kind = pw.CharField(max_length=10)
        author = user("author")
        body = pw.TextField(default="")
        outcome = pw.CharField(max_length=20, null=True)
        duration_minutes = pw.IntegerField(null=True)
        title = pw.CharField(max_length=200, null=True)
        due_at = pw.DateTimeField(null=True)
        assignee = user("assignee")
        done = pw.BooleanField(default=False)
        interaction = pw.ForeignKeyField(
            column_name="interaction_id",
            field="id",
            model=orm["interaction"],
            null=True,
            on_delete="SET NULL",
        )
        created_at = pw.DateTimeField()
        edited_at = pw.DateTimeField(null=True)
        edited_by = user("edited_by")
        deleted_at = pw.DateTimeField(null=True)
        deleted_by = user("deleted_by")

        class Meta:
            table_name = "activity"
            indexes = [(("lead", "created_at"), False)]


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.remove_model("activity")
