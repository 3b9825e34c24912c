"""Benchmark of a saved lead-list view with 5 score columns at 100,000 leads (W5).

Builds a fresh SQLite file and, when the local server is reachable, a throwaway
PostgreSQL database (as ``bench/lead_list.py``, whose loader it reuses);
adds 5 live scoring models with a score and grade for every lead in each
(500k ``lead_score`` rows); a manager saves a view (open leads in stage 5,
sorted by the first model's score, with the 5 models' score columns, their
grades, owner, team and last activity) through the real form; then times the
GET of that view (full page and htmx fragment) through the Flask test client.

Run from the repository root:  .venv/bin/python bench/saved_view.py [--leads N] [--requests N]
Results: a table on stdout and ``bench/results/saved_view.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import re
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "bench"))

import common  # noqa: E402  (bench/common.py)
import lead_list  # noqa: E402  (bench/lead_list.py: its loader, app, sign-in and timer)

RESULTS = os.path.join(ROOT, "bench", "results", "saved_view.json")
MODELS = 5


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=100, help="timed requests per case")
    parser.add_argument("--no-postgres", action="store_true")
    options = parser.parse_args()
    report = {
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "leads": options.leads,
        "models": MODELS,
        "requests_per_case": options.requests,
        "python": platform.python_version(),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
        "backends": {},
    }
    with tempfile.TemporaryDirectory(prefix="leadflow-bench-") as tmp:
        report["backends"]["sqlite"] = run_backend("sqlite", f"sqlite:///{tmp}/bench.db", tmp, options)
    if not options.no_postgres and common.pg_reachable():
        with common.throwaway_pg_database() as pg_url, tempfile.TemporaryDirectory() as tmp:
            report["backends"]["postgres"] = run_backend("postgres", pg_url, tmp, options)
    else:
        print("PostgreSQL: skipped")
    print(
        f"\nsaved view, {MODELS} score columns, {options.leads:,} leads, {options.requests} requests per case"
    )
    print(f"{'backend':9} {'case':10} {'matching':>9} {'rows':>5} {'p50 ms':>8} {'p95 ms':>8} {'q':>3}")
    for backend, cases in report["backends"].items():
        for case in cases["cases"]:
            print(
                f"{backend:9} {case['case']:10} {case['matching'] or 0:>9,} {case['rows']:>5}"
                f" {case['p50_ms']:>8.1f} {case['p95_ms']:>8.1f} {case['queries']:>3g}"
            )
    os.makedirs(os.path.dirname(RESULTS), exist_ok=True)
    with open(RESULTS, "w") as fh:
        json.dump(report, fh, indent=2)
    print(f"written: {os.path.relpath(RESULTS, ROOT)}")
    return 0


def run_backend(name: str, database_url: str, tmp: str, options) -> dict:
    """Migrate, load leads and scores, save the view, measure it."""
    from leads.base.db import db
    from leads.base.migrate import upgrade

    app = common.make_app(database_url, tmp)
    with app.app_context():
        db.connect(reuse_if_open=True)
        upgrade()
        started = time.perf_counter()
        people = lead_list.load(options.leads, 20)
        model_ids = load_scores()
        print(
            f"{name}: loaded {options.leads:,} leads and their scores in {time.perf_counter() - started:.1f} s"
        )
        db.close()
    if name == "postgres":
        common.pg_maintenance(database_url, "VACUUM ANALYZE")
    client = app.test_client()
    common.sign_in(client, people["manager"])
    path = save_view(client, model_ids)
    cases = [
        lead_list.measure(client, "manager", "page", path, options.requests),
        lead_list.measure(client, "manager", "htmx fragment", path, options.requests),
    ]
    for case in cases:
        case["case"] = case["case"].replace("htmx fragment", "fragment")
    db.close_all()
    return {"path": path, "cases": cases}


def load_scores() -> list[int]:
    """``MODELS`` live models and a score (and grade) for every lead in each."""
    from leads.base.db import db
    from leads.records.models import Lead
    from leads.scoring.models import LeadScore, ScoringModel

    rng = random.Random(7)
    ids = [lead_id for (lead_id,) in Lead.select(Lead.id).tuples()]
    models = []
    now = dt.datetime(2025, 6, 1)
    for n in range(1, MODELS + 1):
        models.append(ScoringModel.create(name=f"Model {n}", status="live", definition={}).id)
        fields = [
            LeadScore.lead,
            LeadScore.model,
            LeadScore.score,
            LeadScore.grade,
            LeadScore.breakdown,
            LeadScore.sales_ready,
            LeadScore.computed_at,
        ]
        for start in range(0, len(ids), 4000):  # under SQLite's bound-parameter limit
            with db.atomic():
                rows = []
                for lead_id in ids[start : start + 4000]:
                    score = rng.randrange(0, 120)
                    rows.append((lead_id, models[-1], score, "A" if score > 80 else "B", [], False, now))
                LeadScore.insert_many(rows, fields=fields).execute()
    return models


def save_view(client, model_ids: list[int]) -> str:
    """A manager saves the view through the real form; returns the address it opens."""
    html = client.get("/leads").get_data(as_text=True)
    token = re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)
    columns = ["owner", "team", "last_activity"] + [f"score_{i}" for i in model_ids]
    columns += [f"grade_{i}" for i in model_ids]
    answer = client.post(
        "/leads/views",
        data={
            "csrf_token": token,
            "view_name": "Five scores",
            "stage": "5",
            "status": "open",
            "score_model": str(model_ids[0]),
            "sort": "-score",
            "columns": columns,
        },
    )
    assert answer.status_code == 302, answer.status_code
    return answer.headers["Location"]


if __name__ == "__main__":
    sys.exit(main())
