"""D1: covering indexes for the sales dashboard's speed to lead (the leads
sales-ready in the range, their three spans) and outcomes (the outcomes
recorded in the range): each reads its index range alone, not every fact
active in the range."""

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


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.add_index("sales_lead_fact", *READY)
    migrator.add_index("sales_lead_fact", *OUTCOME)
    migrator.sql('ANALYZE "sales_lead_fact"')


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.drop_index("sales_lead_fact", *OUTCOME)
    migrator.drop_index("sales_lead_fact", *READY)
