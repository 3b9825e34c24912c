"""Schema migrations with peewee-migrate; files live in ``migrations/``."""

from __future__ import annotations

import importlib
import os
import pkgutil

import peewee as pw
from peewee_migrate import Router
from peewee_migrate import auto as peewee_auto

from leads.base.db import BaseModel, db

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MIGRATIONS_DIR = os.path.join(ROOT, "migrations")
# The packages whose ``models`` modules hold the install's tables (named, not
# imported: a lower package never imports a higher one).
MODEL_PACKAGES = ("auth", "leads", "routing", "campaigns", "reports")


def router() -> Router:
    """A peewee-migrate router over the bound database."""
    return Router(db.obj, migrate_dir=MIGRATIONS_DIR, ignore=["basemodel"])


def upgrade() -> list[str]:
    """Apply every pending migration; returns the names applied."""
    return router().run()


def pending() -> list[str]:
    """The migrations in ``migrations/`` not yet applied to the bound database
    (read only: unlike peewee-migrate's ``diff``, it never creates the history table)."""
    done = {name for (name,) in db.execute_sql('SELECT name FROM "migratehistory"')}
    return [name for name in router().todo if name not in done]


def all_models() -> list[type[BaseModel]]:
    """Every table of the install, in dependency order (tests truncate in reverse):
    each ``BaseModel`` subclass found in a ``models`` module of ``MODEL_PACKAGES``,
    so a new table needs no list to be kept up to date."""
    for package in MODEL_PACKAGES:
        module = importlib.import_module(package)
        for info in pkgutil.walk_packages(module.__path__, prefix=f"{package}."):
            if info.name.rsplit(".", 1)[-1] == "models":
                importlib.import_module(info.name)
    return pw.sort_models(_subclasses(BaseModel))


def _subclasses(cls) -> list[type[BaseModel]]:
    found = []
    for sub in cls.__subclasses__():
        found.append(sub)
        found.extend(_subclasses(sub))
    return found


def make_migration(name: str, migrate_dir: str = MIGRATIONS_DIR) -> str | None:
    """Write a new migration from the difference between models and migrations;
    returns its name, or None when nothing changed."""
    original = peewee_auto.diff_model_indexes
    peewee_auto.diff_model_indexes = _diff_indexes
    try:
        return Router(db.obj, migrate_dir=migrate_dir, ignore=["basemodel"]).create(name, auto=all_models())
    finally:
        peewee_auto.diff_model_indexes = original


def _index_key(index) -> tuple:
    return bool(index._unique), tuple(sorted(peewee_auto._index_fields(index)))


def _diff_indexes(model, source, *, fields_to_add=None, fields_to_remove=None) -> list[str]:
    """peewee-migrate's index diff, an index known by its unique flag and its
    column names. (peewee-migrate 2.3 matches indexes by their generated names,
    which differ between the models and the state its migrations replay, and
    compares peewee ``Field`` objects, whose ``!=`` builds a SQL expression: it
    dropped and re-created every index of an unchanged tree.)"""
    fields_to_add, fields_to_remove = fields_to_add or set(), fields_to_remove or set()
    wanted = {_index_key(index): index for index in model._meta.fields_to_index()}
    stored = {_index_key(index): index for index in source._meta.fields_to_index()}
    changes = []
    for key in sorted(set(stored) - set(wanted)):
        if not peewee_auto._is_implicit_field_index(stored[key], fields_to_remove):
            changes.append(peewee_auto.drop_index(stored[key]))
    for key in sorted(set(wanted) - set(stored)):
        if not peewee_auto._is_implicit_field_index(wanted[key], fields_to_add):
            changes.append(peewee_auto.add_index(wanted[key]))
    return changes
