"""C2: CSV imports (the file, its mapping and counts), their rejected rows, and
the indexes the import's matching reads (M1).

Matching compares emails, account names and domains case-insensitively, one
chunk of rows per query (``lower(column) IN (...)``); without an index on
``lower(column)`` every chunk would read the whole table. Both SQLite and
PostgreSQL index that expression.
"""

import peewee as pw
from peewee_migrate import Migrator

LOWER_INDEXES = (
    ("contact", "email"),
    ("lead", "email"),
    ("account", "name"),
    ("account", "domain"),
)


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    orm = migrator.orm

    @migrator.create_model
    class Import(pw.Model):
        id = pw.AutoField()
        entity = pw.CharField(max_length=20)
        filename = pw.CharField(max_length=255)
        size = pw.IntegerField(default=0)
        encoding = pw.CharField(max_length=20)
        delimiter = pw.CharField(max_length=2)
        has_bom = pw.BooleanField(default=False)
        headers = pw.TextField()
        mapping = pw.TextField()
        defaults = pw.TextField()
        update_policy = pw.CharField(max_length=20, default="fill_empty")
        status = pw.CharField(max_length=20, default="mapping")
        task = pw.ForeignKeyField(
            column_name="task_id", field="id", model=orm["background_task"], null=True, on_delete="SET NULL"
        )
        rows_done = pw.IntegerField(default=0)
        created = pw.IntegerField(default=0)
        updated = pw.IntegerField(default=0)
        unchanged = pw.IntegerField(default=0)
        failed = pw.IntegerField(default=0)
        problem = pw.TextField(null=True)
        created_by = pw.ForeignKeyField(
            column_name="created_by_id", field="id", model=orm["user"], null=True, on_delete="SET NULL"
        )
        created_at = pw.DateTimeField()
        finished_at = pw.DateTimeField(null=True)

        class Meta:
            table_name = "import"
            indexes = [(("created_at",), False)]

    @migrator.create_model
    class ImportFile(pw.Model):
        upload = pw.ForeignKeyField(
            column_name="import_id", field="id", model=orm["import"], primary_key=True, on_delete="CASCADE"
        )
        content = pw.BlobField()

        class Meta:
            table_name = "import_file"

    @migrator.create_model
    class ImportRowError(pw.Model):
        id = pw.AutoField()
        upload = pw.ForeignKeyField(
            column_name="import_id", field="id", model=orm["import"], on_delete="CASCADE"
        )
        line = pw.IntegerField()
        field = pw.CharField(max_length=50, default="")
        reason = pw.CharField(max_length=500)
        values = pw.TextField()

        class Meta:
            table_name = "import_error"
            indexes = [(("upload", "line"), False)]

    for table, column in LOWER_INDEXES:
        migrator.sql(f'CREATE INDEX IF NOT EXISTS "{table}_{column}_lower" ON "{table}" (lower("{column}"))')


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    for table, column in LOWER_INDEXES:
        migrator.sql(f'DROP INDEX IF EXISTS "{table}_{column}_lower"')
    migrator.remove_model("import_error")
    migrator.remove_model("import_file")
    migrator.remove_model("import")
