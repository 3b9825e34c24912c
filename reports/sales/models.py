"""The sales dashboard's rollup (SPEC D1), kept by ``reports.sales.rollup``:
one fact per lead (its stage entries and exits, outcome and hand-off moments),
one row per rep, day and product line (open leads at the day's end and
the day's assignments, accepts, time-outs, declines and re-assignments),
counts per block of days (stays' lengths, funnel entries), and how far the refresh
has read. The dashboard reads these indexed rows instead of the history of
every lead. Times are epoch seconds (UTC). Schema:
``migrations/011_sales_reports.py`` and ``020_sales_day_blocks.py``.
"""

from __future__ import annotations

import peewee as pw

from auth.models import Team, User
from leads.base.db import BaseModel
from leads.records.models import Lead, ProductLine


class SalesLeadFact(BaseModel):
    lead = pw.ForeignKeyField(Lead, unique=True, backref="+", on_delete="CASCADE")
    product_line = pw.ForeignKeyField(ProductLine, null=True, backref="+", on_delete="SET NULL")
    team = pw.ForeignKeyField(Team, null=True, backref="+", on_delete="SET NULL")
    owner = pw.ForeignKeyField(User, null=True, backref="+", on_delete="SET NULL")
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
    active_until = pw.BigIntegerField()  # the latest of the times above: a range reads from here
    refreshed_at = pw.BigIntegerField()

    class Meta:
        table_name = "sales_lead_fact"
        indexes = (
            (("active_until",), False),
            (("owner", "active_until"), False),
            (("status", "stage", "stage_since"), False),
            (("refreshed_at",), False),
            # Speed to lead and the outcomes read only these (migration 021, as the four below).
            (
                (
                    "sales_ready_at",
                    "created",
                    "owner",
                    "team",
                    "product_line",
                    "assigned_at",
                    "accepted_at",
                    "first_activity_at",
                ),
                False,
            ),
            (("outcome_at", "created", "outcome", "outcome_reason", "owner", "team", "product_line"), False),
            # The narrowed reads: a rep's or a team's stuck leads, a team's or a line's facts.
            (("owner", "status", "stage", "stage_since"), False),
            (("team", "status", "stage", "stage_since"), False),
            (("team", "product_line", "active_until"), False),
            (("product_line", "active_until"), False),
        )


class SalesRepDay(BaseModel):
    day = pw.IntegerField()  # days since 1970-01-01 (UTC): read as plain integers, never parsed
    rep = pw.ForeignKeyField(User, backref="+", on_delete="CASCADE")
    product_line = pw.ForeignKeyField(ProductLine, null=True, backref="+", on_delete="SET NULL")
    team = pw.ForeignKeyField(Team, null=True, backref="+", on_delete="SET NULL")
    open_leads = pw.IntegerField(default=0)
    assigned = pw.IntegerField(default=0)
    accepted = pw.IntegerField(default=0)
    overdue = pw.IntegerField(default=0)
    declined = pw.IntegerField(default=0)
    reassigned = pw.IntegerField(default=0)

    class Meta:
        table_name = "sales_rep_day"
        indexes = ((("day", "rep"), False), (("rep", "day"), False))


class SalesRollupState(BaseModel):
    """How far the refresh has read (one row): leads by (last change in
    microseconds, id), activities by id, rep days up to a day number and when;
    and when it last caught up (epoch seconds)."""

    leads_through = pw.BigIntegerField(null=True)
    leads_last_id = pw.IntegerField(default=0)
    activities_last_id = pw.IntegerField(default=0)
    days_through = pw.IntegerField(null=True)
    days_at = pw.BigIntegerField(null=True)  # when the rep days were last rewritten (epoch seconds)
    refreshed_at = pw.BigIntegerField(null=True)
    blocks_facts = pw.IntegerField(null=True)  # the facts the day blocks count (None: to build)

    class Meta:
        table_name = "sales_rollup_state"


class SalesDayBlock(BaseModel):
    """A count of one ``kind`` and ``bucket`` over a block of days (the days
    ``block * 2**level`` to ``(block + 1) * 2**level - 1``, day numbers): for
    kind 1–5, the stays in that stage which ended then, by their length's
    bucket (``reports.core.bucket_of``); for kind 11–15 (``core.FUNNEL`` +
    stage), the leads which first entered the stage then, bucket 1 if they went
    on, else 0; for kind 20–23 (``core.SPEED``), per rep and team, the leads
    which became sales-ready then (bucket 0) and their spans to assigned, to
    accepted and to the first activity by bucket. A range sums its few blocks
    (``core.day_blocks``) instead of reading every lead. Schema:
    ``migrations/020_sales_day_blocks.py`` and ``025_sales_speed_blocks.py``."""

    level = pw.SmallIntegerField()
    block = pw.IntegerField()
    kind = pw.SmallIntegerField()
    bucket = pw.SmallIntegerField()
    tally = pw.IntegerField()
    rep = pw.IntegerField(default=0)  # speed to lead's kinds: the rep (0: nobody), else 0
    team = pw.IntegerField(default=0)  # and the team (0: none)

    class Meta:
        table_name = "sales_day_block"
        indexes = (
            (("level", "block", "kind", "bucket", "rep", "team"), True),
            # The dashboard's reads (a block's kinds) from the index alone (migration 025).
            (("level", "block", "kind", "bucket", "rep", "team", "tally"), False),
        )
