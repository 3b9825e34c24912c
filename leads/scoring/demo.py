"""Demo scoring: interactions for the demo contacts and leads, two live scoring
models, a deliberately useless draft and published qualification criteria, so
the bundled worker scores and qualifies the demo leads as soon as it starts
(S1–S6, Q1–Q6); and the score history of the leads' past, so "does the score
predict" (D3) has something to say: Engagement predicts, the draft does not."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

from auth.models import User
from leads.base.db import db, utcnow
from leads.core import prediction
from leads.core import scoring as core_scoring
from leads.records import interaction_types
from leads.records.models import Contact, Interaction
from leads.scoring import services as scoring_admin
from leads.scoring.facts import BATCH, load_facts
from leads.scoring.models import ScoreChange
from leads.scoring.models import ScoringModel as ModelRow

TYPES = [
    ("email_opened", 6),
    ("email_clicked", 3),
    ("web_visit", 5),
    ("form_submitted", 1),
    ("event_registered", 1),
]
DEMO_REQUESTED = ("demo_requested", "Demo requested")  # a custom type (E3), registered by the demo
DEMO_REQUESTS = 0.04  # share of engaged contacts who asked for a demo (sales-ready at once)
PAGES = ["pricing", "docs", "blog", "careers", "demo"]

ENGAGEMENT = {
    "attribute_rules": [],
    "behaviour_rules": [
        {
            "id": "clicks",
            "label": "Email clicks",
            "type": "email_clicked",
            "filters": [],
            "window_days": 90,
            "per_occurrence": True,
            "cap": 30,
            "points": 10,
        },
        {
            "id": "pricing",
            "label": "Pricing page visits",
            "type": "web_visit",
            "filters": [{"field": "page_id", "operator": "equals", "value": "pricing"}],
            "window_days": 30,
            "per_occurrence": True,
            "cap": 40,
            "points": 15,
        },
        {
            "id": "forms",
            "label": "Form submitted",
            "type": "form_submitted",
            "filters": [],
            "window_days": None,
            "per_occurrence": False,
            "cap": None,
            "points": 25,
        },
        {
            "id": "careers",
            "label": "Careers page (job seeker)",
            "type": "web_visit",
            "filters": [{"field": "page_id", "operator": "equals", "value": "careers"}],
            "window_days": None,
            "per_occurrence": False,
            "cap": None,
            "points": -20,
        },
    ],
    "sales_ready_threshold": None,
    "grades": [
        {"label": "A", "min_score": 60},
        {"label": "B", "min_score": 30},
        {"label": "C", "min_score": 10},
    ],
}
FIT = {
    "attribute_rules": [
        {
            "id": "vp",
            "label": "VP or director",
            "condition": {
                "entity": "contact",
                "field": "job_title",
                "operator": "contains",
                "value": "director",
            },
            "points": 20,
        },
        {
            "id": "head",
            "label": "Head of",
            "condition": {"entity": "contact", "field": "job_title", "operator": "contains", "value": "head"},
            "points": 15,
        },
        {
            "id": "big",
            "label": "1,000+ employees",
            "condition": {"entity": "account", "field": "employee_count", "operator": "gte", "value": 1000},
            "points": 20,
        },
        {
            "id": "software",
            "label": "Software industry",
            "condition": {
                "entity": "account",
                "field": "industry",
                "operator": "equals",
                "value": "Software",
            },
            "points": 10,
        },
    ],
    "behaviour_rules": [],
    "sales_ready_threshold": None,
    "grades": [{"label": "A", "min_score": 40}, {"label": "B", "min_score": 20}],
}


# A model that cannot predict anything: the demo's countries are drawn at random.
COIN_TOSS = {
    "attribute_rules": [
        {
            "id": "west",
            "label": "France, Germany, Spain or Italy",
            "condition": {
                "entity": "lead",
                "field": "country",
                "operator": "in_list",
                "value": "FR, DE, ES, IT",
            },
            "points": 10,
        }
    ],
    "behaviour_rules": [],
    "sales_ready_threshold": None,
    "grades": [],
}


@dataclass(frozen=True)
class Journey:
    """A demo lead's past, as ``ops.demo`` made it: how engaged the person was
    (0–1) and when its score counts for D3 (its last arrival in stage 5, else its
    disqualification, else now)."""

    lead_id: int
    engagement: float
    counted_at: dt.datetime


def seed_scoring(
    rng: random.Random, marketer: User, journeys: list[Journey] = (), now: dt.datetime | None = None
) -> int:
    """Interactions over the last 60 days for two thirds of the contacts, and for
    each lead the interactions of the weeks before its score counts, as many as
    its person was engaged; the models, the criteria and the leads' scores at
    the moments D3 reads; returns the number of interactions."""
    now = now or utcnow()
    contacts = [c for (c,) in Contact.select(Contact.id).order_by(Contact.id).tuples()]
    rows = []
    for contact in contacts:
        if rng.random() < 0.33:
            continue
        for kind, most in TYPES:
            for n in range(rng.randint(0, most)):
                rows.append(
                    {
                        "contact": contact,
                        "type": kind,
                        "occurred_at": now - dt.timedelta(days=rng.uniform(0, 60)),
                        "properties": {"page_id": rng.choice(PAGES)} if kind == "web_visit" else {},
                        "source": "demo",
                        "external_id": f"demo-{contact}-{kind}-{n}",
                        "created_at": now,
                    }
                )
        if rng.random() < DEMO_REQUESTS:
            rows.append(
                {
                    "contact": contact,
                    "type": DEMO_REQUESTED[0],
                    "occurred_at": now - dt.timedelta(days=rng.uniform(0, 10)),
                    "properties": {},
                    "source": "demo",
                    "external_id": f"demo-{contact}-demo_requested",
                    "created_at": now,
                }
            )
    try:
        interaction_types.add_custom_type(*DEMO_REQUESTED, marketer)
    except interaction_types.RefusedType:
        pass  # registered already (the demo seeded before)
    for journey in journeys:
        rows.extend(_lead_interactions(rng, journey, now))
    with db.atomic():
        for start in range(0, len(rows), 500):
            Interaction.insert_many(rows[start : start + 500]).execute()
    engagement = scoring_admin.save_model(
        None, "Engagement", "What people did, recent first.", ENGAGEMENT, marketer
    )
    fit = scoring_admin.save_model(None, "Fit", "Who they are: title and company.", FIT, marketer)
    scoring_admin.save_model(
        None,
        "Country (a coin toss)",
        "A draft that cannot predict: compare its insights.",
        COIN_TOSS,
        marketer,
    )
    seed_score_history([engagement, fit], [j for j in journeys if j.counted_at < now])
    scoring_admin.set_model_status(engagement, "live", marketer)
    scoring_admin.set_model_status(fit, "live", marketer)
    criteria = scoring_admin.save_criteria(
        None,
        "Engaged and a fit",
        {
            "marketing_qualified": True,
            "sales_ready": False,
            "rule": {
                "op": "and",
                "items": [
                    {"kind": "score", "model_id": engagement.id, "min_score": 40},
                    {"kind": "score", "model_id": fit.id, "min_score": 20},
                ],
            },
        },
        marketer,
    )
    scoring_admin.set_criteria_status(criteria, "published", marketer)
    demo = scoring_admin.save_criteria(
        None,
        "Demo requested",
        {
            "marketing_qualified": True,
            "sales_ready": True,
            "rule": {
                "op": "or",
                "items": [
                    {"kind": "interaction", "type": DEMO_REQUESTED[0], "filters": [], "within_days": 30}
                ],
            },
        },
        marketer,
    )
    scoring_admin.set_criteria_status(demo, "published", marketer)
    return len(rows)


def _lead_interactions(rng: random.Random, journey: Journey, now: dt.datetime) -> list[dict]:
    """The lead's own interactions in the four weeks before its score counts: the
    more engaged, the more clicks, pricing visits and forms, the fewer careers
    visits; blog and docs visits whatever the engagement."""
    engaged = journey.engagement
    kinds = [("email_clicked", {})] * sum(rng.random() < engaged for _ in range(3))
    kinds += [("web_visit", {"page_id": "pricing"})] * sum(rng.random() < engaged for _ in range(3))
    kinds += [("form_submitted", {})] * (rng.random() < 0.6 * engaged)
    kinds += [("web_visit", {"page_id": "careers"})] * (rng.random() < 0.3 * (1 - engaged))
    kinds += [("web_visit", {"page_id": rng.choice(["blog", "docs"])}) for _ in range(rng.randint(0, 3))]
    return [
        {
            "lead": journey.lead_id,
            "type": kind,
            "occurred_at": min(now, journey.counted_at - dt.timedelta(days=rng.uniform(0.2, 28))),
            "properties": properties,
            "source": "demo",
            "external_id": f"demo-lead-{journey.lead_id}-{n}",
            "created_at": now,
        }
        for n, (kind, properties) in enumerate(kinds)
    ]


def seed_score_history(rows: list[ModelRow], journeys: list[Journey]) -> int:
    """Each model's score of each lead a minute before its score counts, from the
    interactions stored by then (``prediction.score_as_of``), as score history:
    what the worker would have written had it been running. Returns the rows."""
    models = [
        core_scoring.ScoringModel.from_dict({**row.definition, "id": row.id, "name": row.name})
        for row in rows
    ]
    changes = []
    for first in range(0, len(journeys), BATCH):
        batch = journeys[first : first + BATCH]
        facts = load_facts([journey.lead_id for journey in batch])
        for journey in batch:
            moment = journey.counted_at - dt.timedelta(minutes=1)
            for model in models:
                score = prediction.score_as_of(model, facts[journey.lead_id], moment)
                if score is not None:
                    changes.append(
                        {
                            "lead": journey.lead_id,
                            "model": model.id,
                            "old_score": None,
                            "new_score": score,
                            "cause": "demo history",
                            "created_at": moment,
                        }
                    )
    with db.atomic():
        for start in range(0, len(changes), 500):
            ScoreChange.insert_many(changes[start : start + 500]).execute()
    return len(changes)
