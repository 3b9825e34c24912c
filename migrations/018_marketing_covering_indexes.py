"""Migration 018: the marketers' dashboard (D2) reads its events and the
interactions before sales-readiness from indexes alone.

- ``lead_history (kind, new_value, created_at, lead_id)`` replaces migration
  016's ``(kind, new_value, created_at)``: the leads that became marketing
  qualified, sales-ready or converted in a range are one index range each and
  the lead's id is in the index, so the history's rows are never read.
- ``interaction (lead_id, occurred_at, type)`` and ``(contact_id, occurred_at,
  type)`` replace the initial ``(lead_id, occurred_at)`` and ``(contact_id,
  occurred_at)``: the same timelines read them, and the interactions of a lead
  or contact in the days before it became sales-ready are counted per type
  without reading the table.

Replacing rather than adding keeps the writes' cost as it was. The planner
statistics are refreshed so the indexes are used from the first request.
"""

import peewee as pw
from peewee_migrate import Migrator

OLD_EVENTS, EVENTS = ("kind", "new_value", "created_at"), ("kind", "new_value", "created_at", "lead")
OLD_OF_LEAD, OF_LEAD = ("lead", "occurred_at"), ("lead", "occurred_at", "type")
OLD_OF_CONTACT, OF_CONTACT = ("contact", "occurred_at"), ("contact", "occurred_at", "type")


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.add_index("lead_history", *EVENTS)
    migrator.drop_index("lead_history", *OLD_EVENTS)
    migrator.add_index("interaction", *OF_LEAD)
    migrator.drop_index("interaction", *OLD_OF_LEAD)
    migrator.add_index("interaction", *OF_CONTACT)
    migrator.drop_index("interaction", *OLD_OF_CONTACT)
    migrator.sql('ANALYZE "lead_history"')
    migrator.sql('ANALYZE "interaction"')


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.add_index("interaction", *OLD_OF_CONTACT)
    migrator.drop_index("interaction", *OF_CONTACT)
    migrator.add_index("interaction", *OLD_OF_LEAD)
    migrator.drop_index("interaction", *OF_LEAD)
    migrator.add_index("lead_history", *OLD_EVENTS)
    migrator.drop_index("lead_history", *EVENTS)
