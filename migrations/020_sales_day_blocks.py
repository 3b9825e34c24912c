"""D1: counts the sales rollup keeps per block of days (1, 2, 4 … 256 days,
aligned) so the dashboard sums a few blocks instead of reading every lead:
per kind (a stage's stays by their length's bucket, ``reports.core.bucket_of``;
a stage's entries, went on or not) and bucket, how many; and the rollup's note
of how many facts they count (None: to build)."""

import peewee as pw
from peewee_migrate import Migrator


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    @migrator.create_model
    class SalesDayBlock(pw.Model):
        id = pw.AutoField()
        level = pw.SmallIntegerField()
        block = pw.IntegerField()
        kind = pw.SmallIntegerField()
        bucket = pw.SmallIntegerField()
        tally = pw.IntegerField()

        class Meta:
            table_name = "sales_day_block"
            indexes = [(("level", "block", "kind", "bucket"), True)]

    migrator.add_fields("sales_rollup_state", blocks_facts=pw.IntegerField(null=True))


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.remove_fields("sales_rollup_state", "blocks_facts")
    migrator.remove_model("sales_day_block")
