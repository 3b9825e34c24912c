"""Benchmark of a bulk assign of 10,000 leads (W5): the RQ job's time and leads/s.

Builds a fresh SQLite file and, when the local server is reachable, a throwaway
PostgreSQL database (as ``bench/lead_list.py``); loads the leads to assign
(open, sales-ready, in stage 5, unassigned) among others, a manager and a rep;
the manager posts the bulk action with "all matching" (stage 5, unassigned)
through the real page's form; then one RQ ``SimpleWorker`` in burst mode runs
the job: every lead through the stage action "assign" and routing's
bookkeeping (the manual assignment, the rep's pools, notification and email),
``bulk.BATCH_SIZE`` leads per transaction.

Run from the repository root:  .venv/bin/python bench/bulk_assign.py [--leads N]
Results: a table on stdout and ``bench/results/bulk_assign.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "bench"))

import common  # noqa: E402  (bench/common.py)

RESULTS = os.path.join(ROOT, "bench", "results", "bulk_assign.json")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=10_000, help="leads to assign")
    parser.add_argument("--others", type=int, default=20_000, help="other leads in the table")
    parser.add_argument("--no-postgres", action="store_true")
    options = parser.parse_args()
    report = {
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "leads": options.leads,
        "others": options.others,
        "python": platform.python_version(),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
        "backends": {},
    }
    with tempfile.TemporaryDirectory(prefix="leadflow-bench-") as tmp:
        report["backends"]["sqlite"] = run_backend(f"sqlite:///{tmp}/bench.db", tmp, options)
    if not options.no_postgres and common.pg_reachable():
        with common.throwaway_pg_database() as pg_url, tempfile.TemporaryDirectory() as tmp:
            report["backends"]["postgres"] = run_backend(pg_url, tmp, options)
    else:
        print("PostgreSQL: skipped")
    print(f"\nbulk assign of {options.leads:,} leads ({options.others:,} others in the table)")
    print(
        f"{'backend':9} {'request ms':>10} {'job s':>7} {'leads/s':>8} {'done':>7} {'refused':>7} {'load avg':>9}"
    )
    for backend, row in report["backends"].items():
        print(
            f"{backend:9} {row['request_ms']:>10.0f} {row['job_seconds']:>7.1f} {row['leads_per_second']:>8.0f}"
            f" {row['done']:>7,} {row['refused']:>7,} {row['load_average']:>9.1f}"
        )
    os.makedirs(os.path.dirname(RESULTS), exist_ok=True)
    with open(RESULTS, "w") as fh:
        json.dump(report, fh, indent=2)
    print(f"written: {os.path.relpath(RESULTS, ROOT)}")
    return 0


def run_backend(database_url: str, tmp: str, options) -> dict:
    """Migrate, load, post the bulk assign, run its job with a real worker."""
    from rq import SimpleWorker
    from rq.serializers import JSONSerializer

    from leads.base.db import db
    from leads.base.migrate import upgrade
    from leads.base.models import BackgroundTask
    from leads.base.queue import QUEUE_NAMES, get_queue, get_redis

    app = common.make_app(database_url, tmp)
    with app.app_context():
        db.connect(reuse_if_open=True)
        upgrade()
        manager, rep = load(options.leads, options.others)
        db.close()
    client = app.test_client()
    common.sign_in(client, manager)
    html = client.get("/leads?stage=5&owner=none").get_data(as_text=True)
    token = re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)
    started = time.perf_counter()
    answer = client.post(
        "/leads/bulk",
        data={
            "action": "assign",
            "owner_id": str(rep.id),
            "all_matching": "1",
            "stage": "5",
            "owner": "none",
        },
        headers={"X-CSRFToken": token, "HX-Request": "true"},
    )
    request_ms = (time.perf_counter() - started) * 1000
    assert answer.status_code == 200, answer.status_code
    load_average = os.getloadavg()[0]
    with app.app_context():
        queues = [get_queue(name) for name in QUEUE_NAMES]
        worker = SimpleWorker(queues, connection=get_redis(), serializer=JSONSerializer)
        started = time.perf_counter()
        worker.work(burst=True, logging_level="WARNING")
        seconds = time.perf_counter() - started
        db.connect(reuse_if_open=True)
        task = BackgroundTask.select().where(BackgroundTask.kind == "bulk").get()
        figures = {
            "request_ms": round(request_ms, 1),
            "job_seconds": round(seconds, 2),
            "leads_per_second": round(task.detail["succeeded"] / seconds, 1),
            "done": task.detail["succeeded"],
            "refused": task.detail["refused"],
            "status": task.status,
            "load_average": round(load_average, 2),
        }
        db.close()
    db.close_all()
    return figures


def load(count: int, others: int):
    """A manager, a rep, ``count`` leads waiting for a rep and ``others`` elsewhere."""
    from auth.models import MANAGER, REP, User
    from auth.passwords import hash_password
    from leads.base.db import db
    from leads.records.models import Lead

    password_hash = hash_password(common.PASSWORD)
    manager = User.create(
        email="manager@bench.test", name="Max Manager", role=MANAGER, password_hash=password_hash
    )
    rep = User.create(email="rep@bench.test", name="Rex Rep", role=REP, password_hash=password_hash)
    fields = [
        Lead.topic,
        Lead.first_name,
        Lead.last_name,
        Lead.email,
        Lead.stage,
        Lead.sales_ready,
        Lead.status_reason,
    ]
    rows = [
        ("Demo", "Lead", f"Waiting{n}", f"w{n}@example.test", 5, True, "sales_ready") for n in range(count)
    ]
    rows += [("Demo", "Lead", f"Other{n}", f"o{n}@example.test", 2, False, "new") for n in range(others)]
    with db.atomic():
        for start in range(0, len(rows), 4000):
            Lead.insert_many(rows[start : start + 4000], fields=fields).execute()
    return manager, rep


if __name__ == "__main__":
    sys.exit(main())
