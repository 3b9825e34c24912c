"""Benchmark of the lead page with 200 activities and the teleprospectors'
queue with 5,000 stage-3 leads (W1, W4), as the app is.

Builds a fresh SQLite file and, when the local server is reachable, a throwaway
PostgreSQL database; migrates each; loads 5,000 unclaimed stage-3 leads and one
lead with 200 activities (notes, calls and tasks written through
``leads.activities.services``, so notes and calls are interactions too) and a
history of 20 stage changes and field edits; signs a manager and a
teleprospector in through the real sign-in form; then times full requests
through the Flask test client, as ``bench/lead_list.py`` does.

Run from the repository root:  .venv/bin/python bench/lead_page.py [--requests N] [--no-postgres]
Results: a table on stdout and ``bench/results/lead_page.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import random
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from bench.common import (  # noqa: E402
    PASSWORD,
    SqlTimer,
    make_app,
    new_report,
    p95,
    pg_maintenance,
    run_backends,
    sign_in,
    write_report,
)
from bench.lead_list import FIRST, LAST  # noqa: E402

RESULTS = os.path.join(ROOT, "bench", "results", "lead_page.json")
GOAL_P95_MS = 50.0
QUEUE_LEADS = 5_000
ACTIVITIES = 200

# (case, who, path or a function of the loaded ids, htmx)
CASES = [
    ("lead page, 200 activities", "manager", lambda ids: f"/leads/{ids['busy']}", False),
    ("lead body (htmx)", "manager", lambda ids: f"/leads/{ids['busy']}", True),
    (
        "timeline, calls only (htmx)",
        "manager",
        lambda ids: f"/leads/{ids['busy']}/activities?kind=calls",
        True,
    ),
    (
        "tp queue, 5,000 unclaimed",
        "teleprospector",
        lambda ids: "/queues/teleprospecting?tab=unclaimed",
        False,
    ),
    (
        "tp queue, search (htmx)",
        "teleprospector",
        lambda ids: "/queues/teleprospecting?tab=unclaimed&q=mar",
        True,
    ),
    (
        "tp queue, page 50",
        "teleprospector",
        lambda ids: "/queues/teleprospecting?tab=unclaimed&page=50",
        False,
    ),
]
GOAL_CASES = {"lead page, 200 activities", "tp queue, 5,000 unclaimed"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200, help="timed requests per case")
    parser.add_argument("--no-postgres", action="store_true")
    options = parser.parse_args()
    logging.getLogger("leadflow").setLevel(logging.WARNING)  # one log line per request otherwise
    report = new_report(
        f"p95 < {GOAL_P95_MS:g} ms on SQLite for: {', '.join(sorted(GOAL_CASES))}",
        requests_per_case=options.requests,
    )
    run_backends(report, run_backend, options)
    print_table(report)
    report["verdict"] = verdict(report)
    print(f"goal on SQLite: {report['verdict']}")
    write_report(report, RESULTS)
    return 0


def run_backend(name: str, database_url: str, tmp: str, options) -> dict:
    """Migrate, load and measure one backend."""
    from leads.base.db import db
    from leads.base.migrate import upgrade

    app = make_app(database_url, tmp)
    with app.app_context():
        db.connect(reuse_if_open=True)
        upgrade()
        started = time.perf_counter()
        people, ids = load()
        load_seconds = time.perf_counter() - started
        db.close()
    print(f"{name}: loaded in {load_seconds:.1f} s")
    if name == "postgres":
        pg_maintenance(database_url, "VACUUM ANALYZE")
    before = os.getloadavg()[0]
    cases = []
    clients = {}
    for role, user in people.items():
        clients[role] = app.test_client()
        sign_in(clients[role], user)
    for case, role, path, htmx in CASES:
        cases.append(measure(clients[role], case, role, path(ids), htmx, options.requests))
    after = os.getloadavg()[0]
    db.close_all()
    return {
        "load_seconds": round(load_seconds, 1),
        "load_average_before": round(before, 2),
        "load_average_after": round(after, 2),
        "cases": cases,
    }


def load() -> tuple[dict, dict]:
    """The users, 5,000 stage-3 leads in one bulk insert, and the busy lead's
    200 activities and history through the services (as people write them)."""
    from auth.models import MANAGER, TELEPROSPECTOR, User
    from auth.passwords import hash_password
    from leads.activities import services as activities
    from leads.base.db import db
    from leads.records import services as records
    from leads.records.models import Lead, ProductLine
    from leads.stages.services import perform

    rng = random.Random(7)
    password_hash = hash_password(PASSWORD)
    manager = User.create(
        email="manager@bench.test", name="Max Manager", role=MANAGER, password_hash=password_hash
    )
    tp = User.create(
        email="tp@bench.test", name="Tess Tele", role=TELEPROSPECTOR, password_hash=password_hash
    )
    line = ProductLine.create(name="Analytics", code="AN")
    start = dt.datetime(2026, 1, 1)
    columns = [Lead.topic, Lead.first_name, Lead.last_name, Lead.email, Lead.company, Lead.source,
               Lead.product_line, Lead.stage, Lead.status, Lead.status_reason, Lead.ready_for_tp,
               Lead.qualification, Lead.created_at, Lead.updated_at]  # fmt: skip
    rows = []
    for n in range(QUEUE_LEADS):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        at = start + dt.timedelta(minutes=n)
        rows.append(("Demo request", first, last, f"{first.lower()}.{last.lower()}{n}@example.test",
                     f"Company {n % 300}", "import", line.id, 3, "open", "marketing_qualified", True, {},
                     at, at))  # fmt: skip
    with db.atomic():
        for begin in range(0, len(rows), 2000):
            Lead.insert_many(rows[begin : begin + 2000], fields=columns).execute()
    busy = Lead.create(topic="Pricing", first_name="Ada", last_name="Byron", email="ada@example.test",
                       product_line=line, stage=2, ready_for_tp=False)  # fmt: skip
    busy = perform(busy, "ready_for_tp", manager)
    busy = perform(busy, "tp_accept", tp)
    for n in range(18):
        records.update_lead(busy.id, {"phone": f"+33 1 00 00 00 {n:02d}"}, manager)
    due = dt.datetime(2026, 6, 1, 9, 0).isoformat()
    for n in range(ACTIVITIES):
        kind = ("note", "call", "task")[n % 3]
        raw = {
            "note": {"body": f"Note {n}: spoke about the rollout plan and the budget."},
            "call": {"outcome": "connected", "duration_minutes": str(n % 30), "body": f"Call {n}"},
            "task": {"title": f"Follow up {n}", "due_at": due, "assignee_id": str(tp.id)},
        }[kind]
        done, errors = activities.add_activity(Lead.get_by_id(busy.id), tp, kind, raw)
        assert done is not None, errors
    return {"manager": manager, "teleprospector": tp}, {"busy": busy.id}


def measure(client, case: str, role: str, path: str, htmx: bool, requests: int) -> dict:
    """Time ``requests`` GETs of ``path`` after a short warm-up."""
    from leads.base.db import db

    headers = {"HX-Request": "true"} if htmx else {}
    for _ in range(5):
        answer = client.get(path, headers=headers)
        assert answer.status_code == 200, (path, answer.status_code)
    wall, cpu, sql, queries = [], [], [], []
    for _ in range(requests):
        timer = SqlTimer()
        db.obj.query_hooks.append(timer)
        started, started_cpu = time.perf_counter(), time.process_time()
        answer = client.get(path, headers=headers)
        wall.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
        db.obj.query_hooks.remove(timer)
        sql.append(timer.seconds * 1000)
        queries.append(timer.queries)
        assert answer.status_code == 200
    html = answer.get_data(as_text=True)
    return {
        "case": case,
        "role": role,
        "path": path + (" (HX-Request)" if htmx else ""),
        "entries": html.count('<li class="event'),
        "rows": html.count('<li class="queue-row'),
        "bytes": len(html),
        "p50_ms": round(statistics.median(wall), 2),
        "p95_ms": round(p95(wall), 2),
        "cpu_p50_ms": round(statistics.median(cpu), 2),
        "cpu_p95_ms": round(p95(cpu), 2),
        "sql_p50_ms": round(statistics.median(sql), 2),
        "queries": statistics.median(queries),
    }


def print_table(report: dict) -> None:
    """The figures as a plain text table."""
    print(
        f"\n{report['requests_per_case']} requests per case; wall = response time, cpu = this process's CPU"
    )
    header = (
        f"{'backend':9} {'case':30} {'entries':>7} {'rows':>5} {'wall p50':>9} {'wall p95':>9}"
        f" {'cpu p50':>8} {'sql p50':>8} {'q':>3}"
    )
    print(header)
    print("-" * len(header))
    for backend, figures in report["backends"].items():
        for c in figures["cases"]:
            print(
                f"{backend:9} {c['case']:30} {c['entries']:>7} {c['rows']:>5} {c['p50_ms']:>9.1f}"
                f" {c['p95_ms']:>9.1f} {c['cpu_p50_ms']:>8.1f} {c['sql_p50_ms']:>8.1f} {c['queries']:>3g}"
            )
        print()


def verdict(report: dict) -> str:
    """Does every goal case meet p95 < goal on SQLite?"""
    misses = [
        f"{c['case']} {c['p95_ms']:.0f} ms"
        for c in report["backends"]["sqlite"]["cases"]
        if c["case"] in GOAL_CASES and c["p95_ms"] >= GOAL_P95_MS
    ]
    return "met" if not misses else "missed: " + ", ".join(misses)


if __name__ == "__main__":
    sys.exit(main())
