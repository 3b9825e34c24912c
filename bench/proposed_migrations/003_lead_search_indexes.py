"""Proposed migration 003: indexes for the lead list's search.

``leads.listing`` matches each search word as a case-insensitive prefix of the
first name, last name, email or company. Without these indexes every search
reads the whole lead table (~100-500 ms at 100k leads); with them it reads
only the matching index ranges. ``bench/lead_list.py`` applies this file for
its "proposed" runs; copy it to ``migrations/`` to adopt it (the bench then
finds it applied and skips it).
"""

import peewee as pw
from peewee_migrate import Migrator

COLUMNS = ("first_name", "last_name", "email", "company")


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    for column in COLUMNS:
        if isinstance(database, pw.SqliteDatabase):
            # SQLite's LIKE ignores ASCII case; it can use an index only if the index is NOCASE.
            migrator.sql(
                f'CREATE INDEX IF NOT EXISTS "lead_{column}_search" ON "lead" ("{column}" COLLATE NOCASE)'
            )
        else:
            # PostgreSQL: lower(column) LIKE 'prefix%' uses this index whatever the database collation.
            migrator.sql(
                f'CREATE INDEX IF NOT EXISTS "lead_{column}_search" ON "lead" (lower("{column}") text_pattern_ops)'
            )


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    for column in COLUMNS:
        migrator.sql(f'DROP INDEX IF EXISTS "lead_{column}_search"')
