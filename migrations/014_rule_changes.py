"""R4: removals of assignment rules are recorded (which rule, its definition as
it was, who removed it and when)."""

import peewee as pw
from peewee_migrate import Migrator


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    orm = migrator.orm

    @migrator.create_model
    class RuleChange(pw.Model):
        id = pw.AutoField()
        rule_id = pw.IntegerField()
        action = pw.CharField(max_length=20)
        name = pw.CharField(max_length=200)
        position = pw.IntegerField(null=True)
        definition = pw.TextField()
        by = pw.ForeignKeyField(
            column_name="by_id", field="id", model=orm["user"], null=True, on_delete="SET NULL"
        )
        created_at = pw.DateTimeField()

        class Meta:
            table_name = "rule_change"
            indexes = [(("created_at",), False)]


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.remove_model("rule_change")
