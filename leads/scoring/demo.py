"""Demo scoring: interactions for the demo contacts, two live scoring models
and published qualification criteria, so the bundled worker scores and
qualifies the demo leads as soon as it starts (S1–S6, Q1–Q6)."""

from __future__ import annotations

import datetime as dt
import random

from auth.models import User
from leads.base.db import db, utcnow
from leads.records import interaction_types
from leads.records.models import Contact, Interaction
from leads.scoring import services as scoring_admin

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


def seed_scoring(rng: random.Random, marketer: User) -> int:
    """Interactions over the last 60 days for two thirds of the contacts; the
    models and criteria; returns the number of interactions."""
    now = utcnow()
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
    with db.atomic():
        for start in range(0, len(rows), 500):
            Interaction.insert_many(rows[start : start + 500]).execute()
    engagement = scoring_admin.save_model(
        None, "Engagement", "What people did, recent first.", ENGAGEMENT, marketer
    )
    fit = scoring_admin.save_model(None, "Fit", "Who they are: title and company.", FIT, marketer)
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
