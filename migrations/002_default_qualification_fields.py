"""P5: the default qualification field set (budget, authority, need, timeframe, notes).

An admin may relabel, reorder, deactivate or add fields later; this only
seeds a fresh install.
"""

import json

import peewee as pw
from peewee_migrate import Migrator

DEFAULTS = [
    ("budget", "Budget", "select", ["Unknown", "Under 10k", "10k–50k", "50k–250k", "Over 250k"], True),
    ("authority", "Authority", "select", ["Unknown", "Influencer", "Decision maker", "Signs the budget"], True),
    ("need", "Need", "textarea", [], True),
    ("timeframe", "Timeframe", "select", ["Unknown", "This quarter", "Next quarter", "This year", "Later"], True),
    ("notes", "Notes", "textarea", [], False),
]


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    def insert_defaults():
        field = migrator.orm["qualification_field"]
        rows = [
            dict(key=key, label=label, kind=kind, choices=json.dumps(choices), required=required, position=pos, active=True)
            for pos, (key, label, kind, choices, required) in enumerate(DEFAULTS)
        ]
        field.insert_many(rows).execute()

    migrator.run(insert_defaults)


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    def delete_defaults():
        field = migrator.orm["qualification_field"]
        field.delete().where(field.key.in_([row[0] for row in DEFAULTS])).execute()

    migrator.run(delete_defaults)
