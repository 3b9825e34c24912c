"""Migration 016: indexes the marketers' dashboard (D2) groups by week from.

- ``lead (created_at, source, campaign_id, product_line_id)``: the leads
  created in a date range, per week and per source, capture source, campaign
  or product line, with any of those as filters, are read from the index
  alone (a covering range scan), not from the table.
- ``lead_history (kind, new_value, created_at)``: the moments leads became
  marketing qualified, sales-ready or converted in a range are one index range
  each, whatever the size of the history.

Both are in the models' ``Meta.indexes``. The planner statistics are refreshed
so the indexes are used from the first request.
"""

import peewee as pw
from peewee_migrate import Migrator

LEAD_WEEKS = ("created_at", "source", "campaign", "product_line")
HISTORY_EVENTS = ("kind", "new_value", "created_at")


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.add_index("lead", *LEAD_WEEKS)
    migrator.add_index("lead_history", *HISTORY_EVENTS)
    migrator.sql('ANALYZE "lead"')
    migrator.sql('ANALYZE "lead_history"')


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.drop_index("lead_history", *HISTORY_EVENTS)
    migrator.drop_index("lead", *LEAD_WEEKS)
