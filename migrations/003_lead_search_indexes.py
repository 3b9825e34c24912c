"""Migration 003: indexes for the lead list's search and its most common filter.

- Search: ``leads.records.listing`` matches each search word as a case-insensitive
  prefix of the first name, last name, email or company. Without an index per
  column every search reads the whole lead table; with them it reads only the
  matching index ranges. SQLite's ``LIKE`` ignores ASCII case and can use an
  index only if the index is ``NOCASE``; PostgreSQL gets ``lower(column)
  text_pattern_ops`` for ``lower(column) LIKE 'prefix%'``. Neither can be said
  in ``Lead.Meta.indexes`` (they differ per backend), so they live only here.
- Stage and product line: ``(status, stage, product_line_id, created_at)``
  answers "stage N of product line P, newest first" from the index, and counts
  a stage (status and stage) from the index alone. It is in ``Lead.Meta.indexes``.

Then the lead table's planner statistics are refreshed, so the new indexes are
used from the first request (SQLite keeps them fresh with ``PRAGMA optimize``
at connection close, PostgreSQL with autovacuum). Figures: ``bench/README.md``.
"""

import peewee as pw
from peewee_migrate import Migrator

SEARCHED = ("first_name", "last_name", "email", "company")
STAGE_PRODUCT_LINE = ("status", "stage", "product_line", "created_at")


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    sqlite = isinstance(database, pw.SqliteDatabase)
    for column in SEARCHED:
        if sqlite:
            migrator.sql(
                f'CREATE INDEX IF NOT EXISTS "lead_{column}_search" ON "lead" ("{column}" COLLATE NOCASE)'
            )
        else:
            migrator.sql(
                f'CREATE INDEX IF NOT EXISTS "lead_{column}_search" ON "lead" (lower("{column}") text_pattern_ops)'
            )
    migrator.add_index("lead", *STAGE_PRODUCT_LINE)
    migrator.sql('ANALYZE "lead"')


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.drop_index("lead", *STAGE_PRODUCT_LINE)
    for column in SEARCHED:
        migrator.sql(f'DROP INDEX IF EXISTS "lead_{column}_search"')
