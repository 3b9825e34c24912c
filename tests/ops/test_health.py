"""O3: liveness and readiness. ``/readyz`` asks the database, Redis, the
migrations, the workers' heartbeats and the sweeper, with a real ``flask
worker`` process for the worker and the sweeper, a redis-server of the test's
own that it kills, and a database nobody listens for; the answer says which
part fails and nothing more."""

from __future__ import annotations

import os
import secrets
import time

import pytest
from rq import Worker

from leads.base.db import db
from leads.base.queue import QUEUE_NAMES, get_queue, get_redis
from leads.base.sweep import last_sweep_key
from leads.base.worker import HEARTBEAT_SECONDS, _heartbeat_seconds
from tests.conftest import PG_AVAILABLE, PG_URL, make_app
from tests.faults.harness import RedisServer, WorkerProcess, free_port, wait_for

CHECKS = {"database", "redis", "migrations", "workers", "sweeper"}
BEAT = 2  # seconds between a test worker's heartbeats


def _ready(client):
    response = client.get("/readyz")
    body = response.get_json()
    assert set(body) == {"status", "checks"} and set(body["checks"]) == CHECKS, body
    assert set(body["checks"].values()) <= {"ok", "failing"}, body  # no error text, host or version
    return response.status_code, body


def _failing(body) -> set[str]:
    return {name for name, state in body["checks"].items() if state == "failing"}


def test_healthz_says_the_process_answers_without_signing_in(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.get_json() == {"status": "ok"}


@pytest.fixture
def own_redis(tmp_path):
    server = RedisServer(str(tmp_path)).start()
    yield server
    server.kill()


@pytest.mark.parametrize("backend_name", ["sqlite", "postgres"])
def test_ready_with_a_live_worker_whose_heartbeat_keeps_coming(
    backend_name, database_urls, tmp_root, tmp_path, own_redis
):
    """200 once a real worker has registered and its sweeper has swept; the
    worker beats again while idle (RQ alone would wait ~405 s), and after Redis
    is emptied it registers again, so the install is ready again by itself."""
    if backend_name == "postgres" and not PG_AVAILABLE:
        pytest.skip(f"PostgreSQL not reachable at {PG_URL}; this PostgreSQL run is skipped")
    app = make_app(database_urls[backend_name], own_redis.url, tmp_root)
    client = app.test_client()
    status, body = _ready(client)
    assert status == 503 and _failing(body) == {"workers", "sweeper"}, body

    env = dict(
        os.environ,
        DATABASE_URL=app.config["DATABASE_URL"],
        REDIS_URL=own_redis.url,
        QUEUE_PREFIX=app.config["QUEUE_PREFIX"],
        SECRET_KEY="health-test",
        WORKER_HEARTBEAT_SECONDS=str(BEAT),  # the same beats, sooner: the test waits for two
    )
    worker = WorkerProcess(env, str(tmp_path / "worker.log"))
    try:
        answer = wait_for(lambda: _ready(client)[0] == 200, 60, 0.5)
        assert answer, f"{_ready(client)[1]}\n{worker.tail()}"
        assert _ready(client)[1] == {"status": "ready", "checks": dict.fromkeys(CHECKS, "ok")}

        def beat():
            (found,) = Worker.all(queue=get_queue("default", app, own_redis.client()))
            return found.last_heartbeat

        first = beat()
        assert wait_for(lambda: beat() > first, BEAT + 5, 0.5), worker.tail()

        own_redis.client().flushall()  # Redis emptied (O2): ready again within 30 s, by itself
        assert _ready(client)[0] == 503
        assert wait_for(lambda: _ready(client)[0] == 200, 30, 0.5), f"{_ready(client)[1]}\n{worker.tail()}"
    finally:
        worker.kill9()
        db.connect(reuse_if_open=True)


def test_not_ready_when_redis_is_down(database_urls, tmp_root, own_redis):
    """A Redis that went away: 503, redis failing (and what needs Redis to be
    seen), the database still ok; answered at once, not after retries."""
    client = make_app(database_urls["sqlite"], own_redis.url, tmp_root).test_client()
    assert _ready(client)[1]["checks"]["redis"] == "ok"
    own_redis.kill()
    started = time.monotonic()
    status, body = _ready(client)
    assert time.monotonic() - started < 5
    assert status == 503 and body["status"] == "not ready"
    assert _failing(body) == {"redis", "workers", "sweeper"}, body


def test_not_ready_when_no_worker_is_alive(app):
    """Swept a moment ago, but no worker: one that has stopped does not count."""
    with app.app_context():
        redis = get_redis()
        redis.set(last_sweep_key(app), f"{time.time():.3f}")
        gone = Worker([get_queue(name) for name in QUEUE_NAMES], connection=redis)
        gone.register_birth()
        gone.register_death()
    status, body = _ready(app.test_client())
    assert status == 503 and _failing(body) == {"workers"}, body


def test_not_ready_when_the_sweeper_has_not_swept_for_a_minute(app):
    with app.app_context():
        get_redis().set(last_sweep_key(app), f"{time.time() - 90:.3f}")
    status, body = _ready(app.test_client())
    assert status == 503 and "sweeper" in _failing(body)


def test_not_ready_when_a_migration_is_pending(redis_url, tmp_root, tmp_path):
    app = make_app(f"sqlite:///{tmp_path / 'behind.db'}", redis_url, tmp_root)
    db.execute_sql('DELETE FROM "migratehistory" WHERE id = (SELECT MAX(id) FROM "migratehistory")')
    status, body = _ready(app.test_client())
    assert status == 503 and "migrations" in _failing(body)
    assert "database" not in _failing(body)


def test_a_database_nobody_answers_is_failing_not_a_500(redis_url):
    from app import create_app

    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": secrets.token_hex(8),
            "DATABASE_URL": f"postgresql://postgres@127.0.0.1:{free_port()}/nowhere",
            "REDIS_URL": redis_url,
            "QUEUE_PREFIX": f"lftest-down-{secrets.token_hex(4)}",
            "RATELIMIT_STORAGE_URI": "memory://",
        }
    )
    client = app.test_client()
    assert client.get("/healthz").status_code == 200
    status, body = _ready(client)
    assert status == 503 and {"database", "migrations"} <= _failing(body)
    assert body["checks"]["redis"] == "ok"
    scrape = client.get("/metrics")  # the figures the database holds are left out, the rest answered
    assert scrape.status_code == 200 and "leadflow_queue_depth" in scrape.get_data(as_text=True)
    assert "leadflow_pending_scores" not in scrape.get_data(as_text=True)


@pytest.mark.parametrize("given, seconds", [(None, 10.0), ("3", 3.0), ("0", 1.0), ("90", 25.0), ("soon", 10.0)])
def test_o3_the_heartbeat_interval_stays_well_inside_the_readiness_window(monkeypatch, given, seconds):
    """WORKER_HEARTBEAT_SECONDS is kept between 1 and 25 s: a beat always lands
    within the 30 s the readiness check allows."""
    if given is None:
        monkeypatch.delenv("WORKER_HEARTBEAT_SECONDS", raising=False)
    else:
        monkeypatch.setenv("WORKER_HEARTBEAT_SECONDS", given)
    assert _heartbeat_seconds() == seconds
    assert HEARTBEAT_SECONDS <= 25
