"""Benchmark of the lead list (GET /leads) at 100,000 leads, as the app is.

Builds a fresh SQLite file and, when the local server is reachable, a throwaway
PostgreSQL database; migrates each with ``leads.base.migrate.upgrade()``; bulk-loads
100k leads over a few teams, product lines, reps and every stage; signs a
manager and a rep in through the real sign-in form; then times full requests
through the Flask test client (session check, queries, template, teardown),
with the app's own database setup: pooled connections, and on SQLite
``PRAGMA optimize`` at each request's end (which gathers the planner statistics
after the bulk load, as it would in production).

Run from the repository root:  .venv/bin/python bench/lead_list.py [--leads N] [--requests N]
Results: a table on stdout and ``bench/results/lead_list.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import re
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

sys.path.append(os.path.join(ROOT, "bench"))  # for ``common`` when imported from elsewhere

from common import (  # noqa: E402
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

RESULTS = os.path.join(ROOT, "bench", "results", "lead_list.json")
GOAL_P95_MS = 50.0

# (case name, path); every case runs for the manager (all leads) and a rep (own leads, G1).
# The first three are the brief's cases; the goal applies to them.
CASES = [
    ("first page", "/leads"),
    ("filtered", "/leads?stage=5&product_line=1&q=mar"),
    ("page 500", "/leads?page=500"),
    ("search only", "/leads?q=mar"),
    ("sort by stage", "/leads?sort=stage"),
    ("htmx fragment", "/leads?status=open&team=2"),
]
GOAL_CASES = {"first page", "filtered", "page 500"}
HTMX = {"htmx fragment"}

FIRST = (
    "Alice Bruno Chloé David Emma Farid Greta Hugo Ines Jonas Karin Liam Maya Noah Olga Pablo Quinn Rosa "
    "Sven Tara Marie Ana Ben Carla Dmitri Elif Femi Gosia Hana Ivo Jana Kofi Lena Mateo Nadia Oscar Priya "
    "Rafael Sara Tomás Ulla Vera Wen Xavier Yara Zoe Amir Beatriz Cyril Daria Emil Fatima Gabriel Helga "
    "Igor Julia Kenji Lucia Mark Nina Omar Paula"
).split()
LAST = (
    "Martin Bernard Dubois Moreau Laurent Simon Michel Leroy Roux Bertrand Morel Fournier Girard Bonnet "
    "Lambert Fontaine Rousseau Vincent Muller Lefevre Faure Andre Mercier Blanc Guerin Boyer Garnier "
    "Chevalier Francois Legrand Gauthier Garcia Perrin Robin Clement Morin Nicolas Henry Roussel Mathieu "
    "Gautier Masson Duval Denis Lemaire Meyer Dumont Marchand Schmitt Colin Vidal Caron Picard Roger "
    "Fabre Aubert Lemoine Renaud Dumas Lacroix"
).split()
COMPANY_A = (
    "Acme Globex Initech Umbrella Stark Wayne Hooli Vandelay Soylent Tyrell Marlow Cyberdyne Nakatomi "
    "Oscorp Gringotts Monarch Pied Wonka Duff Sterling Aperture Black Mesa Prestige Virtucon"
).split()
COMPANY_B = "Labs Industries Systems Logistics Foods Energy Health Retail Partners Bank".split()
TOPICS = ["Pricing request", "Demo request", "Webinar follow-up", "Trade show visit", "Whitepaper download"]
# Where leads sit: (weight, stage, status, status reason, owned by a rep).
SPREAD = [
    (18, 1, "open", "new", False),
    (22, 2, "open", "new", False),
    (10, 3, "open", "marketing_qualified", False),
    (10, 4, "open", "tp_accepted", False),
    (8, 5, "open", "sales_ready", False),
    (12, 5, "open", "sales_accepted", True),
    (10, 5, "qualified", "converted", True),
    (10, 4, "disqualified", "no_budget", False),
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=200, help="timed requests per case")
    parser.add_argument("--reps", type=int, default=20)
    parser.add_argument("--no-postgres", action="store_true")
    options = parser.parse_args()

    report = new_report(
        f"p95 < {GOAL_P95_MS:g} ms on SQLite for: {', '.join(sorted(GOAL_CASES))}",
        leads=options.leads,
        requests_per_case=options.requests,
        reps=options.reps,
    )
    run_backends(report, run_backend, options)

    print_table(report)
    report["verdict"] = goal_verdict(report)
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
        people = load(options.leads, options.reps)
        load_seconds = time.perf_counter() - started
        db.close()
    print(f"{name}: loaded {options.leads:,} leads in {load_seconds:.1f} s")
    if name == "postgres":
        pg_maintenance(database_url, "VACUUM ANALYZE")  # what autovacuum does after a bulk load
    load_before = os.getloadavg()[0]
    print(f"{name}: measuring (load average {load_before:.1f})…")
    cases = measure_all(app, people, options.requests)
    load_after = os.getloadavg()[0]
    db.close_all()  # the pool's connections, before the file or database goes away
    return {
        "load_seconds": round(load_seconds, 1),
        "load_average_before": round(load_before, 2),
        "load_average_after": round(load_after, 2),
        "cases": cases,
    }


def measure_all(app, people: dict, requests: int) -> list[dict]:
    """Every case, for the manager and the rep, each through their own signed-in client."""
    cases = []
    for role in ("manager", "rep"):
        client = app.test_client()
        sign_in(client, people[role])
        for case, path in CASES:
            cases.append(measure(client, role, case, path, requests))
    return cases


def load(count: int, rep_count: int) -> dict:
    """Bulk-insert users, teams, product lines and ``count`` leads; returns the signed-in users."""
    from auth.models import MANAGER, REP, Team, User
    from auth.passwords import hash_password
    from leads.base.db import db
    from leads.records.models import Lead, ProductLine

    rng = random.Random(42)
    password_hash = hash_password(PASSWORD)
    with db.atomic():
        teams = [Team.create(name=f"Team {n}").id for n in range(1, 4)]
        lines = [ProductLine.create(name=f"Line {n}", code=f"L{n}").id for n in range(1, 5)]
        manager = User.create(
            email="manager@bench.test", name="Max Manager", role=MANAGER, password_hash=password_hash
        )
        reps = [
            User.create(
                email=f"rep{n}@bench.test",
                name=f"Rep {n}",
                role=REP,
                team=teams[n % len(teams)],
                password_hash=password_hash,
            ).id
            for n in range(1, rep_count + 1)
        ]
    weights = [row[0] for row in SPREAD]
    now = dt.datetime(2025, 6, 1)
    columns = [
        Lead.topic, Lead.first_name, Lead.last_name, Lead.email, Lead.company, Lead.country, Lead.source,
        Lead.product_line, Lead.team, Lead.status, Lead.status_reason, Lead.stage, Lead.sales_ready,
        Lead.owner, Lead.qualification, Lead.created_at, Lead.updated_at,
    ]  # fmt: skip

    # Leads arrive over two years, so ids follow creation time as in a real table.
    ages = sorted((rng.randrange(2 * 365 * 86400) for _ in range(count)), reverse=True)

    def row(n: int) -> tuple:
        _, stage, status, reason, owned = rng.choices(SPREAD, weights)[0]
        first, last = rng.choice(FIRST), rng.choice(LAST)
        created = now - dt.timedelta(seconds=ages[n])
        return (
            rng.choice(TOPICS), first, last, f"{first.lower()}.{last.lower()}{n}@example.test",
            f"{rng.choice(COMPANY_A)} {rng.choice(COMPANY_B)}", rng.choice(["FR", "DE", "GB", "US"]), "import",
            rng.choice(lines), rng.choice(teams), status, reason, stage, stage == 5,
            rng.choice(reps) if owned else None, {}, created,
            created + dt.timedelta(seconds=rng.randrange(30 * 86400)),
        )  # fmt: skip

    batch = 30_000 // len(columns)  # under SQLite's 32,766 bound parameters
    with db.atomic():
        for start in range(0, count, batch):
            rows = [row(n) for n in range(start, min(count, start + batch))]
            Lead.insert_many(rows, fields=columns).execute()
    return {"manager": manager, "rep": User.get_by_id(reps[0])}


def measure(client, role: str, case: str, path: str, requests: int) -> dict:
    """Time ``requests`` GETs of ``path`` (after a short warm-up); returns the figures."""
    from leads.base.db import db

    headers = {"HX-Request": "true"} if case in HTMX else {}
    for _ in range(5):
        response = client.get(path, headers=headers)
        assert response.status_code == 200, (path, response.status_code)
    timings, cpu, sql_ms, queries = [], [], [], []
    for _ in range(requests):
        timer = SqlTimer()
        db.obj.query_hooks.append(timer)
        started, started_cpu = time.perf_counter(), time.process_time()
        response = client.get(path, headers=headers)
        timings.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
        db.obj.query_hooks.remove(timer)
        sql_ms.append(timer.seconds * 1000)
        queries.append(timer.queries)
        assert response.status_code == 200
    html = response.get_data(as_text=True)
    shown = re.search(r"<strong>([\d,]+)</strong> leads?", html)
    return {
        "role": role,
        "case": case,
        "path": path + (" (HX-Request)" if headers else ""),
        "matching": int(shown.group(1).replace(",", "")) if shown else None,
        "rows": html.count("<tr>") - 1 if "<tbody>" in html else 0,
        "p50_ms": round(statistics.median(timings), 2),
        "p95_ms": round(p95(timings), 2),
        "max_ms": round(max(timings), 2),
        # CPU time of this process (app + SQLite, not the PostgreSQL server):
        # a steadier figure than wall time on a busy machine.
        "cpu_p50_ms": round(statistics.median(cpu), 2),
        "cpu_p95_ms": round(p95(cpu), 2),
        "queries": statistics.median(queries),
        "sql_p50_ms": round(statistics.median(sql_ms), 2),
    }


def print_table(report: dict) -> None:
    """The figures as a plain text table."""
    print(f"\nGET /leads with {report['leads']:,} leads, {report['requests_per_case']} requests per case")
    print("wall = response time; cpu = this process's CPU time (app + SQLite; not the PostgreSQL server);")
    print("sql = median time in the database calls of one request; q = statements per request\n")
    header = (
        f"{'backend':9} {'role':8} {'case':14} {'matching':>9} {'rows':>5}"
        f" {'wall p50':>9} {'wall p95':>9} {'cpu p50':>8} {'cpu p95':>8} {'sql p50':>8} {'q':>3}"
    )
    print(header)
    print("-" * len(header))
    for backend, figures in report["backends"].items():
        for case in figures["cases"]:
            matching = "" if case["matching"] is None else f"{case['matching']:,}"
            print(
                f"{backend:9} {case['role']:8} {case['case']:14} {matching:>9} {case['rows']:>5}"
                f" {case['p50_ms']:>9.1f} {case['p95_ms']:>9.1f} {case['cpu_p50_ms']:>8.1f}"
                f" {case['cpu_p95_ms']:>8.1f} {case['sql_p50_ms']:>8.1f} {case['queries']:>3g}"
            )
        print()


def goal_verdict(report: dict) -> str:
    """Does every goal case meet p95 < goal on SQLite?"""
    misses = [
        f"{case['role']} {case['case']} {case['p95_ms']:.0f} ms"
        for case in report["backends"]["sqlite"]["cases"]
        if case["case"] in GOAL_CASES and case["p95_ms"] >= GOAL_P95_MS
    ]
    return "met" if not misses else "missed: " + ", ".join(misses)


if __name__ == "__main__":
    sys.exit(main())
