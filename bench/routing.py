"""End-to-end routing through the queue (R1): routing decisions per second with
1 and 2 worker processes, and sales-ready → assigned latency p50/p95.

Run: ``.venv/bin/python bench/routing.py [--leads 1000] [--no-postgres]``.

For each backend (SQLite file; PostgreSQL when ``postgresql://postgres@127.0.0.1:5432/``
answers, in a throwaway database) it migrates a fresh database, adds 4 product
lines, 20 reps (5 per line, capacity 10,000), 10 assignment rules (owners
first, lines by country, a catch-all), then:

- **throughput**: ``--leads`` sales-ready leads are enqueued (one
  ``routing.jobs.route_lead`` job each, as the hook does) and 1, then 2, real
  worker processes (``flask worker --burst``) drain the queue; decisions/s =
  leads / wall time of the workers (process start included).
- **latency**: 2 workers run; leads are made sales-ready one by one through the
  real path (``perform(..., "sales_ready")`` as the system, then the hook
  ``leads.scoring.jobs.leads_qualified``) at a steady rate; latency = the assignment's
  ``created_at`` − the moment before the lead was marked sales-ready.

Needs a Redis at ``REDIS_URL`` (default redis://127.0.0.1:6379/0).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
LINES, REPS_PER_LINE = 4, 5
COUNTRIES = ("DE", "FR", "GB", "US", "ES")


def _cond(entity, field, operator, value):
    return {"entity": entity, "field": field, "operator": operator, "value": value}


def setup(url: str):
    """A migrated database with reps, product lines and 10 rules; returns the app."""
    from app import create_app
    from leads.base.migrate import upgrade

    prefix = f"bench-routing-{uuid.uuid4().hex[:8]}"
    app = create_app({"DATABASE_URL": url, "REDIS_URL": REDIS, "QUEUE_PREFIX": prefix})
    with app.app_context():
        upgrade()
        from auth.models import User
        from leads.records.models import ProductLine
        from routing import manage

        lines = [ProductLine.create(name=f"Line {n}", code=f"L{n}") for n in range(LINES)]
        for line in lines:
            for n in range(REPS_PER_LINE):
                rep = User.create(email=f"rep{line.id}-{n}@bench.test", name=f"Rep {line.id}.{n}", role="rep")
                manage.save_profile(rep, 10_000, None, None, [line.id])
        rules = [{"name": "Owners", "strategy": "relationship_owner"}]
        for line in lines[:3]:
            for country, strategy in (("DE", "least_loaded"), ("FR", "round_robin")):
                rules.append(
                    {
                        "name": f"{line.name} {country}",
                        "strategy": strategy,
                        "conditions": {
                            "op": "and",
                            "items": [
                                _cond("lead", "product_line_id", "equals", line.id),
                                _cond("lead", "country", "equals", country),
                            ],
                        },
                    }
                )
        rules.append(
            {
                "name": "Events",
                "strategy": "round_robin",
                "conditions": _cond("lead", "source", "equals", "event"),
            }
        )
        rules.append({"name": "Every line", "strategy": "round_robin", "pool": "product_line"})
        for rule in rules[:10]:
            manage.save_rule(rule, None)
    return app, [line.id for line in lines]


def make_leads(app, lines, count: int, ready: bool):
    from leads.core import lifecycle
    from leads.records.models import Lead

    rows = [
        {
            "topic": f"Bench {n}",
            "last_name": f"Bench{n}",
            "country": COUNTRIES[n % len(COUNTRIES)],
            "product_line": lines[n % len(lines)],
            "stage": lifecycle.SALES_ACCEPTANCE if ready else lifecycle.AUTOMATED_QUALIFICATION,
            "sales_ready": ready,
        }
        for n in range(count)
    ]
    with app.app_context():
        first = (Lead.select(Lead.id).order_by(Lead.id.desc()).scalar() or 0) + 1
        for start in range(0, count, 500):
            Lead.insert_many(rows[start : start + 500]).execute()
        return [i for (i,) in Lead.select(Lead.id).where(Lead.id >= first).order_by(Lead.id).tuples()]


def workers(app, count: int, burst: bool):
    env = dict(
        os.environ,
        DATABASE_URL=app.config["DATABASE_URL"],
        REDIS_URL=REDIS,
        QUEUE_PREFIX=app.config["QUEUE_PREFIX"],
    )
    command = [sys.executable, "-m", "flask", "--app", "app", "worker"] + (["--burst"] if burst else [])
    return [subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL) for _ in range(count)]


def throughput(app, lines, count: int, worker_count: int) -> float:
    """Decisions per second with ``worker_count`` burst workers over ``count`` queued leads."""
    from leads.base.queue import get_queue
    from routing.models import Assignment

    ids = make_leads(app, lines, count, ready=True)
    with app.app_context():
        queue = get_queue()
        queue.enqueue_many(
            [queue.prepare_data("routing.jobs.route_lead", args=(i,), job_id=f"bench-{i}") for i in ids]
        )
    start = time.perf_counter()
    for process in workers(app, worker_count, burst=True):
        process.wait()
    elapsed = time.perf_counter() - start
    with app.app_context():
        routed = Assignment.select().where(Assignment.lead.in_(ids)).count()
    assert routed == count, (routed, count)
    return count / elapsed


def latency(app, lines, count: int, rate: float) -> list[float]:
    """Seconds from sales-ready to assigned for ``count`` leads arriving at ``rate``/s."""
    from leads.records.models import Lead
    from leads.scoring.jobs import leads_qualified
    from leads.stages.services import perform
    from routing.models import Assignment

    ids = make_leads(app, lines, count, ready=False)
    running = workers(app, 2, burst=False)
    time.sleep(3)  # let the workers start
    marked = {}
    with app.app_context():
        for lead_id in ids:
            began = time.time()
            perform(Lead.get_by_id(lead_id), "sales_ready", None, via="bench")
            leads_qualified([], [lead_id])
            marked[lead_id] = began
            time.sleep(max(0.0, 1 / rate - (time.time() - began)))
        deadline = time.time() + 60
        while Assignment.select().where(Assignment.lead.in_(ids)).count() < count and time.time() < deadline:
            time.sleep(0.2)
        created = dict(
            Assignment.select(Assignment.lead, Assignment.created_at).where(Assignment.lead.in_(ids)).tuples()
        )
    for process in running:
        process.terminate()
        process.wait(timeout=10)
    import datetime as dt

    epoch = dt.datetime(1970, 1, 1)
    return [(created[i] - epoch).total_seconds() - marked[i] for i in ids if i in created]


def percentile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def run(name: str, url: str, count: int, rate: float) -> None:
    app, lines = setup(url)
    one = throughput(app, lines, count, 1)
    two = throughput(app, lines, count, 2)
    waits = latency(app, lines, min(count, 300), rate)
    print(
        f"{name:9} decisions/s: 1 worker {one:6.0f}, 2 workers {two:6.0f} | "
        f"sales-ready → assigned at {rate:.0f}/s: p50 {statistics.median(waits) * 1000:5.0f} ms, "
        f"p95 {percentile(waits, 0.95) * 1000:5.0f} ms (n={len(waits)})",
        flush=True,
    )
    from leads.base.queue import get_redis

    with app.app_context():
        conn = get_redis()
        keys = list(conn.scan_iter(match=f"*{app.config['QUEUE_PREFIX']}*"))
        if keys:
            conn.delete(*keys)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--leads", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=20.0, help="sales-ready leads per second (latency)")
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-routing-") as tmp:
        run("SQLite", f"sqlite:///{os.path.join(tmp, 'bench.db')}", args.leads, args.rate)
    if args.no_postgres:
        return
    import psycopg2

    name = f"leadflow_bench_routing_{os.getpid()}"
    admin = psycopg2.connect(PG_ADMIN)
    admin.autocommit = True
    admin.cursor().execute(f'CREATE DATABASE "{name}"')
    try:
        run("PostgreSQL", PG_ADMIN.rsplit("/", 1)[0] + "/" + name, args.leads, args.rate)
    finally:
        from leads.base.db import db

        if not db.is_closed():
            db.close()
        for pool in __import__("leads.base.db", fromlist=["_pools"])._pools.values():
            pool.close_all()
        cur = admin.cursor()
        cur.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        )
        cur.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.close()


if __name__ == "__main__":
    main()
