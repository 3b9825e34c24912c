"""What every benchmark of ``bench/`` shares: the app on a database of its own,
sign-in through the real form, a timer of the SQL a request runs, a throwaway
PostgreSQL database, and the run itself: the report's header, SQLite then
PostgreSQL when reachable, and the report written to ``bench/results/``."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import re
import secrets
import sqlite3
import statistics
import sys
import tempfile
from collections.abc import Callable
from contextlib import contextmanager

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Before bench/ (a script's own folder): ``routing`` is the package, not bench/routing.py.
sys.path.insert(0, ROOT)

import psycopg2  # noqa: E402

PG_ADMIN_URL = os.environ.get("LEADFLOW_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("LEADFLOW_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
PASSWORD = "bench-password-123"


def make_app(database_url: str, tmp: str):
    """The app on ``database_url``, with its own queue and rate-limit prefixes."""
    from app import create_app

    prefix = f"leadflow-bench-{os.getpid()}-{secrets.token_hex(3)}"
    app = create_app(
        {
            "DATABASE_URL": database_url,
            "REDIS_URL": REDIS_URL,
            "SECRET_KEY": secrets.token_hex(16),
            "SESSION_COOKIE_SECURE": False,
            "QUEUE_PREFIX": prefix,
            "RATELIMIT_KEY_PREFIX": prefix,
            "RATELIMIT_ENABLED": False,
        }
    )
    app.instance_path = tmp
    return app


def sign_in(client, user) -> None:
    """Sign in through the real form (CSRF token included)."""
    html = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)
    response = client.post("/login", data={"email": user.email, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302, response.status_code


class SqlTimer:
    """Counts the statements a request runs and the time spent in them (peewee's
    query hooks: from sending a statement to its first row; the rest of the
    rows are read while peewee builds the objects)."""

    def __init__(self):
        self.queries, self.seconds = 0, 0.0

    def __call__(self, event) -> None:
        self.queries += 1
        self.seconds += event.duration


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1]


def pg_version(database_url: str) -> str:
    connection = psycopg2.connect(database_url)
    version = connection.server_version  # e.g. 150020
    connection.close()
    return f"{version // 10000}.{version % 10000}"


def pg_maintenance(database_url: str, statement: str) -> None:
    """Run VACUUM / ANALYZE (they refuse to run inside a transaction)."""
    connection = psycopg2.connect(database_url)
    connection.autocommit = True
    connection.cursor().execute(statement)
    connection.close()


def pg_reachable() -> bool:
    try:
        psycopg2.connect(PG_ADMIN_URL, connect_timeout=2).close()
        return True
    except psycopg2.Error:
        return False


@contextmanager
def throwaway_pg_database():
    """A fresh PostgreSQL database ``leadflow_bench_<pid>``, dropped afterwards."""
    name = f"leadflow_bench_{os.getpid()}"
    admin = psycopg2.connect(PG_ADMIN_URL)
    admin.autocommit = True
    admin.cursor().execute(f'CREATE DATABASE "{name}"')
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        cursor = admin.cursor()
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        )
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.close()


def new_report(goal: str, **sizes) -> dict:
    """The head of a benchmark's report: when, its sizes, the machine, its goal."""
    return {
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        **sizes,
        "python": platform.python_version(),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
        "goal": goal,
        "backends": {},
    }


def run_backends(report: dict, run_backend: Callable[[str, str, str, object], dict], options) -> None:
    """``run_backend(name, database_url, tmp, options)`` on a fresh SQLite file,
    then on a throwaway PostgreSQL database unless ``--no-postgres`` or the
    server is not reachable (said on a line); each backend's figures and
    version go to ``report["backends"]``."""
    with tempfile.TemporaryDirectory(prefix="leadflow-bench-") as tmp:
        url = f"sqlite:///{os.path.join(tmp, 'bench.db')}"
        report["backends"]["sqlite"] = run_backend("sqlite", url, tmp, options)
        report["backends"]["sqlite"]["version"] = sqlite3.sqlite_version
    if getattr(options, "no_postgres", False):
        print("PostgreSQL: skipped (--no-postgres)")
    elif not pg_reachable():
        print(f"PostgreSQL: not reachable at {PG_ADMIN_URL}, skipped")
    else:
        with throwaway_pg_database() as pg_url, tempfile.TemporaryDirectory(prefix="leadflow-bench-") as tmp:
            report["backends"]["postgres"] = run_backend("postgres", pg_url, tmp, options)
            report["backends"]["postgres"]["version"] = pg_version(pg_url)


def write_report(report: dict, path: str) -> None:
    """The report as JSON under ``bench/results/`` (not in git)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as fh:
        json.dump(report, fh, indent=2)
    print(f"written: {os.path.relpath(path, ROOT)}")
