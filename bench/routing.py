"""End-to-end routing through the queue (R1): routing decisions per second with
1, 2 and 4 worker processes, and sales-ready → assigned latency p50/p95 at each.

Run: ``.venv/bin/python bench/routing.py [--leads 1000] [--workers 1,2,4]
[--no-sqlite] [--no-postgres]``.

For each backend (SQLite file; PostgreSQL when ``postgresql://postgres@127.0.0.1:5432/``
answers, in a throwaway database) it migrates a fresh database, adds 4 product
lines, 20 reps (5 per line, capacity 10,000), 10 assignment rules (owners
first, lines by country, a catch-all), then:

- **throughput**: 1, 2, then 4 real worker processes (``flask worker``) are
  started and, once each listens on the queue, ``--leads`` sales-ready leads
  are handed to routing as the hook does (``routing.assign.route_later``
  each, in one transaction: one ``route_waiting`` job per product line).
  Decisions/s = leads / the span from the hand-off to the last stored
  decision. CPU per decision: the workers' CPU (user + system of their
  processes over that span) and the PostgreSQL backends' CPU (their processes
  sampled), each / leads; "cores busy" = (workers' + backends' CPU) / the
  span: near 2 on this 2-core machine, more workers cannot route faster. On
  PostgreSQL a sampler counts the backends waiting for a lock every 5 ms: the
  workers' lock wait per decision.
- **latency**: as many workers run (once each listens on the queue); leads are made sales-ready one by one through the
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


class LockWaits:
    """Samples, every ``every`` s, how many of the benchmark database's backends
    wait for a lock (``pg_stat_activity.wait_event_type = 'Lock'``: the routing
    advisory locks and row locks): their sum × ``every`` ≈ the workers' total
    time spent waiting for a lock. Every 20th sample also reads the CPU time
    of each of the database's backends (``cpu``: the last seen per backend)."""

    def __init__(self, url: str, every: float = 0.005):
        import threading

        self.url, self.every, self.samples, self.waiting = url, every, 0, 0
        self.cpu_by_pid: dict[int, float] = {}
        self.base: dict[int, float] = {}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        import psycopg2

        name = self.url.rsplit("/", 1)[1]
        connection = psycopg2.connect(self.url)
        connection.autocommit = True
        cursor = connection.cursor()
        while not self.stop.wait(self.every):
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND wait_event_type = 'Lock'",
                (name,),
            )
            self.waiting += cursor.fetchone()[0]
            self.samples += 1
            if self.samples % 20 == 1:
                self.read_cpu(cursor, name)
        self.read_cpu(cursor, name)
        connection.close()

    def read_cpu(self, cursor, name: str) -> None:
        import psutil

        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", (name,)
        )
        for (pid,) in cursor.fetchall():
            try:
                times = psutil.Process(pid).cpu_times()
            except psutil.Error:
                continue
            self.cpu_by_pid[pid] = times.user + times.system

    @property
    def cpu(self) -> float:
        """The backends' CPU seconds since ``__enter__``."""
        return sum(seconds - self.base.get(pid, 0.0) for pid, seconds in self.cpu_by_pid.items())

    def __enter__(self):
        import psycopg2

        connection = psycopg2.connect(self.url)
        self.read_cpu(connection.cursor(), self.url.rsplit("/", 1)[1])
        connection.close()
        self.base, self.cpu_by_pid = dict(self.cpu_by_pid), {}
        self.thread.start()
        return self

    def __exit__(self, *_):
        self.stop.set()
        self.thread.join()

    @property
    def seconds(self) -> float:
        return self.waiting * self.every


def worker_cpu(processes) -> float:
    """CPU seconds (user + system) the worker processes have used so far."""
    import psutil

    total = 0.0
    for process in processes:
        try:
            times = psutil.Process(process.pid).cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system
    return total


def throughput(app, lines, count: int, worker_count: int) -> dict:
    """Decisions per second with ``worker_count`` running workers over
    ``count`` leads handed to routing at once, CPU per decision and
    (PostgreSQL) the mean lock wait per decision in ms."""
    import datetime as dt

    import peewee as pw

    from leads.base.db import transaction
    from leads.records.models import Lead
    from routing import assign
    from routing.models import Assignment

    ids = make_leads(app, lines, count, ready=True)
    running = workers(app, worker_count, burst=False)
    try:
        ready(app, worker_count)
        url = app.config["DATABASE_URL"]
        waits = LockWaits(url) if url.startswith("postgresql") else None
        if waits:
            waits.__enter__()
        cpu_before, handed = worker_cpu(running), dt.datetime.utcnow()
        with app.app_context():
            with transaction():
                for lead in Lead.select().where(Lead.id.in_(ids)):
                    assign.route_later(lead)  # what the hook does: one job per product line
            routed = Assignment.select().where(
                Assignment.lead.between(ids[0], ids[-1])
            )  # ids are consecutive
            deadline = time.monotonic() + 600
            while routed.count() < count and time.monotonic() < deadline:
                time.sleep(0.1)
            cpu = worker_cpu(running) - cpu_before
            if waits:
                waits.__exit__()
            last = routed.select(pw.fn.MAX(Assignment.created_at)).scalar()
            assert routed.count() == count, (routed.count(), count)
    finally:
        for process in running:
            process.terminate()
            process.wait(timeout=30)
    span = max((last - handed).total_seconds(), 1e-3)
    backends = waits.cpu if waits else 0.0
    return {
        "per_second": count / span,
        "lock_ms": waits.seconds / count * 1000 if waits else None,
        "worker_cpu_ms": cpu / count * 1000,
        "db_cpu_ms": backends / count * 1000 if waits else None,
        "cores": (cpu + backends) / span,
    }


def ready(app, worker_count: int, timeout: float = 120) -> None:
    """Wait until ``worker_count`` workers listen on the routing queue (on a
    loaded machine a worker takes seconds to start: latency is measured from
    there, not from process start), then a second more for their first sweep."""
    from rq import Worker

    from leads.base.queue import ROUTING, get_queue

    deadline = time.monotonic() + timeout
    with app.app_context():
        queue = get_queue(ROUTING)
        while len(Worker.all(queue=queue)) < worker_count and time.monotonic() < deadline:
            time.sleep(0.1)
    time.sleep(1)


def latency(app, lines, count: int, rate: float, worker_count: int = 2) -> list[float]:
    """Seconds from sales-ready to assigned for ``count`` leads arriving at
    ``rate``/s with ``worker_count`` workers running."""
    from leads.records.models import Lead
    from leads.scoring.jobs import leads_qualified
    from leads.stages.services import perform
    from routing.models import Assignment

    ids = make_leads(app, lines, count, ready=False)
    running = workers(app, worker_count, burst=False)
    ready(app, worker_count)
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


def run(name: str, url: str, count: int, rate: float, counts=(1, 2, 4)) -> None:
    app, lines = setup(url)
    for worker_count in counts:
        load = os.getloadavg()[0]
        done = throughput(app, lines, count, worker_count)
        waits = latency(app, lines, min(count, 300), rate, worker_count)
        lock = f", lock wait {done['lock_ms']:4.1f} ms/decision" if done["lock_ms"] is not None else ""
        db_cpu = f" + database {done['db_cpu_ms']:4.2f}" if done["db_cpu_ms"] is not None else ""
        print(
            f"{name:10} {worker_count} worker{'s' if worker_count > 1 else ' '}: {done['per_second']:6.0f} decisions/s"
            f"{lock}; CPU/decision: workers {done['worker_cpu_ms']:4.2f} ms"
            f"{db_cpu}, cores busy {done['cores']:3.1f}"
            f" | sales-ready → assigned at {rate:.0f}/s: p50 {statistics.median(waits) * 1000:5.0f} ms,"
            f" p95 {percentile(waits, 0.95) * 1000:5.0f} ms (n={len(waits)}) | load average {load:.1f}",
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
    parser.add_argument("--workers", default="1,2,4", help="worker counts to run, comma-separated")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true")
    args = parser.parse_args()
    counts = [int(n) for n in args.workers.split(",")]
    if not args.no_sqlite:
        with tempfile.TemporaryDirectory(prefix="bench-routing-") as tmp:
            run("SQLite", f"sqlite:///{os.path.join(tmp, 'bench.db')}", args.leads, args.rate, counts)
    if args.no_postgres:
        return
    import psycopg2

    name = f"leadflow_bench_routing_{os.getpid()}"
    admin = psycopg2.connect(PG_ADMIN)
    admin.autocommit = True
    admin.cursor().execute(f'CREATE DATABASE "{name}"')
    try:
        run("PostgreSQL", PG_ADMIN.rsplit("/", 1)[0] + "/" + name, args.leads, args.rate, counts)
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
