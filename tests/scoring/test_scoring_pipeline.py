"""Scoring and qualification end to end (S1–S6, Q1–Q6, P1, P3, E3): an event in
through the API → stored → real Redis → real RQ worker → score, status and
stage out, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest

from auth.admin import issue_token
from leads.base.db import utcnow
from leads.base.models import BackgroundTask
from leads.base.sweep import sweep
from leads.core import lifecycle
from leads.records.models import Interaction, Lead, LeadHistory
from leads.scoring import services as scoring_admin
from leads.scoring.models import LeadScore, PendingScore, ScoreChange
from leads.webhooks.models import WebhookDelivery
from tests.factories import ENGAGEMENT, make_account, make_contact, make_custom_type, make_lead, make_user


def admin(app, name, *args):
    """Call ``scoring_admin.<name>`` inside an app context (it enqueues jobs)."""
    with app.app_context():
        return getattr(scoring_admin, name)(*args)


def live_model(app, marketer, definition=ENGAGEMENT, name="Engagement", run_jobs=None):
    row = admin(app, "save_model", None, name, "", definition, marketer)
    admin(app, "set_model_status", row, "live", marketer)
    if run_jobs:
        run_jobs()
    return row


def post(client, token, body):
    return client.post("/api/v1/interactions", json=body, headers={"Authorization": f"Bearer {token}"})


@pytest.fixture
def world(app):
    marketer = make_user("marketer")
    integration = make_user("integration")
    contact = make_contact(job_title="Sales Director", email="ana@example.com")
    lead = make_lead(contact=contact, stage=lifecycle.INQUIRY)
    return {
        "marketer": marketer,
        "token": issue_token(integration, "site"),
        "contact": contact,
        "lead": lead,
        "client": app.test_client(),
    }


def test_s2_s4_p1_an_event_posted_through_the_api_scores_the_lead_and_moves_it_to_stage_2(
    app, world, run_jobs
):
    model = live_model(app, world["marketer"], run_jobs=run_jobs)
    lead = Lead.get_by_id(world["lead"].id)
    assert lead.stage == lifecycle.AUTOMATED_QUALIFICATION  # P1: scored by the attribute rule alone
    assert LeadScore.get(lead=lead, model=model).score == 20

    answer = post(
        world["client"],
        world["token"],
        {"type": "email_clicked", "external_id": "c-1", "email": "ANA@example.com "},
    )
    assert answer.status_code == 201, answer.get_json()
    run_jobs()
    score = LeadScore.get(lead=lead, model=model)
    assert score.score == 30 and score.grade == "B"
    assert {rule["rule_id"]: rule["points"] for rule in score.breakdown} == {"director": 20, "clicks": 10}
    history = list(ScoreChange.select().where(ScoreChange.lead == lead).order_by(ScoreChange.id))
    assert [(h.old_score, h.new_score) for h in history] == [(None, 20), (20, 30)]
    assert "interaction" in history[-1].cause
    assert PendingScore.select().count() == 0


def test_e3_the_same_event_posted_twice_is_stored_and_counted_once(app, world, run_jobs):
    model = live_model(app, world["marketer"], run_jobs=run_jobs)
    event = {"type": "email_clicked", "external_id": "same", "contact_id": world["contact"].id}
    assert post(world["client"], world["token"], event).status_code == 201
    again = post(world["client"], world["token"], [event, event])
    assert again.status_code == 200
    assert [item["status"] for item in again.get_json()["data"]] == ["duplicate", "duplicate"]
    run_jobs()
    assert Interaction.select().count() == 1
    assert LeadScore.get(lead=world["lead"], model=model).score == 30


def test_a_batch_stores_good_items_and_reports_each_bad_one_with_field_and_reason(app, world, run_jobs):
    batch = [
        {
            "type": "web_visit",
            "external_id": "v-1",
            "lead_id": world["lead"].id,
            "properties": {"page_id": "pricing"},
        },
        {"type": "web_visit", "external_id": "v-2", "email": "nobody@example.com"},
        {"external_id": "v-3", "lead_id": world["lead"].id},
        {"type": "web_visit", "external_id": "v-4", "lead_id": world["lead"].id, "occurred_at": "yesterday"},
        "not an object",
    ]
    answer = post(world["client"], world["token"], batch).get_json()
    assert (answer["created"], answer["rejected"]) == (1, 4)
    errors = {item["index"]: item.get("errors") for item in answer["data"]}
    assert errors[1] == [{"field": "email", "reason": "No contact or lead has this email."}]
    assert errors[2] == [{"field": "type", "reason": "Required."}]
    assert errors[3][0]["field"] == "occurred_at"
    assert errors[4][0]["field"] is None
    assert Interaction.get().properties == {"page_id": "pricing"}


def test_the_api_refuses_oversized_batches_and_roles_that_may_not_write(app, world):
    too_many = [{"type": "x", "external_id": str(i), "lead_id": world["lead"].id} for i in range(1001)]
    answer = post(world["client"], world["token"], too_many)
    assert answer.status_code == 400 and "1000" in answer.get_json()["errors"][0]["reason"]
    rep_token = issue_token(make_user("rep"), "mine")
    refused = post(world["client"], rep_token, {"type": "x", "external_id": "r", "lead_id": world["lead"].id})
    assert refused.status_code == 403
    assert Interaction.select().count() == 0


def test_s1_leads_outside_the_audience_get_no_score_and_stay_in_stage_1(app, world, run_jobs):
    definition = {
        **ENGAGEMENT,
        "audience": {
            "op": "and",
            "items": [{"entity": "contact", "field": "country", "operator": "equals", "value": "FR"}],
        },
    }
    model = live_model(app, world["marketer"], definition, run_jobs=run_jobs)
    assert not LeadScore.select().where(LeadScore.model == model).exists()
    assert Lead.get_by_id(world["lead"].id).stage == lifecycle.INQUIRY


def test_s3_an_account_based_lead_counts_the_events_of_every_contact_of_the_account(app, run_jobs):
    marketer = make_user("marketer")
    token = issue_token(make_user("integration"), "site")
    account = make_account(name="Acme")
    first, second = (
        make_contact(account=account, email="a@acme.test"),
        make_contact(account=account, email="b@acme.test"),
    )
    lead = make_lead(account=account, contact=None)
    model = live_model(app, marketer, {**ENGAGEMENT, "attribute_rules": []}, run_jobs=run_jobs)
    client = app.test_client()
    post(
        client,
        token,
        [
            {"type": "email_clicked", "external_id": "1", "contact_id": first.id},
            {"type": "email_clicked", "external_id": "2", "contact_id": second.id},
        ],
    )
    run_jobs()
    assert LeadScore.get(lead=lead, model=model).score == 20


def test_s5_p3_a_model_threshold_makes_the_lead_sales_ready_and_skips_to_stage_5(app, world, run_jobs):
    live_model(app, world["marketer"], {**ENGAGEMENT, "sales_ready_threshold": 40}, run_jobs=run_jobs)
    events = [
        {"type": "email_clicked", "external_id": f"c{i}", "contact_id": world["contact"].id} for i in range(2)
    ]
    post(world["client"], world["token"], events)
    run_jobs()
    lead = Lead.get_by_id(world["lead"].id)
    assert (lead.stage, lead.sales_ready, lead.status_reason) == (
        lifecycle.SALES_ACCEPTANCE,
        True,
        lifecycle.REASON_SALES_READY,
    )
    moves = [
        (h.old_value, h.new_value, h.actor_id)
        for h in LeadHistory.select()
        .where((LeadHistory.lead == lead) & (LeadHistory.kind == "stage"))
        .order_by(LeadHistory.id)
    ]
    assert moves[-1] == ("2", "5", None)  # P7: by the system


def test_q1_q2_q4_q5_criteria_qualify_open_leads_once_and_it_sticks(app, world, run_jobs):
    marketer = world["marketer"]
    model = live_model(app, marketer, run_jobs=run_jobs)
    criteria = admin(
        app,
        "save_criteria",
        None,
        "Engaged directors",
        {
            "marketing_qualified": True,
            "sales_ready": False,
            "rule": {"op": "and", "items": [{"kind": "score", "model_id": model.id, "min_score": 30}]},
        },
        marketer,
    )
    admin(app, "set_criteria_status", criteria, "published", marketer)
    closed = make_lead(contact=world["contact"], status=lifecycle.DISQUALIFIED, status_reason="no_budget")
    post(
        world["client"],
        world["token"],
        {"type": "email_clicked", "external_id": "q1", "contact_id": world["contact"].id},
    )
    run_jobs()
    lead = Lead.get_by_id(world["lead"].id)
    assert lead.status_reason == lifecycle.REASON_MARKETING_QUALIFIED  # Q2
    assert Lead.get_by_id(closed.id).status_reason == "no_budget"  # Q4
    # Q5: the score drops below the threshold (the director title goes), the reason stays
    world["contact"].job_title = "Intern"
    world["contact"].save()
    from leads.scoring.jobs import rescore_records

    with app.app_context():
        rescore_records("contact changed", contact_ids=[world["contact"].id])
    run_jobs()
    assert LeadScore.get(lead=lead, model=model).score == 10
    assert Lead.get_by_id(lead.id).status_reason == lifecycle.REASON_MARKETING_QUALIFIED


def test_q3_criteria_are_edited_only_when_stopped_and_read_only_live_models(app, world, run_jobs):
    marketer = world["marketer"]
    draft = admin(app, "save_model", None, "Draft model", "", ENGAGEMENT, marketer)
    rule = {"op": "and", "items": [{"kind": "score", "model_id": draft.id, "min_score": 1}]}
    with pytest.raises(scoring_admin.ManageError) as refused:
        admin(app, "save_criteria", None, "C", {"rule": rule}, marketer)
    assert "live" in refused.value.errors[0].reason  # Q1
    model = live_model(app, marketer, name="Live", run_jobs=run_jobs)
    criteria = admin(
        app,
        "save_criteria",
        None,
        "C",
        {"rule": {"op": "and", "items": [{"kind": "score", "model_id": model.id, "min_score": 1}]}},
        marketer,
    )
    admin(app, "set_criteria_status", criteria, "published", marketer)
    with pytest.raises(scoring_admin.ManageError):
        admin(
            app,
            "save_criteria",
            criteria.reload() if hasattr(criteria, "reload") else type(criteria).get_by_id(criteria.id),
            "C2",
            {"rule": rule},
            marketer,
        )
    stopped = type(criteria).get_by_id(criteria.id)
    admin(app, "set_criteria_status", stopped, "stopped", marketer)
    edited = admin(
        app,
        "save_criteria",
        type(criteria).get_by_id(criteria.id),
        "C2",
        {"rule": {"op": "and", "items": [{"kind": "score", "model_id": model.id, "min_score": 5}]}},
        marketer,
    )
    assert edited.name == "C2" and edited.definition["rule"]["items"][0]["min_score"] == 5


def test_q6_a_high_value_action_alone_qualifies_without_any_model(app, world, run_jobs):
    marketer = world["marketer"]
    make_custom_type("demo_requested", "Demo requested")  # E3: the action is a registered type
    criteria = admin(
        app,
        "save_criteria",
        None,
        "Demo requested",
        {
            "marketing_qualified": True,
            "sales_ready": True,
            "rule": {
                "op": "or",
                "items": [
                    {"kind": "interaction", "type": "demo_requested", "filters": [], "within_days": 30}
                ],
            },
        },
        marketer,
    )
    admin(app, "set_criteria_status", criteria, "published", marketer)
    run_jobs()
    assert Lead.get_by_id(world["lead"].id).stage == lifecycle.INQUIRY
    post(
        world["client"],
        world["token"],
        {"type": "demo_requested", "external_id": "d1", "lead_id": world["lead"].id},
    )
    run_jobs()
    lead = Lead.get_by_id(world["lead"].id)
    assert lead.sales_ready and lead.stage == lifecycle.SALES_ACCEPTANCE


def test_s4_publishing_rescores_every_open_lead_under_a_task_with_progress(app, world, run_jobs):
    for _ in range(5):
        make_lead(contact=make_contact(job_title="Director"))
    row = admin(app, "save_model", None, "Bulk", "", ENGAGEMENT, world["marketer"])
    task = admin(app, "set_model_status", row, "live", world["marketer"])
    assert task.total == 6 and BackgroundTask.get_by_id(task.id).done == 0
    run_jobs()
    task = BackgroundTask.get_by_id(task.id)
    assert (task.done, task.status) == (6, "done")
    assert LeadScore.select().count() == 6


def test_s4_a_lost_job_is_recovered_by_the_sweeper_and_counts_once(app, world, run_jobs):
    model = live_model(app, world["marketer"], run_jobs=run_jobs)
    post(
        world["client"],
        world["token"],
        {"type": "email_clicked", "external_id": "lost", "contact_id": world["contact"].id},
    )
    with app.app_context():
        from leads.base.queue import get_queue

        get_queue().empty()  # Redis lost the job; the database still has the event and its pending row
    assert PendingScore.select().count() == 1
    run_jobs()
    assert LeadScore.get(lead=world["lead"], model=model).score == 20
    with app.app_context():
        swept = sweep(now=utcnow() + dt.timedelta(minutes=5))
    assert swept["requeued"] == 1
    run_jobs()
    run_jobs()
    assert LeadScore.get(lead=world["lead"], model=model).score == 30
    assert PendingScore.select().count() == 0


def test_s4_the_sweeper_rescores_when_a_time_window_ends(app, world, run_jobs):
    model = live_model(app, world["marketer"], run_jobs=run_jobs)
    post(
        world["client"],
        world["token"],
        {"type": "email_clicked", "external_id": "w", "contact_id": world["contact"].id},
    )
    run_jobs()
    score = LeadScore.get(lead=world["lead"], model=model)
    assert score.score == 30 and score.expires_at > utcnow() + dt.timedelta(days=29)
    # Thirty days pass: the click leaves the window, and its expiry is due.
    Interaction.update(occurred_at=utcnow() - dt.timedelta(days=31)).execute()
    LeadScore.update(expires_at=utcnow() - dt.timedelta(seconds=1)).execute()
    with app.app_context():
        swept = sweep()
    assert swept["expired"] == 1
    run_jobs()
    assert LeadScore.get(lead=world["lead"], model=model).score == 20


def test_q2_a_qualified_lead_gets_one_signed_webhook_delivery(app, world, run_jobs):
    from leads.webhooks.models import Webhook

    Webhook.create(name="journey", url="http://127.0.0.1:9/hook", secret="s3cret", events=["lead.qualified"])
    model = live_model(app, world["marketer"], run_jobs=run_jobs)
    criteria = admin(
        app,
        "save_criteria",
        None,
        "Any",
        {"rule": {"op": "and", "items": [{"kind": "score", "model_id": model.id, "min_score": 1}]}},
        world["marketer"],
    )
    admin(app, "set_criteria_status", criteria, "published", world["marketer"])
    run_jobs()
    deliveries = list(WebhookDelivery.select())
    assert len(deliveries) == 1 and deliveries[0].payload["lead"]["id"] == world["lead"].id
    # nothing listens on port 9: the attempt fails and is scheduled again with backoff
    assert deliveries[0].attempts == 1 and deliveries[0].status == "pending" and deliveries[0].last_error


def test_s6_the_lead_scores_api_explains_the_score(app, world, run_jobs):
    live_model(app, world["marketer"], run_jobs=run_jobs)
    answer = world["client"].get(
        f"/api/v1/leads/{world['lead'].id}/scores", headers={"Authorization": f"Bearer {world['token']}"}
    )
    data = answer.get_json()["data"]
    assert data[0]["score"] == 20 and data[0]["breakdown"][0]["label"] == "Director"
