"""The database handle, bound by the app factory, and the base model.

Nothing here connects at import time: ``db`` is a proxy until ``bind_database``
is called with a URL.
"""

from __future__ import annotations

import datetime as dt
import json
from contextlib import contextmanager

import peewee as pw
from playhouse.db_url import connect

db = pw.DatabaseProxy()

SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "synchronous": "normal",
    "foreign_keys": 1,
    "busy_timeout": 10000,
    "cache_size": -32000,
}


def bind_database(url: str) -> pw.Database:
    """Open (lazily) the database at ``url`` and bind the proxy to it."""
    if url.startswith("sqlite"):
        database = connect(url, pragmas=SQLITE_PRAGMAS, timeout=10)
    else:
        database = connect(url)
    db.initialize(database)
    return database


def is_sqlite() -> bool:
    """True when the bound database is SQLite."""
    return isinstance(db.obj, pw.SqliteDatabase)


@contextmanager
def transaction():
    """A write transaction. SQLite takes the write lock up front (IMMEDIATE), so
    concurrent workers wait on the busy timeout instead of failing mid-way."""
    if is_sqlite():
        with db.atomic("IMMEDIATE") as txn:
            yield txn
    else:
        with db.atomic() as txn:
            yield txn


def utcnow() -> dt.datetime:
    """The current time, naive UTC (how every timestamp is stored)."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class JSONField(pw.TextField):
    """A dict or list stored as JSON text (portable across SQLite and PostgreSQL)."""

    def db_value(self, value):
        return None if value is None else json.dumps(value, sort_keys=True, default=str)

    def python_value(self, value):
        return None if value is None else json.loads(value)


class BaseModel(pw.Model):
    class Meta:
        database = db
        legacy_table_names = False
