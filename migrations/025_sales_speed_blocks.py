"""D1: the day blocks also count speed to lead per rep and team (kinds 20–23,
``reports.core.SPEED``): two columns (0 for the other kinds), the unique key
widened to them, an index covering the dashboard's reads, and the blocks
marked to be rebuilt whole from the facts by the next caught-up slice (they
hold no speed cells yet)."""

import peewee as pw
from peewee_migrate import Migrator

OLD = ("level", "block", "kind", "bucket")
NEW = (*OLD, "rep", "team")
COVERING = (*NEW, "tally")  # the dashboard reads a block's kinds from the index alone
OLD_NAME = "salesdayblock_level_block_kind_bucket"  # as migration 020's create_model named it


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.sql(f'DROP INDEX "{OLD_NAME}"')
    _forget_index(migrator, OLD)
    migrator.add_fields("sales_day_block", rep=pw.IntegerField(default=0), team=pw.IntegerField(default=0))
    migrator.add_index("sales_day_block", *NEW, unique=True)
    migrator.add_index("sales_day_block", *COVERING)
    migrator.sql('UPDATE "sales_rollup_state" SET "blocks_facts" = NULL')


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.sql('DELETE FROM "sales_day_block" WHERE "kind" >= 20')
    migrator.sql('UPDATE "sales_rollup_state" SET "blocks_facts" = NULL')
    migrator.drop_index("sales_day_block", *COVERING)
    migrator.drop_index("sales_day_block", *NEW)
    migrator.remove_fields("sales_day_block", "rep", "team")
    columns = ", ".join(f'"{name}"' for name in OLD)
    migrator.sql(f'CREATE UNIQUE INDEX "{OLD_NAME}" ON "sales_day_block" ({columns})')
    migrator.orm["sales_day_block"]._meta.indexes.append((OLD, True))


def _forget_index(migrator: Migrator, columns: tuple[str, ...]) -> None:
    """The state the migrations replay forgets the index dropped by name
    (``drop_index`` would drop it by a name it makes up, not the one it has)."""
    meta = migrator.orm["sales_day_block"]._meta
    meta.indexes = [(cols, unique) for cols, unique in meta.indexes if tuple(cols) != columns]
