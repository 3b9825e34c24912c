"""How fast the pure scoring engine is: evaluations per second of a realistic
model (an audience, 5 attribute and 5 behaviour rules) over a lead with 50
interactions (the score, its breakdown and its expiry), a qualification
decision, and the whole per-lead work of a re-score with 3 models.

Run: ``.venv/bin/python bench/scoring_engine.py [seconds per measure]``.
No database, no Redis: this is the ceiling the jobs work under.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import sys
import time
import timeit
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from leads.core import lifecycle  # noqa: E402
from leads.core.conditions import Facts, InteractionFact  # noqa: E402
from leads.core.qualification import Criteria, decide  # noqa: E402
from leads.core.scoring import ScoringModel, evaluate  # noqa: E402

NOW = dt.datetime(2024, 6, 1, 12, 0)

MODEL = ScoringModel.from_dict(
    {
        "id": 1,
        "name": "Engagement and fit",
        "audience": {
            "op": "or",
            "items": [
                {
                    "entity": "contact",
                    "field": "country",
                    "operator": "in_list",
                    "value": ["FR", "BE", "DE", "NL"],
                },
                {"entity": "account", "field": "employee_count", "operator": "gte", "value": 200},
            ],
        },
        "attribute_rules": [
            {
                "condition": {
                    "entity": "contact",
                    "field": "job_title",
                    "operator": "contains",
                    "value": "director",
                },
                "points": 20,
            },
            {
                "condition": {
                    "entity": "contact",
                    "field": "job_title",
                    "operator": "contains",
                    "value": "student",
                },
                "points": -30,
            },
            {
                "condition": {
                    "entity": "account",
                    "field": "industry",
                    "operator": "in_list",
                    "value": ["Banking", "Insurance", "Software"],
                },
                "points": 15,
            },
            {
                "condition": {
                    "entity": "account",
                    "field": "annual_revenue",
                    "operator": "gte",
                    "value": "50000000",
                },
                "points": 10,
            },
            {"condition": {"entity": "lead", "field": "phone", "operator": "is_not_empty"}, "points": 5},
        ],
        "behaviour_rules": [
            {"type": "email_opened", "points": 1, "window_days": 30, "cap": 10},
            {
                "type": "email_clicked",
                "points": 3,
                "window_days": 30,
                "cap": 30,
                "filters": [{"field": "campaign", "operator": "equals", "value": "spring"}],
            },
            {
                "type": "web_visit",
                "points": 5,
                "window_days": 14,
                "cap": 25,
                "filters": [{"field": "page", "operator": "in_list", "value": ["/pricing", "/demo"]}],
            },
            {"type": "form_submitted", "points": 30, "per_occurrence": False},
            {"type": "event_attended", "points": 15, "window_days": 90, "cap": 30},
        ],
        "sales_ready_threshold": 120,
        "grades": [
            {"label": "A", "min_score": 80},
            {"label": "B", "min_score": 50},
            {"label": "C", "min_score": 0},
        ],
    }
)

CRITERIA = [
    Criteria.from_dict(
        {
            "id": 1,
            "name": "MQL",
            "status": "published",
            "marketing_qualified": True,
            "rule": {
                "op": "or",
                "items": [
                    {"kind": "score", "model_id": 1, "min_score": 60},
                    {
                        "kind": "interaction",
                        "type": "form_submitted",
                        "filters": [{"field": "form", "operator": "equals", "value": "demo"}],
                        "within_days": 30,
                    },
                ],
            },
        }
    )
]


def make_facts(seed: int = 7) -> Facts:
    """One lead with a contact, an account and 50 interactions over 120 days."""
    rng = random.Random(seed)
    kinds = ["email_opened", "email_clicked", "web_visit", "form_submitted", "event_attended"]
    pages = ["/pricing", "/demo", "/blog", "/careers"]
    interactions = tuple(
        InteractionFact(
            kind,
            NOW - dt.timedelta(minutes=rng.randint(0, 120 * 24 * 60)),
            {
                "campaign": rng.choice(["spring", "autumn"]),
                "page": rng.choice(pages),
                "form": rng.choice(["demo", "newsletter"]),
            },
            "api",
            f"evt-{index}",
        )
        for index, kind in enumerate(rng.choice(kinds) for _ in range(50))
    )
    return Facts(
        lead={"topic": "CRM", "phone": "+33 1 23 45 67 89", "country": "FR"},
        contact={"job_title": "IT Director", "country": "FR"},
        account={"industry": "Software", "employee_count": 850, "annual_revenue": 120_000_000},
        interactions=interactions,
    )


def per_second(work, seconds: float) -> tuple[float, float]:
    """How many times ``work()`` runs per second of wall time and per second of
    this process's CPU time (steadier on a shared machine), over ``seconds``."""
    count, start, cpu_start = 0, time.perf_counter(), time.process_time()
    while (elapsed := time.perf_counter() - start) < seconds:
        for _ in range(100):
            work()
        count += 100
    return count / elapsed, count / (time.process_time() - cpu_start)


def fresh(facts: Facts) -> Facts:
    """A new ``Facts`` with the same content, as a job would load for each lead
    (so the deduplicated events are not reused from the last round)."""
    return Facts(facts.lead, facts.contact, facts.account, facts.interactions)


def rescore_lead(facts: Facts, models: list[ScoringModel]) -> None:
    """What a job computes per lead: every model's score (with its expiry), then the decision."""
    facts = fresh(facts)
    results = {model.id: evaluate(model, facts, NOW) for model in models}
    scores = {model_id: result.score for model_id, result in results.items() if result.in_audience}
    decide(CRITERIA, lifecycle.LeadState(), scores, facts, NOW)


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 2.0
    facts = make_facts()
    result = evaluate(MODEL, facts, NOW)
    three = [MODEL, replace(MODEL, id=2), replace(MODEL, id=3)]
    print(
        f"model: {len(MODEL.attribute_rules)} attribute + {len(MODEL.behaviour_rules)} behaviour rules, "
        f"{len(facts.interactions)} interactions; score {result.score}, grade {result.grade}"
    )
    measures = {
        "evaluate (1 model)": lambda: evaluate(MODEL, fresh(facts), NOW),
        "decide (1 criteria)": lambda: decide(CRITERIA, lifecycle.LeadState(), {1: 117}, fresh(facts), NOW),
        "lead: 3 models + decide": lambda: rescore_lead(facts, three),
    }
    reference = min(timeit.repeat("sum(range(1000))", number=2000, repeat=5)) / 2000 * 1e6
    print(
        f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; "
        f"sum(range(1000)) takes {reference:.1f} µs here (about 10 µs on an idle modern core)"
    )
    print(f"{'':34s} {'wall /s':>9s} {'CPU /s':>9s} {'CPU µs each':>12s}")
    for name, work in measures.items():
        wall, cpu = per_second(work, seconds)
        print(f"{name:34s} {wall:>9,.0f} {cpu:>9,.0f} {1e6 / cpu:>12.1f}")
    _, lead_rate = per_second(lambda: rescore_lead(facts, three), seconds)
    print(
        f"engine share of re-scoring 100k leads x 3 models: {100_000 / lead_rate:.1f} CPU s (goal: 60 s on 2 cores)"
    )


if __name__ == "__main__":
    main()
