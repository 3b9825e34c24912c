"""Benchmark of "Does the score predict?" for a draft model (SPEC D3): the
what-if the model insights page asks for on stored history, at 10,000 outcomes.

Builds a fresh SQLite file and, when the local server is reachable, a throwaway
PostgreSQL database (the lead list benchmark's helpers); migrates each;
bulk-loads 10,000 leads that reached an outcome over the last year (three in
ten converted, the rest disqualified), most through stage 5 first, with their
stage and status history, 20 interactions each (their own, their contact's,
or their account's contacts' for account leads), the score history of a live
model up to stage 5, and a draft model of eight rules; signs a marketer in
through the real form. Then, per run, a new version of the draft (its
``version`` bumped: a new question, nothing stored for it) is asked for over
the year through the Flask test client: the page answers at once with a
progress bar and enqueues the what-if job; a real RQ ``SimpleWorker`` in burst
mode (in this process) runs it; timed end to end, from the page request to
the worker finished (the task done). Then the page reopened (the stored
figures, no recomputation), and the live model's page (read from its score
history) for comparison; and the computation itself, called in-process.

Run from the repository root:  .venv/bin/python bench/what_if.py [--outcomes N] [--requests N]
Results: a table on stdout and ``bench/results/what_if.json``.
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

RESULTS = os.path.join(ROOT, "bench", "results", "what_if.json")
GOAL_SECONDS = 30.0
TYPES = ["email_opened", "email_clicked", "web_visit", "form_submitted", "event_registered"]


def _rule(rule_id: str, kind: str, points: int, window: int, cap=None) -> dict:
    return {
        "id": rule_id,
        "label": rule_id.replace("_", " ").title(),
        "type": kind,
        "filters": [],
        "window_days": window,
        "per_occurrence": True,
        "cap": cap,
        "points": points,
    }


def _attribute(rule_id: str, entity: str, field: str, operator: str, value: str, points: int) -> dict:
    condition = {"entity": entity, "field": field, "operator": operator, "value": value}
    return {"id": rule_id, "label": rule_id.title(), "condition": condition, "points": points}


DRAFT = {
    "attribute_rules": [
        _attribute("engineer", "contact", "job_title", "contains", "engineer", 15),
        _attribute("france", "contact", "country", "equals", "FR", 5),
    ],
    "behaviour_rules": [
        _rule("clicks", "email_clicked", 10, 90, 40),
        _rule("opens", "email_opened", 2, 30, 10),
        _rule("visits", "web_visit", 3, 30, 30),
        _rule("forms", "form_submitted", 20, 60, 40),
        _rule("events", "event_registered", 15, 120, None),
        _rule("recent_visits", "web_visit", 5, 7, 15),
    ],
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--outcomes", type=int, default=10_000, help="leads with an outcome")
    parser.add_argument("--interactions", type=int, default=20, help="interactions per lead")
    parser.add_argument("--requests", type=int, default=5, help="timed requests per case")
    parser.add_argument("--no-postgres", action="store_true")
    options = parser.parse_args()
    report = common.new_report(
        f"what-if < {GOAL_SECONDS:g} s",
        outcomes=options.outcomes,
        interactions_per_lead=options.interactions,
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
        marketer, draft_id, live_id, rows = load(options.outcomes, options.interactions, utcnow())
        load_seconds = time.perf_counter() - started
        db.close()
    print(f"{name}: loaded {options.outcomes:,} outcomes and {rows:,} rows in {load_seconds:.1f} s")
    if name == "postgres":
        common.pg_maintenance(database_url, "VACUUM ANALYZE")
    before = os.getloadavg()[0]
    print(f"{name}: measuring (load average {before:.1f})…")
    client = app.test_client()
    common.sign_in(client, marketer)
    today = utcnow().date()
    year = f"from={(today - dt.timedelta(days=364)).isoformat()}&to={today.isoformat()}"
    draft_path = f"/scoring/models/{draft_id}/insights?{year}"
    figures = [
        *measure_job(app, client, draft_id, draft_path, options.requests),
        measure(client, "draft: reopened, stored figures", draft_path, options.requests),
        measure(
            client,
            "live: score history, a year",
            f"/scoring/models/{live_id}/insights?{year}",
            options.requests,
        ),
    ]
    with app.app_context():
        started, started_cpu = time.perf_counter(), time.process_time()
        scored, unscored = _outcomes_counted(draft_id, today)
        figures.append(
            {
                "case": "what-if computed in-process",
                "path": "prediction.model_prediction(what_if=True)",
                "p50_s": round(time.perf_counter() - started, 3),
                "max_s": round(time.perf_counter() - started, 3),
                "cpu_p50_s": round(time.process_time() - started_cpu, 3),
                "sql_p50_s": None,
                "queries": None,
                "outcomes_scored": scored,
                "outcomes_unscored": unscored,
            }
        )
    after = os.getloadavg()[0]
    db.close_all()
    return {
        "load_seconds": round(load_seconds, 1),
        "load_average_before": round(before, 2),
        "load_average_after": round(after, 2),
        "cases": figures,
    }


def _outcomes_counted(draft_id: int, today: dt.date) -> tuple[int, int]:
    """How many outcomes the what-if scored and left unscored (the page's own
    call): a check that it saw them all."""
    from leads.core import scoring
    from leads.scoring import prediction
    from leads.scoring.models import ScoringModel

    row = ScoringModel.get_by_id(draft_id)
    model = scoring.ScoringModel.from_dict({**row.definition, "id": row.id, "name": row.name})
    result = prediction.model_prediction(model, today - dt.timedelta(days=364), today, what_if=True)
    return result.figures.outcomes, result.unscored


def _insert(model, fields, rows) -> None:
    batch = 30_000 // len(fields)
    for start in range(0, len(rows), batch):
        model.insert_many(rows[start : start + batch], fields=fields).execute()


def load(count: int, per_lead: int, now: dt.datetime):
    """Bulk-insert the marketer, accounts, contacts, the leads with their outcome,
    history, interactions and live score history, and the two models; returns
    the marketer, the draft's and the live model's ids and the row count."""
    from auth.models import MARKETER, User
    from auth.passwords import hash_password
    from leads.base.db import db
    from leads.core import lifecycle
    from leads.records.models import Account, Contact, Interaction, Lead, LeadHistory
    from leads.scoring import services as scoring_admin
    from leads.scoring.models import ScoreChange, ScoringModel

    rng = random.Random(7)
    with db.atomic():
        marketer = User.create(
            email="marketer@bench.test",
            name="Mia",
            role=MARKETER,
            password_hash=hash_password(common.PASSWORD),
        )
        draft = scoring_admin.save_model(None, "Draft engagement", "", DRAFT, marketer)
        live = scoring_admin.save_model(None, "Live engagement", "", DRAFT, marketer)
        ScoringModel.update(status="live", published_at=now).where(ScoringModel.id == live.id).execute()
        _insert(Account, [Account.name], [(f"Account {n}",) for n in range(count // 20)])
    accounts = [a for (a,) in Account.select(Account.id).tuples()]
    titles = ["Engineer", "Sales engineer", "Manager", "CTO", "Analyst"]
    _insert(
        Contact,
        [Contact.first_name, Contact.email, Contact.job_title, Contact.country, Contact.account],
        [
            (
                "C",
                f"c{n}@bench.test",
                rng.choice(titles),
                rng.choice(["FR", "DE", "US"]),
                rng.choice(accounts),
            )
            for n in range(count * 6 // 10)
        ],
    )
    contacts = [c for (c,) in Contact.select(Contact.id).tuples()]
    leads, plans = [], []
    for n in range(count):
        outcome_at = now - dt.timedelta(days=rng.uniform(1, 360))
        stage5_at = outcome_at - dt.timedelta(days=rng.uniform(1, 20)) if rng.random() < 0.8 else None
        created = (stage5_at or outcome_at) - dt.timedelta(days=rng.uniform(5, 60))
        roll = rng.random()
        contact = rng.choice(contacts) if roll < 0.6 else None
        account = rng.choice(accounts) if 0.6 <= roll < 0.7 else None
        converted = rng.random() < 0.3
        status = lifecycle.QUALIFIED if converted else lifecycle.DISQUALIFIED
        reason = lifecycle.REASON_CONVERTED if converted else "not_interested"
        leads.append(
            ("Interest", "L", f"l{n}@bench.test", contact, account, status, reason, created, outcome_at)
        )
        plans.append((created, stage5_at, outcome_at, contact, status))
    fields = [Lead.topic, Lead.first_name, Lead.email, Lead.contact, Lead.account, Lead.status, Lead.status_reason, Lead.created_at, Lead.updated_at]  # fmt: skip
    with db.atomic():
        _insert(Lead, fields, leads)
    ids = [lead_id for (lead_id,) in Lead.select(Lead.id).order_by(Lead.id).tuples()]
    history, interactions, changes = [], [], []
    for lead_id, (created, stage5_at, outcome_at, contact, status) in zip(ids, plans, strict=True):
        history.append((lead_id, "stage", None, "1", created))
        if stage5_at:
            history.append((lead_id, "stage", "4", "5", stage5_at))
        history.append((lead_id, "status", "open", status, outcome_at))
        until = stage5_at or outcome_at
        for k in range(per_lead):
            at = (
                created + (until - created) * rng.random()
                if rng.random() < 0.85
                else until + dt.timedelta(days=1)
            )
            own = contact is None or rng.random() < 0.4
            interactions.append(
                (
                    None if own else contact,
                    lead_id if own else None,
                    rng.choice(TYPES),
                    at,
                    {"url": "/pricing"} if rng.random() < 0.5 else {},  # a dict: the JSON field encodes it
                    "bench",
                    f"{lead_id}-{k}",
                    at,
                )
            )
        score = 0
        for step in range(3):
            old, score = score, score + rng.randint(0, 30)
            at = created + (until - created) * (step + 1) / 4
            changes.append((lead_id, live.id, old, score, "interaction", at))
    with db.atomic():
        _insert(
            LeadHistory,
            [
                LeadHistory.lead,
                LeadHistory.kind,
                LeadHistory.old_value,
                LeadHistory.new_value,
                LeadHistory.created_at,
            ],
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
        _insert(
            ScoreChange,
            [
                ScoreChange.lead,
                ScoreChange.model,
                ScoreChange.old_score,
                ScoreChange.new_score,
                ScoreChange.cause,
                ScoreChange.created_at,
            ],  # fmt: skip
            changes,
        )
    return marketer, draft.id, live.id, len(leads) + len(history) + len(interactions) + len(changes)


def measure(client, case: str, path: str, requests: int) -> dict:
    """Time ``requests`` GETs of ``path`` (one untimed first, for the caches)."""
    from leads.base.db import db

    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    timings, cpu, sql_ms, queries = [], [], [], []
    for _ in range(requests):
        timer = common.SqlTimer()
        db.obj.query_hooks.append(timer)
        started, started_cpu = time.perf_counter(), time.process_time()
        response = client.get(path)
        timings.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
        db.obj.query_hooks.remove(timer)
        sql_ms.append(timer.seconds)
        queries.append(timer.queries)
        assert response.status_code == 200
    return {
        "case": case,
        "path": path,
        "p50_s": round(statistics.median(timings), 3),
        "max_s": round(max(timings), 3),
        "cpu_p50_s": round(statistics.median(cpu), 3),
        "sql_p50_s": round(statistics.median(sql_ms), 3),
        "queries": statistics.median(queries),
    }


def measure_job(app, client, draft_id: int, path: str, runs: int) -> list[dict]:
    """``runs`` times: a new version of the draft, its page (which enqueues the
    job and shows a progress bar), then a real RQ worker (SimpleWorker, burst,
    in this process) until the job is done. Returns the enqueueing request's
    figures and the end-to-end ones (page request to worker finished)."""
    from rq import SimpleWorker
    from rq.serializers import JSONSerializer

    from leads.base.db import db
    from leads.base.models import BackgroundTask
    from leads.base.queue import QUEUE_NAMES, get_queue, get_redis
    from leads.scoring import what_if
    from leads.scoring.models import ScoringModel

    enqueue_wall, enqueue_cpu, wall, cpu, worker_wall = [], [], [], [], []
    for _ in range(runs):
        with app.app_context():
            ScoringModel.update(version=ScoringModel.version + 1).where(ScoringModel.id == draft_id).execute()
            db.close()
        started, started_cpu = time.perf_counter(), time.process_time()
        response = client.get(path)
        enqueued, enqueued_cpu = time.perf_counter(), time.process_time()
        assert response.status_code == 200 and 'id="what-if-progress"' in response.get_data(as_text=True)
        with app.app_context():
            queues = [get_queue(name) for name in QUEUE_NAMES]
            worker = SimpleWorker(queues, connection=get_redis(), serializer=JSONSerializer)
            worker.work(burst=True, logging_level="WARNING")
            finished, finished_cpu = time.perf_counter(), time.process_time()
            task = (
                BackgroundTask.select()
                .where(BackgroundTask.kind == what_if.KIND)
                .order_by(BackgroundTask.id.desc())
                .first()
            )
            assert task.status == "done", task.status
            db.close()
        enqueue_wall.append(enqueued - started)
        enqueue_cpu.append(enqueued_cpu - started_cpu)
        wall.append(finished - started)
        cpu.append(finished_cpu - started_cpu)
        worker_wall.append(finished - enqueued)
    figure = {"path": path, "sql_p50_s": None, "queries": None}
    return [
        {
            **figure,
            "case": "draft: page, job enqueued",
            "p50_s": round(statistics.median(enqueue_wall), 3),
            "max_s": round(max(enqueue_wall), 3),
            "cpu_p50_s": round(statistics.median(enqueue_cpu), 3),
        },
        {
            **figure,
            "case": "draft: enqueue → worker done",
            "p50_s": round(statistics.median(wall), 3),
            "max_s": round(max(wall), 3),
            "cpu_p50_s": round(statistics.median(cpu), 3),
            "worker_p50_s": round(statistics.median(worker_wall), 3),
        },
    ]


def print_table(report: dict) -> None:
    """The figures as a plain text table."""
    print(
        f"\nD3 insights page with {report['outcomes']:,} outcomes, {report['requests_per_case']} requests per case"
        f" (goal: {report['goal']})"
    )
    header = (
        f"{'backend':9} {'case':30} {'wall p50':>9} {'wall max':>9} {'cpu p50':>8} {'sql p50':>8} {'q':>5}"
    )
    print(header)
    print("-" * len(header))
    for backend, figures in report["backends"].items():
        for case in figures["cases"]:
            sql = "" if case["sql_p50_s"] is None else f"{case['sql_p50_s']:.2f}s"
            queries = "" if case["queries"] is None else f"{case['queries']:g}"
            print(
                f"{backend:9} {case['case']:30} {case['p50_s']:>8.2f}s {case['max_s']:>8.2f}s"
                f" {case['cpu_p50_s']:>7.2f}s {sql:>8} {queries:>5}"
            )
        print(f"load average {figures['load_average_before']} before, {figures['load_average_after']} after")
        print()


if __name__ == "__main__":
    sys.exit(main())
