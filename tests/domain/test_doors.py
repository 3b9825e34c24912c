"""One domain whatever the door (SPEC O1, S3, S4, P1, R1, R6): the same action
through every door that offers it (the web form, the lead page's htmx fragment,
a queue button, the API, a CSV import, a public capture) leaves the same state:
stage, history, scores, assignment, notifications and webhook deliveries. Real
database, real Redis, jobs run by a real RQ worker."""

from __future__ import annotations

import pytest

from auth.sessions import issue_token
from leads.base.db import utcnow
from leads.core import lifecycle as lc
from leads.notify.models import Notification
from leads.records.models import Account, Contact, Interaction, Lead, LeadHistory
from leads.scoring import services as scoring_admin
from leads.scoring.jobs import rescore_records
from leads.scoring.models import LeadScore
from leads.stages.services import perform
from leads.webhooks.models import Webhook, WebhookDelivery
from routing import manage
from routing.models import Assignment
from tests.factories import (
    ENGAGEMENT,
    csrf_token,
    login,
    make_account,
    make_contact,
    make_lead,
    make_product_line,
    make_user,
)
from tests.imports.test_imports import _import
from tests.intake.test_intake import make_source
from tests.intake.test_intake import post as capture_post

HX = {"HX-Request": "true"}
API = "/api/v1"


def bearer(user) -> dict:
    return {"Authorization": f"Bearer {issue_token(user, 'doors')}"}


def signed_in(app, user):
    return login(app.test_client(), user)


def htmx_post(client, path, data=None):
    return client.post(path, data=data or {}, headers={**HX, "X-CSRFToken": csrf_token(client)})


def live_model(app, run_jobs):
    marketer = make_user("marketer")
    with app.app_context():
        row = scoring_admin.save_model(None, "Engagement", "", ENGAGEMENT, marketer)
        scoring_admin.set_model_status(row, "live", marketer)
    run_jobs()
    return row


def newest_lead() -> Lead:
    return Lead.select().order_by(Lead.id.desc()).first()


# --- S4 / P1: a new lead is scored whatever door made it ---------------------------


def create_through_api(app, run_jobs):
    answer = app.test_client().post(
        f"{API}/leads",
        json={"topic": "Pricing", "first_name": "Ada", "last_name": "Api", "email": "ada@example.test"},
        headers=bearer(make_user("integration")),
    )
    assert answer.status_code == 201, answer.get_json()
    return answer.get_json()["id"]


def create_through_web_form(app, run_jobs):
    client = signed_in(app, make_user("manager"))
    line = make_product_line()
    answer = client.post(
        "/leads/new",
        data={"topic": "Pricing", "product_line": str(line.id), "csrf_token": csrf_token(client)},
    )
    assert answer.status_code in (302, 303), answer.get_data(as_text=True)
    return newest_lead().id


def create_through_import(app, run_jobs):
    client = signed_in(app, make_user("marketer"))
    upload = _import(
        app, client, run_jobs, b"first name,last name,email\nAda,Import,ada@example.test\n", entity="lead"
    )
    assert upload.created == 1, upload.status
    return newest_lead().id


def create_through_capture(app, run_jobs):
    with app.app_context():
        source = make_source(creates_lead=True)
    answer = capture_post(app.test_client(), source)
    assert answer.status_code in (200, 302, 303)
    return newest_lead().id


CREATE_DOORS = {
    "api": create_through_api,
    "web form": create_through_web_form,
    "csv import": create_through_import,
    "capture": create_through_capture,
}


@pytest.mark.parametrize("door", sorted(CREATE_DOORS))
def test_s4_p1_a_lead_created_through_any_door_is_scored_and_leaves_stage_1(app, run_jobs, door):
    """S4/P1: with a live model, a lead made by the API, the web form, a CSV
    import or a capture is scored by the worker and moves to stage 2 by itself."""
    model = live_model(app, run_jobs)
    lead_id = CREATE_DOORS[door](app, run_jobs)
    run_jobs()
    lead = Lead.get_by_id(lead_id)
    assert LeadScore.select().where((LeadScore.lead == lead_id) & (LeadScore.model == model.id)).count() == 1
    assert lead.stage == lc.AUTOMATED_QUALIFICATION
    moves = [
        row.new_value
        for row in LeadHistory.select().where((LeadHistory.lead == lead_id) & (LeadHistory.kind == "stage"))
    ]
    assert moves[0] == str(lc.INQUIRY) and moves[-1] == str(lc.AUTOMATED_QUALIFICATION)


# --- R1: sales-ready through any door is routed -----------------------------------


@pytest.fixture
def sales_world(app):
    """A product line with two reps in round robin, a rule for it, a manager, a
    teleprospector, an integration, and a webhook that wants sales-ready leads."""
    line = make_product_line(name="Analytics")
    reps = []
    for name in ("Ana", "Ben"):
        rep = make_user("rep", name=name)
        manage.save_profile(rep, 20, None, None, [line.id])
        reps.append(rep)
    condition = {"entity": "lead", "field": "product_line_id", "operator": "equals", "value": line.id}
    manage.save_rule({"name": "Analytics", "strategy": "round_robin", "conditions": condition}, None)
    Webhook.create(name="CRM", url="http://127.0.0.1:9/hook", secret="s" * 32, events=["lead.sales_ready"])
    return {
        "line": line,
        "reps": reps,
        "manager": make_user("manager"),
        "tp": make_user("teleprospector"),
        "integration": make_user("integration"),
    }


FINDINGS = {"budget": "10k–50k", "authority": "Decision maker", "need": "Reporting", "timeframe": "This quarter"}


def ready_through_lead_page(app, world, lead):
    return htmx_post(signed_in(app, world["manager"]), f"/leads/{lead.id}/actions/sales_ready")


def ready_through_api(app, world, lead):
    return app.test_client().post(
        f"{API}/leads/{lead.id}/actions/sales_ready", json={}, headers=bearer(world["integration"])
    )


def move_to_stage_5_through_api(app, world, lead):
    return app.test_client().post(
        f"{API}/leads/{lead.id}/actions/move", json={"stage": 5}, headers=bearer(world["integration"])
    )


def ready_through_queue_button(app, world, lead):
    data = {f"lead-{lead.id}-q_{key}": value for key, value in FINDINGS.items()}
    data[f"lead-{lead.id}-mark_sales_ready"] = "Sales ready"
    client = signed_in(app, world["tp"])
    return client.post(
        f"/queues/teleprospecting/{lead.id}/qualify",
        data=data,
        headers={**HX, "X-CSRFToken": csrf_token(client)},
    )


def move_to_stage_5_in_bulk(app, world, lead):
    """W5: the lead list's bulk "move to a stage", one lead through the same stage action."""
    client = signed_in(app, world["manager"])
    return htmx_post(client, "/leads/bulk", {"action": "move", "to_stage": "5", "ids": str(lead.id)})


READY_DOORS = {
    "lead list bulk move to stage 5": move_to_stage_5_in_bulk,
    "lead page": ready_through_lead_page,
    "api sales_ready": ready_through_api,
    "api move to stage 5": move_to_stage_5_through_api,
    "teleprospecting queue": ready_through_queue_button,
}


@pytest.mark.parametrize("door", sorted(READY_DOORS))
def test_r1_a_lead_made_sales_ready_through_any_door_is_routed_the_same(app, sales_world, run_jobs, door):
    """R1/O1/W5: the lead page, the API (sales_ready or a move to stage 5), the
    teleprospectors' queue and the lead list's bulk move all hand the lead to routing: a rep of its product
    line owns it with a live assignment, the rep is notified, the decision is
    on the timeline, and the sales-ready webhook has one delivery."""
    world = sales_world
    lead = make_lead(
        product_line=world["line"], stage=lc.TP_QUALIFICATION, tp_accepted=True, teleprospector=world["tp"]
    )
    answer = READY_DOORS[door](app, world, lead)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    run_jobs()
    fresh = Lead.get_by_id(lead.id)
    assert fresh.stage == lc.SALES_ACCEPTANCE and fresh.sales_ready
    assert fresh.owner_id in {rep.id for rep in world["reps"]}
    live = Assignment.get((Assignment.lead == lead.id) & Assignment.ended_at.is_null())
    assert live.rep_id == fresh.owner_id
    assert Notification.select().where((Notification.user == fresh.owner_id) & (Notification.lead == lead.id)).count() == 1
    assert LeadHistory.select().where((LeadHistory.lead == lead.id) & (LeadHistory.kind == "routing")).count() == 1
    assert WebhookDelivery.select().where(WebhookDelivery.key == f"lead.sales_ready:{lead.id}").count() == 1


# --- R6: accept and decline through any door ---------------------------------------


def routed_lead(app, world, run_jobs) -> Lead:
    """A lead that routing gave to one of the two reps."""
    lead = make_lead(product_line=world["line"], stage=lc.AUTOMATED_QUALIFICATION)
    with app.app_context():
        perform(lead, "sales_ready", None, via="test")
    run_jobs()
    lead = Lead.get_by_id(lead.id)
    assert lead.owner_id is not None
    return lead


def rep_of(world, lead):
    return next(rep for rep in world["reps"] if rep.id == lead.owner_id)


def act_through_lead_page(app, world, lead, action, reason):
    data = {"note": reason} if reason else {}
    return htmx_post(signed_in(app, rep_of(world, lead)), f"/leads/{lead.id}/actions/{action}", data)


def act_through_api(app, world, lead, action, reason):
    body = {"note": reason} if reason else {}
    return app.test_client().post(
        f"{API}/leads/{lead.id}/actions/{action}", json=body, headers=bearer(rep_of(world, lead))
    )


def act_through_queue_button(app, world, lead, action, reason):
    client = signed_in(app, rep_of(world, lead))
    data = {f"lead-{lead.id}-reason": reason} if reason else {}
    return client.post(
        f"/queues/mine/{lead.id}/{action}", data=data, headers={**HX, "X-CSRFToken": csrf_token(client)}
    )


REP_DOORS = {"lead page": act_through_lead_page, "api": act_through_api, "my queue": act_through_queue_button}


@pytest.mark.parametrize("door", sorted(REP_DOORS))
def test_r6_sales_accept_through_any_door_marks_the_live_assignment_accepted(app, sales_world, run_jobs, door):
    """R6/O1: Sales accepted from the lead page, the API or the rep's queue marks
    the rep's live assignment accepted (so the time limit no longer applies)."""
    lead = routed_lead(app, sales_world, run_jobs)
    answer = REP_DOORS[door](app, sales_world, lead, "sales_accept", None)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    fresh = Lead.get_by_id(lead.id)
    live = Assignment.get((Assignment.lead == lead.id) & Assignment.ended_at.is_null())
    assert fresh.sales_accepted and live.rep_id == lead.owner_id and live.accepted_at is not None


@pytest.mark.parametrize("door", sorted(REP_DOORS))
def test_r6_decline_through_any_door_ends_the_assignment_and_routes_the_lead_to_another_rep(
    app, sales_world, run_jobs, door
):
    """R6/O1: a decline from the lead page, the API or the rep's queue ends the
    rep's assignment (declined, with the reason) and the worker routes the lead
    again, without that rep."""
    lead = routed_lead(app, sales_world, run_jobs)
    first = lead.owner_id
    answer = REP_DOORS[door](app, sales_world, lead, "decline", "Not my territory")
    assert answer.status_code == 200, answer.get_data(as_text=True)
    ended = Assignment.get((Assignment.lead == lead.id) & (Assignment.rep == first))
    assert ended.ended_at is not None and ended.declined_at is not None
    run_jobs()
    fresh = Lead.get_by_id(lead.id)
    assert fresh.owner_id is not None and fresh.owner_id != first
    live = Assignment.get((Assignment.lead == lead.id) & Assignment.ended_at.is_null())
    assert live.rep_id == fresh.owner_id


# --- S3: a contact that changes account re-scores both accounts' leads ------------


def move_through_web_form(app, contact, account):
    client = signed_in(app, make_user("manager"))
    return client.post(
        f"/contacts/{contact.id}/edit",
        data={
            "first_name": contact.first_name,
            "last_name": contact.last_name,
            "email": contact.email,
            "account": str(account.id),
            "owner": "",
        },
        headers={**HX, "X-CSRFToken": csrf_token(client)},
    )


def move_through_api(app, contact, account):
    return app.test_client().patch(
        f"{API}/contacts/{contact.id}", json={"account_id": account.id}, headers=bearer(make_user("integration"))
    )


MOVE_DOORS = {"web form": move_through_web_form, "api": move_through_api}


def score_of(lead) -> int | None:
    row = LeadScore.get_or_none(LeadScore.lead == lead.id)
    return None if row is None else row.score


@pytest.mark.parametrize("door", sorted(MOVE_DOORS))
def test_s3_a_contact_moving_to_another_account_rescores_the_leads_of_both(app, run_jobs, door):
    """S3/S4: an account-based lead counts every contact's interactions; when a
    contact moves to another account (form or API), the old account's lead
    loses its clicks and the new account's lead gains them."""
    live_model(app, run_jobs)
    old, new = make_account(name="Old Co"), make_account(name="New Co")
    contact = make_contact(account=old, email="mover@example.test")
    old_lead, new_lead = make_lead(account=old), make_lead(account=new)
    Interaction.create(
        type="email_clicked", contact=contact, external_id="click-1", source="test", occurred_at=utcnow()
    )
    with app.app_context():
        rescore_records("test", lead_ids=[old_lead.id, new_lead.id])
    run_jobs()
    assert (score_of(old_lead), score_of(new_lead)) == (10, 0)
    answer = MOVE_DOORS[door](app, contact, new)
    assert answer.status_code in (200, 204), answer.get_data(as_text=True)
    assert Contact.get_by_id(contact.id).account_id == new.id
    run_jobs()
    assert (score_of(old_lead), score_of(new_lead)) == (0, 10)
    assert Account.get_by_id(old.id).name == "Old Co"
