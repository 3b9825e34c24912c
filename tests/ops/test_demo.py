"""The demo data the README's first command loads: every role, the teams and
product lines, leads in every stage, and the worker scoring, qualifying and
routing them (S4, Q2, R1) on both backends."""

from __future__ import annotations

from auth.models import ADMIN, INTEGRATION, MANAGER, MARKETER, REP, TELEPROSPECTOR, Team, User
from leads.activities.models import Activity
from leads.base.db import utcnow
from leads.core import lifecycle
from leads.records.models import Account, Contact, Lead, LeadHistory, ProductLine
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
    with app.app_context():  # W1: the teleprospectors' calls, each with its interaction, after the acceptance
        calls = list(Activity.select().where(Activity.kind == "call"))
        accepted = {
            row.lead_id: row.created_at
            for row in LeadHistory.select().where(
                (LeadHistory.kind == "stage") & (LeadHistory.new_value == "4")
            )
        }
    assert calls and all(call.interaction_id for call in calls)
    assert all(call.created_at >= accepted[call.lead_id] for call in calls)

    run_jobs()
    run_jobs()  # routing jobs enqueued by the scoring jobs
    assert PendingScore.select().count() == 0
    assert LeadScore.select().count() > 0
    assert (
        Lead.select().where(Lead.stage == lifecycle.INQUIRY).count() == 0
    )  # P1: every open lead got a score
    assert Assignment.select().where(Assignment.rep.is_null(False)).count() > 0


def _prediction_auc(name: str) -> float:
    import datetime as dt

    from leads.base.db import utcnow
    from leads.core import scoring
    from leads.scoring import prediction
    from leads.scoring.models import ScoringModel as ModelRow

    row = ModelRow.get(ModelRow.name == name)
    model = scoring.ScoringModel.from_dict({**row.definition, "id": row.id, "name": row.name})
    today = utcnow().date()
    result = prediction.model_prediction(
        model, today - dt.timedelta(days=365), today, what_if=row.status == scoring.DRAFT
    )
    assert result.figures.outcomes >= 50, result.figures
    return result.figures.auc


def test_d3_r3_r4_the_demo_scores_predict_its_outcomes_and_its_rules_find_a_rep_with_room(sqlite_app):
    """The demo as ``make demo`` seeds it (one seeding for both, it takes a while).
    D3: months of history whose outcomes follow how engaged people were; the
    score each lead had at stage 5 is in the score history, so the live
    Engagement model's AUC is clearly above 0.5, and the draft that scores a
    random country is a coin toss. R3/R4: once the worker has scored and routed
    it, every product line's reps (the first rule's pool) and every rep (the
    catch-all's) include someone below capacity."""
    from routing.assign import load_reps
    from tests.conftest import burst_worker

    with sqlite_app.app_context():
        seed()
        outcomes = Lead.select().where(Lead.status != lifecycle.OPEN)
        oldest = min(lead.created_at for lead in outcomes)
        assert (utcnow() - oldest).days > 90  # several months of stage history
        assert _prediction_auc("Engagement") > 0.6
        assert 0.4 <= _prediction_auc("Country (a coin toss)") <= 0.6
    run_jobs = burst_worker(sqlite_app)
    run_jobs()
    run_jobs()  # the routing jobs the scoring jobs enqueued
    with sqlite_app.app_context():
        reps = load_reps()
        lines = list(ProductLine.select())
    assert any(rep.open_leads < rep.capacity for rep in reps)
    for line in lines:
        pool = [rep for rep in reps if line.id in rep.product_line_ids]
        assert any(rep.open_leads < rep.capacity for rep in pool), (line.name, pool)
