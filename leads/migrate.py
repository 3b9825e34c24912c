"""Schema migrations with peewee-migrate; files live in ``migrations/``."""

from __future__ import annotations

import os

from peewee_migrate import Router

from leads.db import db

MIGRATIONS_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "migrations")


def router() -> Router:
    """A peewee-migrate router over the bound database."""
    return Router(db.obj, migrate_dir=MIGRATIONS_DIR, ignore=["basemodel"])


def upgrade() -> list[str]:
    """Apply every pending migration; returns the names applied."""
    return router().run()


def make_migration(name: str) -> str | None:
    """Write a new migration from the difference between models and migrations."""
    from leads.models import all_models

    return router().create(name, auto=all_models())
