"""Hand-off context (SPEC W3) through the test client on SQLite and PostgreSQL:
from stage 5 the lead page's Hand-off panel shows the teleprospector's findings,
who recorded them and when, the scores and their why, the latest activities and
the interactions before the lead became sales-ready; the rep's queue row has the
findings; a teleprospector opening a lead they handed to sales gets a read-only
page saying where it went, anyone else a 404."""

from __future__ import annotations

import datetime as dt

import pytest

from leads.activities import services as activities
from leads.base.db import utcnow
from leads.core import lifecycle as lc
from leads.records import activity
from leads.records.models import Interaction, Lead
from leads.scoring import services as scoring_admin
from tests.factories import count_queries, csrf_token, login, make_contact, make_lead, make_user
from tests.scoring.test_lead_scores_ui import FIT, poll_url, region, text_of

HX = {"HX-Request": "true"}
FINDINGS = {
    "q_budget": "10k–50k",
    "q_authority": "Decision maker",
    "q_need": "Replacing spreadsheets",
    "q_timeframe": "This quarter",
}


def post(client, path, data=None):
    return client.post(path, data=data or {}, headers={"X-CSRFToken": csrf_token(client), **HX})


def as_user(app, role, **kw):
    user = make_user(role, **kw)
    return login(app.test_client(), user), user


@pytest.fixture
def handed(app, run_jobs):
    """A lead scored by a live model, worked by Tess (findings, a call, two
    interactions before Sales ready, one after), assigned to Rita."""
    contact = make_contact(country="FR")
    lead = make_lead(contact=contact, stage=lc.AUTOMATED_QUALIFICATION)
    marketer = make_user("marketer")
    with app.app_context():  # publishing re-scores the stored leads
        row = scoring_admin.save_model(None, "Fit", "", FIT, marketer)
        scoring_admin.set_model_status(row, "live", marketer)
    run_jobs()
    manager_client, _ = as_user(app, "manager")
    tp_client, tp = as_user(app, "teleprospector", name="Tess Teleprospector")
    rep_client, rep = as_user(app, "rep", name="Rita Rep")
    assert post(manager_client, f"/leads/{lead.id}/actions/ready_for_tp").status_code == 200
    assert post(tp_client, f"/leads/{lead.id}/actions/tp_accept").status_code == 200
    long_ago = utcnow() - dt.timedelta(days=2)
    for n, kind in enumerate(["webinar_attended", "pricing_viewed", "old_visit"]):
        Interaction.create(
            contact=contact,
            type=kind,
            external_id=f"h-{lead.id}-{n}",
            occurred_at=long_ago + dt.timedelta(hours=10 - n),
        )
    lead = Lead.get_by_id(lead.id)
    with app.app_context():
        call = {"outcome": "connected", "duration_minutes": "12", "body": "Keen on a demo"}
        assert activities.add_activity(lead, tp, "call", call)[0] is not None
    answer = post(tp_client, f"/leads/{lead.id}/actions/qualify", {**FINDINGS, "mark_sales_ready": "1"})
    assert answer.status_code == 200 and Lead.get_by_id(lead.id).stage == lc.SALES_ACCEPTANCE
    Interaction.create(
        contact=contact,
        type="after_handoff",
        external_id=f"h-{lead.id}-late",
        occurred_at=utcnow() + dt.timedelta(hours=1),
    )
    assert post(manager_client, f"/leads/{lead.id}/actions/assign", {"owner_id": rep.id}).status_code == 200
    return {"lead": lead, "tp_client": tp_client, "rep_client": rep_client, "rep": rep, "app": app}


def test_w3_the_owning_rep_sees_findings_who_scores_why_activities_and_interactions(handed):
    page = handed["rep_client"].get(f"/leads/{handed['lead'].id}").get_data(as_text=True)
    panel = text_of(region(page, "lead-handoff"))
    assert "Hand-off" in panel
    assert "Budget 10k–50k" in panel and "Authority Decision maker" in panel
    assert "Need Replacing spreadsheets" in panel
    assert "Recorded by Tess Teleprospector" in panel and "UTC" in panel
    assert "Fit: 50" in panel and "Based in France +50" in panel  # the score's why
    assert "Call Tess Teleprospector" in panel and "Keen on a demo" in panel  # latest activities
    interactions = panel.split("What made it sales-ready", 1)[1]
    # the latest three before Sales ready (the call's own interaction, then the two newest)
    assert "webinar attended" in interactions and "pricing viewed" in interactions
    assert "old visit" not in interactions and "after handoff" not in interactions


def test_w3_no_hand_off_panel_before_stage_5(app):
    client, _ = as_user(app, "manager")
    lead = make_lead(stage=lc.TP_QUALIFICATION, qualification={"budget": "10k"})
    page = client.get(f"/leads/{lead.id}").get_data(as_text=True)
    assert 'id="lead-handoff"' not in page and "Hand-off" not in page


def test_w3_the_reps_queue_row_has_the_findings_and_the_teleprospector(handed):
    page = handed["rep_client"].get("/queues/mine").get_data(as_text=True)
    row = region(page, f"queue-row-{handed['lead'].id}")
    assert "<details" in row
    shown = text_of(row)
    assert "Budget 10k–50k" in shown and "Tess Teleprospector" in shown


def test_w3_the_teleprospector_who_handed_the_lead_sees_where_it_went(handed):
    answer = handed["tp_client"].get(f"/leads/{handed['lead'].id}")
    assert answer.status_code == 200
    shown = text_of(answer.get_data(as_text=True))
    assert "This lead went to sales: Rita Rep, Sales acceptance" in shown
    assert 'id="lead-body"' not in answer.get_data(as_text=True)  # read-only: no panels, no actions
    assert "Budget" not in shown


def test_w3_a_handed_lead_waiting_for_a_rep_says_so(app):
    tp_client, tp = as_user(app, "teleprospector")
    lead = make_lead(stage=lc.SALES_ACCEPTANCE, sales_ready=True, teleprospector=tp)
    shown = text_of(tp_client.get(f"/leads/{lead.id}").get_data(as_text=True))
    assert "This lead went to sales: waiting for a rep, Sales acceptance" in shown


def test_w3_another_teleprospector_still_gets_404(handed, app):
    other, _ = as_user(app, "teleprospector")
    assert other.get(f"/leads/{handed['lead'].id}").status_code == 404
    tp_client = handed["tp_client"]
    never_claimed = make_lead(stage=lc.SALES_ACCEPTANCE, sales_ready=True)
    assert tp_client.get(f"/leads/{never_claimed.id}").status_code == 404
    assert tp_client.get(f"/leads/{handed['lead'].id}/stages/5").status_code == 404


def test_w3_the_panel_adds_no_query_to_the_lead_page(handed):
    with count_queries() as queries:
        page = handed["rep_client"].get(f"/leads/{handed['lead'].id}").get_data(as_text=True)
    assert "Recorded by Tess Teleprospector" in text_of(page)
    assert len(queries) <= 12, queries  # the lead page's cap (tests/stages/test_lead_page.py)


def test_w3_interactions_before_sales_ready_older_than_the_loaded_ones_are_still_shown(handed):
    lead = handed["lead"]
    later = utcnow() + dt.timedelta(hours=2)
    for n in range(activity.SHOWN):  # enough newer ones to fill the page's interaction list
        Interaction.create(
            lead=lead, type="later_visit", external_id=f"late-{lead.id}-{n}", occurred_at=later
        )
    page = handed["rep_client"].get(f"/leads/{lead.id}").get_data(as_text=True)
    interactions = text_of(region(page, "lead-handoff")).split("What made it sales-ready", 1)[1]
    assert "webinar attended" in interactions and "pricing viewed" in interactions
    assert "later visit" not in interactions


def test_w3_the_open_page_brings_the_panel_when_the_lead_is_handed_to_sales_meanwhile(app):
    client, _ = as_user(app, "manager")
    tp_client, tp = as_user(app, "teleprospector", name="Tess Teleprospector")
    lead = make_lead(stage=lc.TP_ACCEPTANCE)
    assert post(tp_client, f"/leads/{lead.id}/actions/tp_accept").status_code == 200
    page = client.get(f"/leads/{lead.id}").get_data(as_text=True)
    assert 'id="lead-handoff-slot"' in page and 'id="lead-handoff"' not in page
    url = poll_url(page)
    answer = post(tp_client, f"/leads/{lead.id}/actions/qualify", {**FINDINGS, "mark_sales_ready": "1"})
    assert answer.status_code == 200
    body = client.get(url, headers=HX).get_data(as_text=True)
    slot = region(body, "lead-handoff-slot")
    assert 'hx-swap-oob="true"' in slot.split(">", 1)[0]
    assert "Budget 10k–50k" in text_of(slot) and "Recorded by Tess Teleprospector" in text_of(slot)
