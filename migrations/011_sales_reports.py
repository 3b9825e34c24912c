"""D1: the sales dashboard's rollup (one fact per lead, one row per rep, day
and product line, and how far its refresh has read), and the index its refresh
reads changed leads by (their last change)."""

import peewee as pw
from peewee_migrate import Migrator


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    orm = migrator.orm

    def fk(table: str, null=True, on_delete="SET NULL", **extra):
        return pw.ForeignKeyField(
            column_name=f"{table if table != 'user' else 'owner'}_id",
            field="id",
            model=orm[table],
            null=null,
            on_delete=on_delete,
            **extra,
        )

    @migrator.create_model
    class SalesLeadFact(pw.Model):
        id = pw.AutoField()
        lead = pw.ForeignKeyField(
            column_name="lead_id", field="id", model=orm["lead"], unique=True, on_delete="CASCADE"
        )
        product_line = fk("product_line")
        team = fk("team")
        owner = fk("user")
        stage = pw.SmallIntegerField()
        status = pw.CharField(max_length=20)
        outcome = pw.CharField(max_length=20, null=True)
        outcome_reason = pw.CharField(max_length=30, null=True)
        outcome_at = pw.BigIntegerField(null=True)
        created = pw.BigIntegerField()
        entered_1 = pw.BigIntegerField(null=True)
        entered_2 = pw.BigIntegerField(null=True)
        entered_3 = pw.BigIntegerField(null=True)
        entered_4 = pw.BigIntegerField(null=True)
        entered_5 = pw.BigIntegerField(null=True)
        left_1 = pw.BigIntegerField(null=True)
        left_2 = pw.BigIntegerField(null=True)
        left_3 = pw.BigIntegerField(null=True)
        left_4 = pw.BigIntegerField(null=True)
        left_5 = pw.BigIntegerField(null=True)
        stage_since = pw.BigIntegerField()
        sales_ready_at = pw.BigIntegerField(null=True)
        assigned_at = pw.BigIntegerField(null=True)
        accepted_at = pw.BigIntegerField(null=True)
        first_activity_at = pw.BigIntegerField(null=True)
        active_until = pw.BigIntegerField()
        refreshed_at = pw.BigIntegerField()

        class Meta:
            table_name = "sales_lead_fact"
            indexes = [
                (("active_until",), False),
                (("owner", "active_until"), False),
                (("status", "stage", "stage_since"), False),
                (("refreshed_at",), False),
            ]

    @migrator.create_model
    class SalesRepDay(pw.Model):
        id = pw.AutoField()
        day = pw.IntegerField()
        rep = pw.ForeignKeyField(column_name="rep_id", field="id", model=orm["user"], on_delete="CASCADE")
        product_line = fk("product_line")
        team = fk("team")
        open_leads = pw.IntegerField(default=0)
        assigned = pw.IntegerField(default=0)
        accepted = pw.IntegerField(default=0)
        overdue = pw.IntegerField(default=0)
        declined = pw.IntegerField(default=0)
        reassigned = pw.IntegerField(default=0)

        class Meta:
            table_name = "sales_rep_day"
            indexes = [(("day", "rep"), False), (("rep", "day"), False)]

    @migrator.create_model
    class SalesRollupState(pw.Model):
        id = pw.AutoField()
        leads_through = pw.BigIntegerField(null=True)
        leads_last_id = pw.IntegerField(default=0)
        activities_last_id = pw.IntegerField(default=0)
        days_through = pw.IntegerField(null=True)
        days_at = pw.BigIntegerField(null=True)
        refreshed_at = pw.BigIntegerField(null=True)

        class Meta:
            table_name = "sales_rollup_state"

    migrator.add_index("lead", "updated_at")


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.drop_index("lead", "updated_at")
    migrator.remove_model("sales_rollup_state")
    migrator.remove_model("sales_rep_day")
    migrator.remove_model("sales_lead_fact")
