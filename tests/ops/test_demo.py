"""The demo data the README's first command loads: every role, the teams and
product lines, leads in every stage, and the worker scoring, qualifying and
routing them (S4, Q2, R1) on both backends."""

from __future__ import annotations

from auth.models import ADMIN, INTEGRATION, MANAGER, MARKETER, REP, TELEPROSPECTOR, Team, User
from leads.core import lifecycle
from leads.records.models import Account, Contact, Lead, ProductLine
from leads.scoring.models import LeadScore, PendingScore
from ops.demo import seed
from routing.models import Assignment


def test_the_demo_has_every_role_and_every_stage_and_the_worker_scores_and_routes_it(app, run_jobs):
    with app.app_context():
        counts = seed(lead_count=120)
    assert counts["leads"] == 120 and counts["contacts"] == Contact.select().count() > 0
    assert {user.role for user in User.select()} >= {
        ADMIN,
        MARKETER,
        MANAGER,
        TELEPROSPECTOR,
        REP,
        INTEGRATION,
    }
    assert Team.select().count() == 2 and ProductLine.select().count() == 3 and Account.select().count() >= 40
    stages = {(lead.stage, lead.status) for lead in Lead.select()}
    assert {stage for stage, status in stages if status == lifecycle.OPEN} == set(lifecycle.STAGES)
    assert {status for _, status in stages} == set(lifecycle.STATUSES)

    run_jobs()
    run_jobs()  # routing jobs enqueued by the scoring jobs
    assert PendingScore.select().count() == 0
    assert LeadScore.select().count() > 0
    assert (
        Lead.select().where(Lead.stage == lifecycle.INQUIRY).count() == 0
    )  # P1: every open lead got a score
    assert Assignment.select().where(Assignment.rep.is_null(False)).count() > 0
