"""D2: the marketers' dashboard's rollup, kept by ``reports.marketing.rollup``:
one row per lead, event and day (created, marketing qualified, sales-ready,
converted, and "an interaction of type T in the 30 days before sales-ready"),
with the lead's current source, campaign, product line and whether it is
converted now, and the day before that the lead last had the same event; the
same counted per day and event, by source, campaign and product line together
and by each alone (a page broken down and filtered by one of them sums those
few rows); and how far its refresh has read. The page sums the day rows of its range and takes off
the few repeats, instead of grouping the history of a year of leads.
Lead ids are plain integers (no foreign key): a deleted lead's rows stay until
the refresh sees it gone and rewrites its days."""

import peewee as pw
from peewee_migrate import Migrator

# The page reads a range of days of one grain from this index alone.
COVERING = ("grain", "day", "event", "source", "campaign_id", "product_line_id", "leads", "converted")


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    @migrator.create_model
    class MarketingLeadEvent(pw.Model):
        id = pw.AutoField()
        lead_id = pw.IntegerField()
        event = pw.CharField(max_length=80)
        day = pw.IntegerField()
        previous_day = pw.IntegerField(null=True)
        source = pw.CharField(max_length=100, null=True)
        campaign_id = pw.IntegerField(null=True)
        product_line_id = pw.IntegerField(null=True)
        converted = pw.SmallIntegerField(default=0)

        class Meta:
            table_name = "marketing_lead_event"
            indexes = [
                (("lead_id",), False),
                (("event", "lead_id"), False),
                (("day",), False),
                (("previous_day",), False),
            ]

    @migrator.create_model
    class MarketingDay(pw.Model):
        id = pw.AutoField()
        grain = pw.SmallIntegerField(default=0)
        day = pw.IntegerField()
        event = pw.CharField(max_length=80)
        source = pw.CharField(max_length=100, null=True)
        campaign_id = pw.IntegerField(null=True)
        product_line_id = pw.IntegerField(null=True)
        leads = pw.IntegerField(default=0)
        converted = pw.IntegerField(default=0)

        class Meta:
            table_name = "marketing_day"
            indexes = [(COVERING, False)]

    @migrator.create_model
    class MarketingRollupState(pw.Model):
        id = pw.AutoField()
        leads_through = pw.BigIntegerField(null=True)
        leads_last_id = pw.IntegerField(default=0)
        interactions_last_id = pw.IntegerField(default=0)
        checked_at = pw.BigIntegerField(null=True)
        refreshed_at = pw.BigIntegerField(null=True)

        class Meta:
            table_name = "marketing_rollup_state"


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.remove_model("marketing_rollup_state")
    migrator.remove_model("marketing_day")
    migrator.remove_model("marketing_lead_event")
