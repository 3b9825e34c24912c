"""The database handle (leads/base/db.py): pooled connections on both backends,
given back at request teardown, SQLite pragmas on every pooled connection,
``PRAGMA optimize`` at teardown, RQ jobs on pooled connections, and no
connection shared with a forked child."""

from __future__ import annotations

import os

import peewee as pw
from playhouse.pool import PooledDatabase, PooledPostgresqlDatabase, PooledSqliteDatabase

from leads.base.db import POOL_DEFAULTS, SQLITE_PRAGMAS, bind_database, db
from leads.records.models import Lead
from tests.factories import login, make_lead, make_user


def count_leads_job() -> int:
    """An RQ job (enqueued by dotted path): a query on whatever connection the worker gets."""
    return Lead.select().count()


def test_urls_get_pooled_databases_and_url_settings_win(tmp_path):
    """A plain URL gets the pooled class and the defaults; a setting written in
    the URL is kept; binding a URL again reuses its pool."""
    current = db.obj
    try:
        url = f"sqlite:///{tmp_path / 'pool.db'}"
        sqlite = bind_database(url)
        assert isinstance(sqlite, PooledSqliteDatabase)
        assert sqlite._max_connections == POOL_DEFAULTS["max_connections"]
        assert bind_database(url) is sqlite and db.obj is sqlite
        tuned = bind_database(f"sqlite+pool:///{tmp_path / 'tuned.db'}?max_connections=3")
        assert isinstance(tuned, PooledSqliteDatabase) and tuned._max_connections == 3
        postgres = bind_database("postgresql://nobody@127.0.0.1:1/never_connected")
        assert isinstance(postgres, PooledPostgresqlDatabase)  # nothing connects until a query
    finally:
        db.initialize(current)


def test_a_request_gives_its_connection_back_and_the_next_one_reuses_it(app):
    client = login(app.test_client(), make_user("manager"))
    db.close()
    assert client.get("/leads").status_code == 200
    assert db.is_closed()  # given back at teardown
    assert isinstance(db.obj, PooledDatabase) and len(db.obj._in_use) == 0
    idle = {id(conn) for _, _, conn in db.obj._connections}
    assert client.get("/leads").status_code == 200
    assert {id(conn) for _, _, conn in db.obj._connections} == idle  # no new connection


def test_sqlite_pragmas_hold_on_every_pooled_connection(sqlite_app):
    client = login(sqlite_app.test_client(), make_user("manager"))
    db.close()
    client.get("/leads")
    db.connect()  # a connection that has served a request
    try:
        for pragma, expected in (("journal_mode", "wal"), ("foreign_keys", 1), ("synchronous", 1)):
            assert db.execute_sql(f"PRAGMA {pragma}").fetchone()[0] == expected, pragma
        assert db.execute_sql("PRAGMA busy_timeout").fetchone()[0] == SQLITE_PRAGMAS["busy_timeout"]
        assert db.execute_sql("PRAGMA cache_size").fetchone()[0] == SQLITE_PRAGMAS["cache_size"]
    finally:
        db.close()


def test_pragma_optimize_at_teardown_gathers_missing_statistics(sqlite_app):
    """Without statistics SQLite guesses which index to use: the teardown's
    PRAGMA optimize analyzes the tables a request used that have none."""
    client = login(sqlite_app.test_client(), make_user("manager"))
    for n in range(3):
        make_lead(stage=n + 1)
    db.execute_sql("DROP TABLE IF EXISTS sqlite_stat1")  # as on a database never analyzed
    db.obj.manual_close()  # this connection still holds the old statistics in memory
    assert client.get("/leads?stage=2").status_code == 200
    tables = {row[0] for row in db.execute_sql("SELECT DISTINCT tbl FROM sqlite_stat1")}
    assert "lead" in tables


def test_a_worker_job_runs_on_a_pooled_connection(app, run_jobs):
    from leads.base.queue import enqueue, get_queue

    make_lead()
    make_lead()
    with app.app_context():
        job_id = enqueue("tests.base.test_db.count_leads_job", job_id="count-leads").id
    run_jobs()
    with app.app_context():
        job = get_queue().fetch_job(job_id)
        assert job.get_status() == "finished" and job.return_value() == 2


def test_a_forked_child_never_reuses_the_parents_connections(app):
    """An RQ worker that forks per job, or gunicorn --preload, must not share a
    connection (a PostgreSQL socket, an SQLite handle) with its parent."""
    make_lead()
    make_lead()
    db.close()
    assert db.obj._connections  # one idle connection in the parent's pool
    pid = os.fork()
    if pid == 0:  # the child: empty pool, no connection; then a fresh one that works
        clean = not db.obj._connections and not db.obj._in_use and db.is_closed()
        try:
            works = Lead.select().count() == 2
            db.obj.close_all()
        except pw.DatabaseError:
            works = False
        os._exit(0 if clean and works else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert Lead.select().count() == 2  # the parent's pool still works
