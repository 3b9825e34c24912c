"""The marketers' dashboard's rollup (SPEC D2), kept by
``reports.marketing.rollup``: one row per lead, event and day, one row per
day, event, source, campaign and product line (the page sums these), and how
far the refresh has read. Schema: ``migrations/022_marketing_rollup.py``.

Events: ``lead`` (created), ``mql``, ``sales_ready``, ``converted`` and
``before:<interaction type>`` (the lead became sales-ready that day and had an
interaction of that type in the 30 days before). Days are days since
1970-01-01 (UTC). ``previous_day`` is the lead's previous day with the same
event: a lead counts once in a range, on its first day there, so the page takes
off the rows whose previous day is in the range too (few: a lead qualified
twice).
"""

from __future__ import annotations

import peewee as pw

from leads.base.db import BaseModel


class MarketingLeadEvent(BaseModel):
    lead_id = (
        pw.IntegerField()
    )  # no foreign key: a deleted lead's rows tell the refresh which days to rewrite
    event = pw.CharField(max_length=80)
    day = pw.IntegerField()
    previous_day = pw.IntegerField(null=True)
    source = pw.CharField(max_length=100, null=True)
    campaign_id = pw.IntegerField(null=True)
    product_line_id = pw.IntegerField(null=True)
    converted = pw.SmallIntegerField(default=0)  # the lead is converted now

    class Meta:
        table_name = "marketing_lead_event"
        indexes = (
            (("lead_id",), False),
            (("event", "lead_id"), False),
            (("day",), False),
            (("previous_day",), False),
        )


FULL, BY_SOURCE, BY_CAMPAIGN, BY_PRODUCT_LINE = 0, 1, 2, 3  # MarketingDay grains


class MarketingDay(BaseModel):
    """The leads per day and event, by ``grain``: FULL per source, campaign and
    product line together; BY_SOURCE, BY_CAMPAIGN and BY_PRODUCT_LINE per
    that column alone (the others NULL), for the pages that group and filter
    on one column only (ten to twenty rows a day instead of hundreds)."""

    grain = pw.SmallIntegerField(default=FULL)
    day = pw.IntegerField()
    event = pw.CharField(max_length=80)
    source = pw.CharField(max_length=100, null=True)
    campaign_id = pw.IntegerField(null=True)
    product_line_id = pw.IntegerField(null=True)
    leads = pw.IntegerField(default=0)
    converted = pw.IntegerField(default=0)

    class Meta:
        table_name = "marketing_day"
        # the page sums a range of days of one grain from this index alone (index-only scans)
        indexes = (
            (
                ("grain", "day", "event", "source", "campaign_id", "product_line_id", "leads", "converted"),
                False,
            ),
        )


class MarketingRollupState(BaseModel):
    """How far the refresh has read (one row): leads by (last change in
    microseconds, id), interactions by id; when it last looked for deleted
    leads and last caught up (epoch seconds)."""

    leads_through = pw.BigIntegerField(null=True)
    leads_last_id = pw.IntegerField(default=0)
    interactions_last_id = pw.IntegerField(default=0)
    checked_at = pw.BigIntegerField(null=True)
    refreshed_at = pw.BigIntegerField(null=True)

    class Meta:
        table_name = "marketing_rollup_state"
