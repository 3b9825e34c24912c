"""W1: activities on a contact or an account too, not only on a lead. The
activity's lead becomes optional and it may belong to a contact or an account
instead: exactly one of the three (PostgreSQL checks it; SQLite would need a
table rebuild for a CHECK, so there the service alone keeps it)."""

import peewee as pw
from peewee_migrate import Migrator

ONE_PARENT = "activity_one_parent"


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    orm = migrator.orm
    migrator.add_fields(
        "activity",
        contact=pw.ForeignKeyField(
            column_name="contact_id", field="id", model=orm["contact"], null=True, on_delete="CASCADE"
        ),
        account=pw.ForeignKeyField(
            column_name="account_id", field="id", model=orm["account"], null=True, on_delete="CASCADE"
        ),
    )
    migrator.drop_not_null("activity", "lead")
    if not isinstance(database, pw.SqliteDatabase):
        migrator.sql(
            f'ALTER TABLE "activity" ADD CONSTRAINT "{ONE_PARENT}" CHECK ('
            '(CASE WHEN "lead_id" IS NULL THEN 0 ELSE 1 END)'
            ' + (CASE WHEN "contact_id" IS NULL THEN 0 ELSE 1 END)'
            ' + (CASE WHEN "account_id" IS NULL THEN 0 ELSE 1 END) = 1)'
        )


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    if not isinstance(database, pw.SqliteDatabase):
        migrator.sql(f'ALTER TABLE "activity" DROP CONSTRAINT IF EXISTS "{ONE_PARENT}"')
    migrator.sql('DELETE FROM "activity" WHERE "lead_id" IS NULL')
    migrator.remove_fields("activity", "contact", "account")
    migrator.add_not_null("activity", "lead")
