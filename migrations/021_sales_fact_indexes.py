"""D1: indexes for the sales dashboard's reads: covering ones for speed to
lead (the leads sales-ready in the range, their three spans) and the outcomes
(recorded in the range), each read from its index range alone; and the
narrowed reads: the stuck leads of a rep or a team (otherwise every open lead
of a stage is read to find none: stages 1–4 are nobody's yet), and the facts
of a team (and product line) or a product line active in the range."""

import peewee as pw
from peewee_migrate import Migrator

READY = (
    "sales_ready_at",
    "created",
    "owner",
    "team",
    "product_line",
    "assigned_at",
    "accepted_at",
    "first_activity_at",
)
OUTCOME = ("outcome_at", "created", "outcome", "outcome_reason", "owner", "team", "product_line")
NARROWED = (
    ("owner", "status", "stage", "stage_since"),
    ("team", "status", "stage", "stage_since"),
    ("team", "product_line", "active_until"),
    ("product_line", "active_until"),
)


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.add_index("sales_lead_fact", *READY)
    migrator.add_index("sales_lead_fact", *OUTCOME)
    for columns in NARROWED:
        migrator.add_index("sales_lead_fact", *columns)
    migrator.sql('ANALYZE "sales_lead_fact"')


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    for columns in reversed(NARROWED):
        migrator.drop_index("sales_lead_fact", *columns)
    migrator.drop_index("sales_lead_fact", *OUTCOME)
    migrator.drop_index("sales_lead_fact", *READY)
