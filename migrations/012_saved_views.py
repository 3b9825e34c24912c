"""W5: saved views of the lead list (filters, sort, columns), each owned by a
user and optionally shared with a team."""

import peewee as pw
from peewee_migrate import Migrator


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    orm = migrator.orm

    @migrator.create_model
    class SavedView(pw.Model):
        id = pw.AutoField()
        owner = pw.ForeignKeyField(column_name="owner_id", field="id", model=orm["user"], on_delete="CASCADE")
        name = pw.CharField(max_length=80)
        filters = pw.TextField()
        sort = pw.CharField(max_length=40, default="")
        columns = pw.TextField()
        team = pw.ForeignKeyField(
            column_name="team_id", field="id", model=orm["team"], null=True, on_delete="SET NULL"
        )
        created_at = pw.DateTimeField()
        updated_at = pw.DateTimeField()

        class Meta:
            table_name = "saved_view"
            indexes = [(("owner", "name"), True), (("team",), False)]


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.remove_model("saved_view")
