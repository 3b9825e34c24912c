"""The database handle, bound by the app factory, and the base model.

Nothing here connects at import time: ``db`` is a proxy until ``bind_database``
is called with a URL. Connections come from a pool per URL (``bind_database``).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from urllib.parse import parse_qs, urlparse

import peewee as pw
from playhouse.db_url import connect, schemes

log = logging.getLogger(__name__)

db = pw.DatabaseProxy()

SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "synchronous": "normal",
    "foreign_keys": 1,
    "busy_timeout": 10000,
    "cache_size": -32000,
}


# Connection pools (per process). Pool settings given in the URL
# (``?max_connections=4&stale_timeout=60``) win over these.
POOL_DEFAULTS = {
    "max_connections": 32,  # a thread holds one while it serves a request or runs jobs
    "stale_timeout": 300,  # seconds: older connections are closed when they come back
    "timeout": 10,  # seconds to wait for a free connection before MaxConnectionsExceeded
}

_pools: dict[str, pw.Database] = {}

# peewee logs each SQL statement at DEBUG on the "peewee" logger (the query-count
# tests count them); keep the pool's check-in/check-out chatter out of that log.
logging.getLogger("peewee.pool").setLevel(logging.INFO)


def bind_database(url: str) -> pw.Database:
    """Bind the proxy to the connection pool of the database at ``url``
    (nothing connects until the first query) and return it.

    ``sqlite://`` and ``postgresql://`` URLs get peewee's pooled classes (as if
    written ``sqlite+pool://``): a request borrows a connection at its start and
    gives it back at teardown (``close_connection``), so SQLite keeps its page
    cache and parsed schema, and PostgreSQL does not start a backend per
    request. SQLite pragmas are set on each new connection. Binding a URL again
    (each test builds an app) reuses its pool instead of leaking the old one.
    """
    database = _pools.get(url)
    if database is None:
        database = _pools[url] = _pooled(url)
    db.initialize(database)
    return database


def _pooled(url: str) -> pw.Database:
    scheme, rest = url.split("://", 1)
    if not scheme.endswith("+pool") and f"{scheme}+pool" in schemes:
        scheme += "+pool"
    given = parse_qs(urlparse(url).query)
    options = {name: value for name, value in POOL_DEFAULTS.items() if name not in given}
    if scheme.startswith("sqlite"):
        # Pragmas on every new connection; a connection given back by one
        # thread may be borrowed by another.
        options.update(pragmas=SQLITE_PRAGMAS, check_same_thread=False)
    return connect(f"{scheme}://{rest}", **options)


class Shape:
    """A query whose SQL text is built once per database (and per ``variant``)
    and then run with other ids: peewee spends longer building the text of a
    query of many columns and joins than SQLite spends running it (PERF.md).

    ``build(variant, *ids)`` returns the query; each of ``run``'s ids (ints: a record's
    or a user's id) must reach the SQL as a parameter only, never shape it; what
    does shape it (a role) goes in ``variant``. ``run`` returns the rows as the
    query itself would (the same cursor wrapper)."""

    _MARK = -7_314_159_265_358_979  # stands for the ids while the text is built

    def __init__(self, build: Callable):
        self.build = build

    def run(self, *ids: int, variant=None):
        database = db.obj
        built = database.__dict__.setdefault("_leadflow_shapes", {})
        key = (self, variant, len(ids))
        if key not in built:
            marks = [self._MARK - n for n in range(len(ids))]
            query = self.build(variant, *marks)
            sql, params = database.get_sql_context().sql(query).query()
            slots = [(at, marks.index(value)) for at, value in enumerate(params) if value in marks]
            if {n for _, n in slots} != set(range(len(ids))):
                raise ValueError("every id must reach the query as a parameter")
            built[key] = (query, sql, params, slots)
        query, sql, params, slots = built[key]
        params = list(params)
        for at, n in slots:
            params[at] = int(ids[n])
        return query._get_cursor_wrapper(database.execute_sql(sql, params))


def _forget_inherited_connections() -> None:
    """In a forked child (an RQ worker that forks per job, gunicorn --preload)
    never reuse the parent's connections: start from empty pools."""
    for database in _pools.values():
        database.dispose()


os.register_at_fork(after_in_child=_forget_inherited_connections)


def close_connection(optimize: bool = True) -> None:
    """Give this thread's connection back to its pool (at request teardown).

    On SQLite, first ``PRAGMA optimize``: it ANALYZEs the tables this
    connection used whose planner statistics are missing (new indexes, a new
    install) or far off (the table grew ~25-fold); without statistics SQLite
    guesses and can pick a poor index. Usually there is nothing to do (~0.02 ms);
    an ANALYZE of the 100k-lead table takes ~0.1 s, once. Workers give their
    connection back after every job with ``optimize=False``: there it would
    contend for SQLite's lock with the other workers dozens of times a second."""
    if db.is_closed():
        return
    try:
        if optimize and is_sqlite() and not db.in_transaction():
            # On the raw connection: housekeeping after the response, not one of
            # the page's queries (those are logged and counted by peewee).
            db.connection().execute("PRAGMA optimize")
    except sqlite3.DatabaseError:
        log.warning("PRAGMA optimize failed", exc_info=True)  # housekeeping: never fail the request
    finally:
        db.close()


def is_sqlite() -> bool:
    """True when the bound database is SQLite."""
    return isinstance(db.obj, pw.SqliteDatabase)


@contextmanager
def transaction():
    """A write transaction. SQLite takes the write lock up front (IMMEDIATE), so
    concurrent workers wait on the busy timeout instead of failing mid-way.

    The outermost one runs the follow-ups registered meanwhile: ``gather``
    flushes just before the commit (inside the transaction, so what they write
    commits or rolls back with the change), ``on_commit`` callbacks run after
    it (enqueueing jobs: a job never starts before the rows it reads exist)."""
    if db.in_transaction():
        with db.atomic() as txn:  # a savepoint inside the caller's transaction
            yield txn
        return
    hooks = _Hooks()
    _local.hooks = hooks
    try:
        with db.atomic("IMMEDIATE") if is_sqlite() else db.atomic() as txn:
            yield txn
            hooks.flush()
    finally:
        _local.hooks = None
    hooks.after_commit()


class _Hooks:
    """The follow-ups of one outermost transaction."""

    def __init__(self):
        self.gathered: dict[str, tuple[Callable, set]] = {}
        self.callbacks: list[Callable[[], None]] = []

    def flush(self) -> None:
        while self.gathered:  # a flush may gather more (a follow-up of a follow-up)
            key = next(iter(self.gathered))
            flush, items = self.gathered.pop(key)
            flush(items)

    def after_commit(self) -> None:
        for callback in self.callbacks:
            try:
                callback()
            except Exception:  # e.g. Redis away: what was stored is safe, the sweeper enqueues it
                log.exception("after-commit follow-up failed; the sweeper will catch up")


_local = threading.local()


def _hooks() -> _Hooks | None:
    hooks = getattr(_local, "hooks", None)
    return hooks if hooks is not None and db.in_transaction() else None


def gather(key: str, items: Iterable, flush: Callable[[set], None]) -> None:
    """Add ``items`` to the set ``key`` of the current transaction; ``flush(set)``
    runs once, just before it commits (so a 10,000-row import marks its leads
    in one write, not 10,000). Outside ``transaction()``: flush now."""
    hooks = _hooks()
    if hooks is None:
        flush(set(items))
        return
    held = hooks.gathered.setdefault(key, (flush, set()))
    held[1].update(items)


def on_commit(callback: Callable[[], None]) -> None:
    """Run ``callback`` after the current transaction commits (never if it rolls
    back); outside ``transaction()``, now."""
    hooks = _hooks()
    if hooks is None:
        try:
            callback()
        except Exception:
            log.exception("follow-up failed; the sweeper will catch up")
        return
    hooks.callbacks.append(callback)


RETRYABLE = {"40P01", "40001"}  # PostgreSQL: deadlock detected, serialization failure
RETRIES = 3


_retrying = threading.local()


def retried(work: Callable, attempts: int = RETRIES):
    """``work()`` (a whole transaction), run again when PostgreSQL ends it with a
    deadlock or a serialization failure: it was rolled back whole, so trying
    again is safe, and answering 500 for it is not (O2).

    Inside another ``retried`` (an API call that stores interactions), ``work``
    runs once: the outer one runs the whole again, and nested retries would
    multiply the attempts (3 × 3) for one request."""
    if getattr(_retrying, "active", False):
        return work()
    _retrying.active = True
    try:
        return _retried(work, attempts)
    finally:
        _retrying.active = False


def _retried(work: Callable, attempts: int):
    for attempt in range(1, attempts + 1):
        try:
            return work()
        except (pw.OperationalError, pw.InternalError) as error:
            code = getattr(getattr(error, "orig", None), "pgcode", None)
            if code not in RETRYABLE or attempt == attempts:
                raise
            log.warning("transaction ended by PostgreSQL (%s); trying again (%d/%d)", code, attempt, attempts)
            time.sleep(0.01 * attempt)


def retrying(view: Callable) -> Callable:
    """``view`` run through ``retried``: a request whose transaction PostgreSQL
    ended with a deadlock or a serialization failure is served again, whole."""

    @functools.wraps(view)
    def run(*args, **kwargs):
        return retried(lambda: view(*args, **kwargs))

    return run


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
