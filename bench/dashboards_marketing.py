"""Benchmark of the marketers' dashboard (GET /dashboards/marketing, D2) at
100,000 leads with a year of history, as the app is.

Builds a fresh SQLite file and, when the local server is reachable, a throwaway
PostgreSQL database (the lead list benchmark's helpers); migrates each; bulk-loads
100k leads created over the last 365 days (ten sources, five of them capture
forms, 20 campaigns, 4 product lines), their history (creation, stage moves, and
for about a third marketing qualified, a fifth sales-ready, one in twelve
converted, days later) and three interactions per lead (of the lead or its
contact) in the weeks before; builds the rollup the dashboard reads (timed:
the first, full build, an idle sweep's slice and one after 100 leads changed
and 100 new interactions); signs a marketer in through the real form; then
times full requests through the Flask test client.

Run from the repository root:  .venv/bin/python bench/dashboards_marketing.py [--leads N] [--requests N]
Results: a table on stdout and ``bench/results/dashboards_marketing.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "bench"))

import common  # noqa: E402  (bench/common.py: the app, sign-in, PostgreSQL and the run)

RESULTS = os.path.join(ROOT, "bench", "results", "dashboards_marketing.json")
GOAL_P95_MS = 300.0
SOURCES = ["web form", "webinar", "trade show", "import", "api"] + [f"capture:{n}" for n in range(1, 6)]
TYPES = ["email_opened", "email_clicked", "web_visit", "form_submitted", "event_registered"]


def cases(today: dt.date) -> list[tuple[str, str, bool]]:
    """(name, path, htmx) of each timed request."""
    year = (today - dt.timedelta(days=364)).isoformat()
    return [
        ("default 90 days", "/dashboards/marketing", False),
        ("by campaign, one line (htmx)", "/dashboards/marketing?by=campaign&product_line=1", True),
        ("one capture source", "/dashboards/marketing?by=capture_source&capture_source=2", True),
        (
            "a year by product line",
            f"/dashboards/marketing?from={year}&to={today.isoformat()}&by=product_line",
            True,
        ),
        ("CSV, 90 days", "/dashboards/marketing/weeks.csv", False),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=50, help="timed requests per case")
    parser.add_argument("--no-postgres", action="store_true")
    options = parser.parse_args()
    report = common.new_report(
        f"p95 < {GOAL_P95_MS:g} ms",
        leads=options.leads,
        requests_per_case=options.requests,
    )
    common.run_backends(report, run_backend, options)
    print_table(report)
    common.write_report(report, RESULTS)
    return 0


def run_backend(name: str, database_url: str, tmp: str, options) -> dict:
    """Migrate, load and measure one backend."""
    from leads.base.db import db, utcnow
    from leads.base.migrate import upgrade

    app = common.make_app(database_url, tmp)
    with app.app_context():
        db.connect(reuse_if_open=True)
        upgrade()
        started = time.perf_counter()
        marketer, rows = load(options.leads, utcnow())
        load_seconds = time.perf_counter() - started
        db.close()
    print(
        f"{name}: loaded {options.leads:,} leads and {rows:,} history and interaction rows in {load_seconds:.1f} s"
    )
    if name == "postgres":
        common.pg_maintenance(database_url, "VACUUM ANALYZE")
    with app.app_context():
        db.connect(reuse_if_open=True)
        rollup_figures = build_rollup(name)
        db.close()
    if name == "postgres":
        common.pg_maintenance(database_url, "VACUUM ANALYZE")
    before = os.getloadavg()[0]
    print(f"{name}: measuring (load average {before:.1f})…")
    client = app.test_client()
    common.sign_in(client, marketer)
    figures = [
        measure(client, case, path, htmx, options.requests) for case, path, htmx in cases(utcnow().date())
    ]
    after = os.getloadavg()[0]
    db.close_all()
    return {
        "load_seconds": round(load_seconds, 1),
        **rollup_figures,
        "load_average_before": round(before, 2),
        "load_average_after": round(after, 2),
        "cases": figures,
    }


def build_rollup(name: str) -> dict:
    """The first, full build of the rollup, then a sweep's slice idle and after
    100 leads changed and 100 interactions of sales-ready leads stored."""
    from leads.base.db import utcnow
    from leads.records.models import Interaction, Lead, LeadHistory
    from reports.marketing import rollup

    started = time.perf_counter()
    built = rollup.refresh()
    full_seconds = time.perf_counter() - started
    started = time.perf_counter()
    rollup.refresh_slice()
    idle_ms = (time.perf_counter() - started) * 1000
    now = utcnow()
    ids = [lead_id for (lead_id,) in Lead.select(Lead.id).order_by(Lead.id.desc()).limit(100).tuples()]
    Lead.update(updated_at=now).where(Lead.id.in_(ids)).execute()
    ready = (
        LeadHistory.select(LeadHistory.lead)
        .where(LeadHistory.kind == "sales_ready")
        .order_by(LeadHistory.id.desc())
        .limit(100)
    )
    Interaction.insert_many(
        [
            (lead_id, "web_visit", now - dt.timedelta(days=40), "bench", f"late-{lead_id}")
            for (lead_id,) in ready.tuples()
        ],
        fields=[
            Interaction.lead,
            Interaction.type,
            Interaction.occurred_at,
            Interaction.source,
            Interaction.external_id,
        ],
    ).execute()
    started = time.perf_counter()
    again = rollup.refresh_slice()
    incremental_ms = (time.perf_counter() - started) * 1000
    print(
        f"{name}: rollup built in {full_seconds:.1f} s ({built['leads']:,} leads); a sweep's slice:"
        f" idle {idle_ms:.0f} ms, 100 changed leads and 100 interactions {incremental_ms:.0f} ms"
    )
    return {
        "rollup_full_seconds": round(full_seconds, 1),
        "rollup_idle_slice_ms": round(idle_ms, 1),
        "rollup_incremental_ms": round(incremental_ms, 1),
        "rollup_incremental_leads": again["leads"],
    }


def _insert(model, fields, rows) -> None:
    batch = 30_000 // len(fields)
    for start in range(0, len(rows), batch):
        model.insert_many(rows[start : start + batch], fields=fields).execute()


def load(count: int, now: dt.datetime):
    """Bulk-insert the marketer, lines, campaigns, capture sources, contacts, the
    leads with their history and interactions; returns the marketer and the row count."""
    from auth.models import MARKETER, User
    from auth.passwords import hash_password
    from leads.base.db import db
    from leads.intake.models import CaptureSource
    from leads.records.models import Campaign, Contact, Interaction, Lead, LeadHistory, ProductLine

    rng = random.Random(42)
    with db.atomic():
        marketer = User.create(
            email="marketer@bench.test",
            name="Mia",
            role=MARKETER,
            password_hash=hash_password(common.PASSWORD),
        )
        lines = [ProductLine.create(name=f"Line {n}", code=f"L{n}").id for n in range(1, 5)]
        campaigns = [
            Campaign.create(name=f"Campaign {n}", product_line=rng.choice(lines)).id for n in range(20)
        ]
        for n in range(1, 6):
            CaptureSource.create(name=f"Form {n}", key=f"bench-form-{n}")
        _insert(
            Contact,
            [Contact.first_name, Contact.email],
            [("C", f"c{n}@bench.test") for n in range(count // 2)],
        )
    contacts = [c for (c,) in Contact.select(Contact.id).tuples()]
    ages = sorted((rng.uniform(0, 365) for _ in range(count)), reverse=True)  # ids follow creation time
    leads = []
    for n in range(count):
        created = now - dt.timedelta(days=ages[n])
        campaign = rng.choice(campaigns) if rng.random() < 0.5 else None
        contact = rng.choice(contacts) if rng.random() < 0.6 else None
        leads.append(
            (
                "Interest",
                "L",
                f"l{n}@bench.test",
                rng.choice(SOURCES),
                contact,
                campaign,
                rng.choice(lines),
                created,
                created,
            )
        )
    fields = [Lead.topic, Lead.first_name, Lead.email, Lead.source, Lead.contact, Lead.campaign, Lead.product_line, Lead.created_at, Lead.updated_at]  # fmt: skip
    with db.atomic():
        _insert(Lead, fields, leads)
    ids = [lead_id for (lead_id,) in Lead.select(Lead.id).order_by(Lead.id).tuples()]
    history, interactions = [], []
    for lead_id, row in zip(ids, leads, strict=True):
        created, contact = row[7], row[4]
        history.append((lead_id, "stage", "1", created))
        moment = created + dt.timedelta(hours=rng.uniform(1, 48))
        history.append((lead_id, "stage", "2", moment))
        for step, (kind, value, share) in enumerate(
            [
                ("status_reason", "marketing_qualified", 0.35),
                ("sales_ready", "1", 0.6),
                ("status_reason", "converted", 0.4),
            ]
        ):
            if rng.random() >= share:
                break
            moment += dt.timedelta(days=rng.uniform(1, 10))
            if moment < now:
                history.append((lead_id, kind, value, moment))
                if step == 1:
                    history.append((lead_id, "stage", "5", moment))
        for k in range(3):
            at = min(now, moment - dt.timedelta(days=rng.uniform(0, 25)))
            own = contact is None or rng.random() < 0.5
            interactions.append(
                (
                    None if own else contact,
                    lead_id if own else None,
                    rng.choice(TYPES),
                    at,
                    "{}",
                    "bench",
                    f"{lead_id}-{k}",
                    at,
                )
            )
    with db.atomic():
        _insert(
            LeadHistory,
            [LeadHistory.lead, LeadHistory.kind, LeadHistory.new_value, LeadHistory.created_at],
            history,
        )
        _insert(
            Interaction,
            [
                Interaction.contact,
                Interaction.lead,
                Interaction.type,
                Interaction.occurred_at,
                Interaction.properties,
                Interaction.source,
                Interaction.external_id,
                Interaction.created_at,
            ],  # fmt: skip
            interactions,
        )
    return marketer, len(history) + len(interactions)


def measure(client, case: str, path: str, htmx: bool, requests: int) -> dict:
    """Time ``requests`` GETs of ``path`` after a short warm-up."""
    from leads.base.db import db

    headers = {"HX-Request": "true"} if htmx else {}
    for _ in range(3):
        response = client.get(path, headers=headers)
        assert response.status_code == 200, (path, response.status_code)
    timings, cpu, sql_ms, queries = [], [], [], []
    for _ in range(requests):
        timer = common.SqlTimer()
        db.obj.query_hooks.append(timer)
        started, started_cpu = time.perf_counter(), time.process_time()
        response = client.get(path, headers=headers)
        timings.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
        db.obj.query_hooks.remove(timer)
        sql_ms.append(timer.seconds * 1000)
        queries.append(timer.queries)
        assert response.status_code == 200
    return {
        "case": case,
        "path": path + (" (HX-Request)" if htmx else ""),
        "p50_ms": round(statistics.median(timings), 1),
        "p95_ms": round(common.p95(timings), 1),
        "cpu_p50_ms": round(statistics.median(cpu), 1),
        "sql_p50_ms": round(statistics.median(sql_ms), 1),
        "queries": statistics.median(queries),
    }


def print_table(report: dict) -> None:
    """The figures as a plain text table."""
    print(
        f"\nGET /dashboards/marketing with {report['leads']:,} leads, {report['requests_per_case']} requests per case"
    )
    header = (
        f"{'backend':9} {'case':30} {'wall p50':>9} {'wall p95':>9} {'cpu p50':>8} {'sql p50':>8} {'q':>3}"
    )
    print(header)
    print("-" * len(header))
    for backend, figures in report["backends"].items():
        for case in figures["cases"]:
            print(
                f"{backend:9} {case['case']:30} {case['p50_ms']:>9.1f} {case['p95_ms']:>9.1f}"
                f" {case['cpu_p50_ms']:>8.1f} {case['sql_p50_ms']:>8.1f} {case['queries']:>3g}"
            )
        print()


if __name__ == "__main__":
    sys.exit(main())
