"""Benchmark of the dashboards at 100,000 leads with a year of history.

Builds a fresh SQLite file and, when the local server is reachable, a throwaway
PostgreSQL database; migrates each; bulk-loads 100k leads created over the last
year, each with the stage history, assignments (accepted, declined, taken back
for want of an accept, re-routed), activities and outcome a real year would
leave; builds the rollup the dashboards read (timed: the first, full build and
an incremental refresh after 100 leads changed); then times full requests
through the Flask test client, signed in through the real form, as
``bench/lead_list.py`` does.

One function per dashboard (``sales_cases``; a marketing one can sit beside it).

Run from the repository root:  .venv/bin/python bench/dashboards.py [--leads N] [--requests N]
Results: a table on stdout and ``bench/results/dashboards.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)
sys.path.insert(0, HERE)

import common  # noqa: E402  (bench/common.py: the app, sign-in, PostgreSQL and the run)

RESULTS = os.path.join(ROOT, "bench", "results", "dashboards.json")
GOAL_P95_MS = 300.0
HOUR = 3600


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=40, help="timed requests per case")
    parser.add_argument("--reps", type=int, default=20)
    parser.add_argument("--no-postgres", action="store_true")
    options = parser.parse_args()
    report = common.new_report(
        f"p95 < {GOAL_P95_MS:g} ms",
        leads=options.leads,
        requests_per_case=options.requests,
        reps=options.reps,
    )
    common.run_backends(report, run_backend, options)
    print_table(report)
    common.write_report(report, RESULTS)
    return 0


def run_backend(name: str, database_url: str, tmp: str, options) -> dict:
    """Migrate, load, build the rollup and measure one backend."""
    from leads.base.db import db
    from leads.base.migrate import upgrade
    from reports.sales import rollup

    app = common.make_app(database_url, tmp)
    with app.app_context():
        db.connect(reuse_if_open=True)
        upgrade()
        started = time.perf_counter()
        people, counts = load_history(options.leads, options.reps)
        load_seconds = time.perf_counter() - started
        print(f"{name}: loaded {options.leads:,} leads, {counts} in {load_seconds:.1f} s")
        if name == "postgres":
            db.close()
            common.pg_maintenance(database_url, "VACUUM ANALYZE")
            db.connect(reuse_if_open=True)
        started = time.perf_counter()
        built = rollup.refresh()
        full_seconds = time.perf_counter() - started
        started = time.perf_counter()
        rollup.refresh_slice()
        idle_ms = (time.perf_counter() - started) * 1000
        touch_leads(100)
        started = time.perf_counter()
        again = rollup.refresh_slice()
        incremental_ms = (time.perf_counter() - started) * 1000
        print(
            f"{name}: rollup built in {full_seconds:.1f} s ({built}); a sweep's slice:"
            f" idle {idle_ms:.0f} ms, 100 changed leads {incremental_ms:.0f} ms"
        )
        db.close()
    if name == "postgres":
        common.pg_maintenance(database_url, "VACUUM ANALYZE")
    load_before = os.getloadavg()[0]
    cases = sales_cases(app, people, options.requests)
    db.close_all()
    return {
        "load_seconds": round(load_seconds, 1),
        "rows": counts,
        "rollup_full_seconds": round(full_seconds, 1),
        "rollup_rows": built,
        "rollup_idle_slice_ms": round(idle_ms, 1),
        "rollup_incremental_ms": round(incremental_ms, 1),
        "rollup_incremental": again,
        "load_average_before": round(load_before, 2),
        "load_average_after": round(os.getloadavg()[0], 2),
        "cases": cases,
    }


def sales_cases(app, people: dict, requests: int) -> list[dict]:
    """The sales dashboard (D1): the manager's default page (last 90 days), the
    htmx swap for a team and a product line, a whole year, a CSV, and a rep's
    own figures."""
    today = dt.datetime.now(dt.UTC).date()
    year = f"from={(today - dt.timedelta(days=364)).isoformat()}&to={today.isoformat()}"
    cases = [
        ("manager", "90 days", "/dashboards/sales", False),
        ("manager", "team + line", "/dashboards/sales?team=1&product_line=1", True),
        ("manager", "a year", f"/dashboards/sales?{year}", False),
        ("manager", "funnel CSV", "/dashboards/sales/funnel.csv", False),
        ("rep", "90 days", "/dashboards/sales", False),
        ("rep", "a year", f"/dashboards/sales?{year}", False),
    ]
    figures = []
    clients = {}
    for role, case, path, htmx in cases:
        if role not in clients:
            clients[role] = app.test_client()
            common.sign_in(clients[role], people[role])
        figures.append(measure(clients[role], "sales", role, case, path, htmx, requests))
    return figures


def measure(client, dashboard: str, role: str, case: str, path: str, htmx: bool, requests: int) -> dict:
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
        "dashboard": dashboard,
        "role": role,
        "case": case,
        "path": path + (" (HX-Request)" if htmx else ""),
        "p50_ms": round(statistics.median(timings), 1),
        "p95_ms": round(statistics.quantiles(timings, n=20)[-1], 1),
        "cpu_p50_ms": round(statistics.median(cpu), 1),
        "sql_p50_ms": round(statistics.median(sql_ms), 1),
        "queries": statistics.median(queries),
    }


# --- A year of sales history ----------------------------------------------------------


def load_history(count: int, rep_count: int) -> tuple[dict, dict]:
    """Bulk-insert users, teams, product lines and ``count`` leads created over
    the last year, with their history, assignments and activities; returns the
    users to sign in as and the row counts."""
    from auth.models import MANAGER, REP, Team, User
    from auth.passwords import hash_password
    from leads.base.db import db
    from leads.records.models import ProductLine
    from routing.models import RepProfile

    rng = random.Random(42)
    password_hash = hash_password(common.PASSWORD)
    with db.atomic():
        teams = [Team.create(name=f"Team {n}").id for n in range(1, 4)]
        lines = [ProductLine.create(name=f"Line {n}", code=f"L{n}").id for n in range(1, 5)]
        manager = User.create(
            email="manager@bench.test", name="Max Manager", role=MANAGER, password_hash=password_hash
        )
        reps = {}
        for n in range(1, rep_count + 1):
            rep = User.create(
                email=f"rep{n}@bench.test",
                name=f"Rep {n}",
                role=REP,
                team=teams[n % 3],
                password_hash=password_hash,
            )
            RepProfile.create(user=rep, capacity=rng.choice([40, 60, 80]))
            reps[rep.id] = teams[n % 3]
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    ages = sorted((rng.randrange(365 * 86400) for _ in range(count)), reverse=True)
    writer = _Writer()
    for n in range(count):
        _one_lead(writer, rng, n, now - dt.timedelta(seconds=ages[n]), now, lines, list(reps), reps)
    writer.flush()
    return {"manager": manager, "rep": User.get_by_id(min(reps))}, writer.counts


class _Writer:
    """Buffers rows per table and inserts them in batches (one lead's rows
    reference its id, so leads are inserted first and ids follow creation)."""

    def __init__(self):
        self.leads, self.history, self.assignments, self.activities = [], [], [], []
        self.counts = {"history": 0, "assignments": 0, "activities": 0}
        self.next_id = 1

    def flush(self) -> None:
        from leads.activities.models import Activity
        from leads.base.db import db
        from leads.records.models import Lead, LeadHistory
        from reports.sales.rollup import bulk_insert
        from routing.models import Assignment

        with db.atomic():  # the rollup's writer: peewee's insert_many spends minutes building SQL here
            for model, rows in (
                (Lead, self.leads),
                (LeadHistory, self.history),
                (Assignment, self.assignments),
                (Activity, self.activities),
            ):
                bulk_insert(model, _with_defaults(model, rows))
        self.counts["history"] += len(self.history)
        self.counts["assignments"] += len(self.assignments)
        self.counts["activities"] += len(self.activities)
        self.leads, self.history, self.assignments, self.activities = [], [], [], []

    def maybe_flush(self) -> None:
        if len(self.leads) >= 5000:
            self.flush()


def _with_defaults(model, rows: list[dict]) -> list[dict]:
    """``rows`` with the model's defaults for the columns they leave out (what
    ``insert_many`` would have filled in)."""
    if not rows:
        return rows
    missing = {
        field.name: field.default() if callable(field.default) else field.default
        for field in model._meta.sorted_fields
        if field.name not in rows[0] and field.default is not None and not field.primary_key
    }
    return [{**row, **missing} for row in rows] if missing else rows


REASONS = ["no_interest", "no_budget", "cannot_contact", "competitor", "duplicate", "other"]


def _one_lead(writer: _Writer, rng, n, created, now, lines, rep_ids, rep_teams) -> None:
    """One lead's year: stages with random stays, sales-ready, assignments
    (accepted, declined or taken back, then re-routed), an activity, an outcome;
    whatever would happen after ``now`` does not happen."""
    lead_id = writer.next_id
    writer.next_id += 1
    state = {"stage": 1, "status": "open", "reason": "new", "owner": None, "ready": False, "at": created}
    history = writer.history

    def later(hours_mean: float) -> dt.datetime | None:
        moment = state["at"] + dt.timedelta(seconds=rng.expovariate(1 / (hours_mean * HOUR)))
        return moment if moment <= now else None

    def move(to: int, moment) -> None:
        history.append(_history(lead_id, "stage", str(state["stage"]), str(to), moment))
        state.update(stage=to, at=moment)

    def close(status: str, reason: str, moment) -> None:
        history.append(_history(lead_id, "status", "open", status, moment))
        state.update(status=status, reason=reason, at=moment)

    history.append(_history(lead_id, "stage", None, "1", created))
    path = rng.random()
    moment = later(6)
    if moment is not None and path < 0.9:
        move(2, moment)
        if path < 0.08:
            moment = later(72)
            if moment:
                close("disqualified", rng.choice(REASONS), moment)
        elif path < 0.45:
            for stage, hours in ((3, 48), (4, 6), (5, 24)):
                moment = later(hours)
                if moment is None:
                    break
                move(stage, moment)
        elif path < 0.75:
            moment = later(72)
            if moment:
                move(5, moment)
    if state["stage"] == 5:
        history.append(_history(lead_id, "sales_ready", "0", "1", state["at"]))
        state["ready"] = True
        _sales(writer, rng, lead_id, state, later, close, rep_ids)
    line = lines[n % len(lines)]
    owner = state["owner"]
    writer.leads.append(
        {
            "id": lead_id,
            "topic": "Demo request",
            "first_name": "Lead",
            "last_name": str(n),
            "email": f"lead{n}@example.test",
            "source": "import",
            "product_line": line,
            "team": rep_teams.get(owner) if owner else None,
            "status": state["status"],
            "status_reason": state["reason"],
            "stage": state["stage"],
            "sales_ready": state["ready"],
            "owner": owner,
            "qualification": {},
            "created_at": created,
            "updated_at": state["at"],
        }
    )
    writer.maybe_flush()


def _sales(writer, rng, lead_id, state, later, close, rep_ids) -> None:
    """Assignments until one is accepted (or time runs out), an activity, the outcome."""
    tried = 0
    while tried < 3:
        moment = later(0.3)
        if moment is None:
            return
        rep = rng.choice(rep_ids)
        row = {
            "lead": lead_id, "rep": rep, "reason": "rule", "decision": {}, "created_at": moment,
            "accepted_at": None, "declined_at": None, "ended_at": None, "end_reason": None,
        }  # fmt: skip
        writer.assignments.append(row)
        state.update(owner=rep, at=moment, reason="sales_ready")
        fate = rng.random()
        if fate < 0.15:  # declined (8%) or taken back for want of an accept (7%), then routed again
            ended = later(2 if fate < 0.08 else 24)
            if ended is None:
                return
            declined = fate < 0.08
            row.update(
                ended_at=ended,
                end_reason="declined" if declined else "not accepted in time",
                declined_at=ended if declined else None,
            )
            state.update(owner=None, at=ended)
            tried += 1
            continue
        accepted = later(3)
        if accepted is None:
            return
        row["accepted_at"] = accepted
        state.update(at=accepted, reason="sales_accepted")
        break
    else:
        return
    if rng.random() < 0.6:
        moment = later(5)
        if moment is not None:
            writer.activities.append(
                {
                    "lead": lead_id,
                    "kind": "note",
                    "body": "Called",
                    "author": state["owner"],
                    "created_at": moment,
                }
            )
    ending = rng.random()
    moment = later(240)
    if moment is not None and ending < 0.7:
        if ending < 0.35:
            close("qualified", "converted", moment)
        else:
            close("disqualified", rng.choice(REASONS), moment)


def _history(lead_id, kind, old, new, moment) -> dict:
    return {
        "lead": lead_id,
        "kind": kind,
        "old_value": old,
        "new_value": new,
        "via": "bench",
        "created_at": moment,
    }


def touch_leads(count: int) -> None:
    """``count`` recent leads changed now (what the incremental refresh reads again)."""
    from leads.base.db import utcnow
    from leads.records.models import Lead

    ids = [lead_id for (lead_id,) in Lead.select(Lead.id).order_by(Lead.id.desc()).limit(count).tuples()]
    Lead.update(updated_at=utcnow()).where(Lead.id.in_(ids)).execute()


def print_table(report: dict) -> None:
    """The figures as a plain text table."""
    print(
        f"\nDashboards with {report['leads']:,} leads and a year of history, {report['requests_per_case']} requests per case"
    )
    header = f"{'backend':9} {'dashboard':9} {'role':8} {'case':12} {'p50 ms':>8} {'p95 ms':>8} {'cpu p50':>8} {'sql p50':>8} {'q':>3}"
    print(header)
    print("-" * len(header))
    for backend, figures in report["backends"].items():
        for case in figures["cases"]:
            print(
                f"{backend:9} {case['dashboard']:9} {case['role']:8} {case['case']:12} {case['p50_ms']:>8}"
                f" {case['p95_ms']:>8} {case['cpu_p50_ms']:>8} {case['sql_p50_ms']:>8} {case['queries']:>3g}"
            )
        print(
            f"{backend}: rollup full build {figures['rollup_full_seconds']} s; a sweep's slice: idle"
            f" {figures['rollup_idle_slice_ms']} ms, 100 changed leads {figures['rollup_incremental_ms']} ms"
        )
    worst = max(
        (case["p95_ms"] for figures in report["backends"].values() for case in figures["cases"]), default=0
    )
    print(
        f"goal p95 < {GOAL_P95_MS:g} ms: {'met' if worst < GOAL_P95_MS else 'missed'} (worst p95 {worst} ms)"
    )


if __name__ == "__main__":
    sys.exit(main())
