"""Campaigns and governance, end to end on SQLite and PostgreSQL with real Redis
and RQ workers: only marketers (and admins) create and launch campaigns, on
every page, fragment and API route (G2); a launch writes one outbox email and
one interaction per audience member, once (G2, E3); replies come back to the
owner rep with their campaign and lead (R8); reps ask for campaigns and see
the marketers' decision (G3)."""

from __future__ import annotations

import re

import pytest

from auth.models import ADMIN, INTEGRATION, MARKETER, REP
from auth.sessions import issue_token
from campaigns import launch as campaigns
from campaigns.models import CampaignMessage, CampaignReply, CampaignRequest
from leads.base.models import BackgroundTask
from leads.notify.models import Notification, Outbox
from leads.records.models import Campaign, Interaction
from tests.factories import (
    csrf_token,
    login,
    make_account,
    make_contact,
    make_lead,
    make_product_line,
    make_user,
)

API = "/api/v1"
# The segment builder's fields for "contact country equals FR" (one row).
SEGMENT_FR = {
    "segment_op": "and",
    "segment-0-subject": "contact.country",
    "segment-0-operator": "equals",
    "segment-0-value": "FR",
}


def signed_in(app, role: str):
    user = make_user(role)
    client = login(app.test_client(), user)
    client.user, client.token = user, csrf_token(client)
    return client


def hx_post(client, path: str, data: dict | None = None):
    return client.post(path, data=data or {}, headers={"HX-Request": "true", "X-CSRFToken": client.token})


def bearer(user) -> dict:
    return {"Authorization": "Bearer " + issue_token(user, "test")}


def _campaign_routes(app) -> list[tuple[str, str, bool]]:
    """Every (method, rule, is_api) of the campaign pages, fragments and API, from the URL map."""
    found = []
    for rule in app.url_map.iter_rules():
        page = rule.endpoint.startswith("marketing.") and rule.rule.startswith("/marketing/campaign")
        api = rule.rule.startswith(f"{API}/campaigns")
        if page or api:
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                found.append((method, rule.rule, api))
    return found


def _path(rule: str, campaign_id: int) -> str:
    return re.sub(r"<(?:\w+:)?(\w+)>", str(campaign_id), rule)


# --- G2: reps never create or launch campaigns ---------------------------------------


def test_g2_reps_are_refused_on_every_campaign_page_fragment_and_api_route(app):
    """G2: a rep gets 403 on every campaign route (page and htmx fragment, GET and
    POST) and every campaign API route; an integration token too on the API."""
    campaign = Campaign.create(name="Spring", subject="Hi", body="Hello")
    make_contact(country="FR")
    routes = _campaign_routes(app)
    endpoints = {rule for _, rule, _ in routes}
    assert {
        "/marketing/campaigns/<int:campaign_id>/launch",
        f"{API}/campaigns/<int:campaign_id>/launch",
    } <= endpoints
    assert len(routes) >= 10
    rep = signed_in(app, REP)
    rep_api, integration_api = bearer(rep.user), bearer(make_user(INTEGRATION))
    refused = []
    for method, rule, is_api in routes:
        path = _path(rule, campaign.id)
        if is_api:
            for who, headers in (("rep", rep_api), ("integration", integration_api)):
                response = rep.open(path, method=method, headers=headers, json={"name": "X"})
                refused.append((who, method, path, response.status_code))
        else:
            for extra in ({}, {"HX-Request": "true"}):
                data = {"name": "X", "subject": "S", "body": "B"} if method == "POST" else None
                response = rep.open(
                    path, method=method, data=data, headers={"X-CSRFToken": rep.token, **extra}
                )
                refused.append(("rep", method, path + (" (htmx)" if extra else ""), response.status_code))
    assert [r for r in refused if r[3] != 403] == []
    assert Campaign.select().count() == 1 and Campaign.get_by_id(campaign.id).status == "draft"
    assert CampaignMessage.select().count() == 0 and Outbox.select().count() == 0


def test_g2_the_rep_nav_offers_requests_and_replies_but_no_campaigns(app):
    rep = signed_in(app, REP)
    page = rep.get("/campaign-requests").get_data(as_text=True)
    assert "/marketing/campaigns" not in page and "/replies" in page


# --- G2 + E3: launching -----------------------------------------------------------------


def _audience_world():
    """Three FR contacts with an email (owned by a rep, by their account's rep, by
    nobody), one DE contact and one FR contact without email."""
    line = make_product_line()
    ana, ben = make_user(REP, name="Ana Rep"), make_user(REP, name="Ben Rep")
    owned = make_contact(country="FR", owner=ana)
    via_account = make_contact(country="FR", account=make_account(owner=ben))
    nobody = make_contact(country="FR")
    make_contact(country="DE")
    make_contact(country="FR", email=None)
    lead = make_lead(contact=owned, product_line=line, owner=ana)
    return {
        "line": line,
        "ana": ana,
        "ben": ben,
        "owned": owned,
        "via_account": via_account,
        "nobody": nobody,
        "lead": lead,
    }


def _launched(app, run_jobs, world) -> Campaign:
    marketer = signed_in(app, MARKETER)
    created = hx_post(
        marketer,
        "/marketing/campaigns",
        {
            "name": "Spring FR",
            "product_line": str(world["line"].id),
            **SEGMENT_FR,
            "subject": "News",
            "body": "Hello",
        },
    )
    assert created.status_code == 200, created.get_data(as_text=True)
    campaign = Campaign.get(Campaign.name == "Spring FR")
    confirm = marketer.get(f"/marketing/campaigns/{campaign.id}/launch").get_data(as_text=True)
    assert re.search(r'id="audience-size">3<', confirm)
    launched = hx_post(marketer, f"/marketing/campaigns/{campaign.id}/launch")
    assert launched.status_code == 200 and "every 1s" in launched.get_data(as_text=True)
    assert hx_post(marketer, f"/marketing/campaigns/{campaign.id}/launch").status_code in (302, 200)
    run_jobs()
    return Campaign.get_by_id(campaign.id)


def test_g2_e3_launch_writes_one_outbox_email_and_one_interaction_per_member_even_run_twice(app, run_jobs):
    """G2: a marketer's launch runs as a job: outbox rows = audience size, each
    with a reply address and the owner rep as From name; the email_sent
    interactions count once even when the job runs again (E3)."""
    world = _audience_world()
    campaign = _launched(app, run_jobs, world)
    assert campaign.status == "launched"
    messages = {m.contact_id: m for m in CampaignMessage.select()}
    assert set(messages) == {world["owned"].id, world["via_account"].id, world["nobody"].id}
    assert Outbox.select().count() == 3
    assert {o.to for o in Outbox.select()} == {m.to_email for m in messages.values()}
    owned = messages[world["owned"].id]
    assert (
        owned.rep_id == world["ana"].id and owned.from_name == "Ana Rep" and owned.lead_id == world["lead"].id
    )
    assert owned.reply_to == f"reply+{owned.token}@replies.leadflow.local"
    assert messages[world["via_account"].id].from_name == "Ben Rep"
    assert messages[world["nobody"].id].rep_id is None
    sent = Interaction.select().where(Interaction.type == campaigns.SENT)
    assert sent.count() == 3
    assert {i.external_id for i in sent} == {f"campaign-{campaign.id}-{cid}" for cid in messages}
    task = BackgroundTask.get_by_id(campaign.launch_task)
    assert (task.status, task.total, task.done) == ("done", 3, 3)

    with app.app_context():
        campaigns.launch_campaign(campaign.id)  # the job again (a retry, a second worker)
    run_jobs()
    assert CampaignMessage.select().count() == 3 and Outbox.select().count() == 3
    assert Interaction.select().where(Interaction.type == campaigns.SENT).count() == 3

    marketer = signed_in(app, ADMIN)
    progress = marketer.get(f"/marketing/campaigns/{campaign.id}/progress").get_data(as_text=True)
    assert '<progress max="3" value="3"' in progress and "every 1s" not in progress
    assert hx_post(marketer, f"/marketing/campaigns/{campaign.id}/complete").status_code == 200
    assert Campaign.get_by_id(campaign.id).status == "completed"


def test_g2_a_launched_campaign_is_not_edited_or_launched_again(app, run_jobs):
    world = _audience_world()
    campaign = _launched(app, run_jobs, world)
    marketer = signed_in(app, MARKETER)
    edit = hx_post(marketer, f"/marketing/campaigns/{campaign.id}", {"name": "Renamed", "product_line": ""})
    assert edit.status_code == 422 and Campaign.get_by_id(campaign.id).name == "Spring FR"
    response = marketer.post(f"{API}/campaigns/{campaign.id}/launch", headers=bearer(marketer.user))
    assert response.status_code == 409


def test_g2_api_marketer_creates_lists_and_launches_a_campaign(app, run_jobs):
    """G2: the campaign API for marketers: create (validated by field), list, launch once."""
    make_contact(country="FR")
    headers = bearer(make_user(MARKETER))
    client = app.test_client()
    bad = client.post(
        f"{API}/campaigns",
        headers=headers,
        json={
            "name": "",
            "segment": {"items": [{"entity": "contact", "field": "shoe", "operator": "equals", "value": 1}]},
        },
    )
    assert bad.status_code == 422
    fields = {e["field"] for e in bad.get_json()["errors"]}
    assert "name" in fields and any(f.startswith("segment") for f in fields)
    created = client.post(
        f"{API}/campaigns",
        headers=headers,
        json={"name": "API", "segment": None, "subject": "S", "body": "B"},
    )
    assert created.status_code == 201 and created.get_json()["status"] == "draft"
    campaign_id = created.get_json()["id"]
    launched = client.post(f"{API}/campaigns/{campaign_id}/launch", headers=headers)
    assert launched.status_code == 200 and launched.get_json()["launch"]["status"] == "queued"
    assert client.post(f"{API}/campaigns/{campaign_id}/launch", headers=headers).status_code == 409
    run_jobs()
    listed = client.get(f"{API}/campaigns", headers=headers).get_json()
    assert listed["total"] == 1
    assert listed["data"][0]["messages"] == 1 and listed["data"][0]["launch"]["status"] == "done"


# --- R8: replies go back to the rep ---------------------------------------------------------


def test_r8_a_reply_is_routed_to_the_owner_rep_with_its_campaign_and_lead(app, run_jobs):
    """R8: the inbound reply finds its email by the reply address, is recorded as
    email_replied once, and the owner rep is notified and sees the campaign and
    lead in their Replies list; other reps do not."""
    world = _audience_world()
    campaign = _launched(app, run_jobs, world)
    message = CampaignMessage.get(CampaignMessage.contact == world["owned"].id)
    gateway = bearer(make_user(INTEGRATION))
    client = app.test_client()
    body = {
        "to": f"Ana Rep <{message.reply_to}>",
        "from": message.to_email,
        "subject": "Re: News",
        "text": "Yes, please call me next week about pricing.",
        "message_id": "<abc@mail.example>",
    }
    assert client.post(f"{API}/inbound/replies", headers=bearer(world["ana"]), json=body).status_code == 403
    first = client.post(f"{API}/inbound/replies", headers=gateway, json=body)
    assert first.status_code == 201, first.get_json()
    answer = first.get_json()
    assert answer["campaign"] == {"id": campaign.id, "name": "Spring FR"}
    assert answer["lead"]["id"] == world["lead"].id and answer["rep"]["id"] == world["ana"].id
    again = client.post(f"{API}/inbound/replies", headers=gateway, json=body)
    assert again.status_code == 200 and again.get_json()["status"] == "duplicate"
    assert CampaignReply.select().count() == 1
    replied = Interaction.select().where(Interaction.type == campaigns.REPLIED)
    assert [(i.external_id, i.contact_id, i.lead_id) for i in replied] == [
        ("<abc@mail.example>", world["owned"].id, world["lead"].id)
    ]
    notes = list(
        Notification.select().where(
            (Notification.user == world["ana"].id) & (Notification.kind == "campaign_reply")
        )
    )
    assert len(notes) == 1 and notes[0].lead_id == world["lead"].id and "Spring FR" in notes[0].text
    unknown = client.post(
        f"{API}/inbound/replies",
        headers=gateway,
        json={**body, "to": "reply+00000000000000000000@x", "message_id": "m2"},
    )
    assert unknown.status_code == 404

    ana = login(app.test_client(), world["ana"])
    page = ana.get("/replies").get_data(as_text=True)
    assert "Spring FR" in page and world["lead"].name in page and "call me next week" in page
    ben = login(app.test_client(), world["ben"])
    assert "call me next week" not in ben.get("/replies").get_data(as_text=True)


# --- G3: campaign requests -------------------------------------------------------------------


def _request(client, goal: str):
    return hx_post(
        client, "/campaign-requests", {"goal": goal, "audience": "CFOs in France", "timing": "June"}
    )


def test_g3_a_rep_requests_campaigns_marketing_approves_or_declines_with_a_reason(app):
    """G3: the rep submits (goal, audience, timing); marketing approves (a draft
    campaign is created and linked) or declines with a required reason; the rep
    sees status and reason, and only their own requests."""
    rep = signed_in(app, REP)
    assert hx_post(rep, "/campaign-requests", {"goal": "", "audience": "", "timing": ""}).status_code == 422
    assert _request(rep, "Webinar for CFOs").status_code == 200
    assert _request(rep, "Mass mailing to everyone").status_code == 200
    webinar = CampaignRequest.get(CampaignRequest.goal == "Webinar for CFOs")
    mailing = CampaignRequest.get(CampaignRequest.goal == "Mass mailing to everyone")
    assert "Waiting for marketing" in rep.get("/campaign-requests").get_data(as_text=True)
    assert hx_post(rep, f"/marketing/campaign-requests/{webinar.id}/approve").status_code == 403

    marketer = signed_in(app, MARKETER)
    listing = marketer.get("/marketing/campaign-requests").get_data(as_text=True)
    assert "Webinar for CFOs" in listing and rep.user.name in listing
    approved = hx_post(marketer, f"/marketing/campaign-requests/{webinar.id}/approve")
    assert approved.status_code == 200 and f'id="request-{webinar.id}"' in approved.get_data(as_text=True)
    webinar = CampaignRequest.get_by_id(webinar.id)
    assert webinar.status == "approved" and webinar.campaign.status == "draft"
    assert "CFOs in France" in webinar.campaign.body
    assert hx_post(marketer, f"/marketing/campaign-requests/{webinar.id}/approve").status_code == 409
    assert Campaign.select().count() == 1

    no_reason = hx_post(marketer, f"/marketing/campaign-requests/{mailing.id}/decline", {"reason": " "})
    assert no_reason.status_code == 422 and "Say why." in no_reason.get_data(as_text=True)
    declined = hx_post(
        marketer,
        f"/marketing/campaign-requests/{mailing.id}/decline",
        {"reason": "Too broad: pick a segment."},
    )
    assert declined.status_code == 200 and CampaignRequest.get_by_id(mailing.id).status == "declined"

    mine = rep.get("/campaign-requests").get_data(as_text=True)
    assert "Approved" in mine and "Declined" in mine and "Too broad: pick a segment." in mine
    other = signed_in(app, REP).get("/campaign-requests").get_data(as_text=True)
    assert "Webinar for CFOs" not in other


@pytest.mark.parametrize("role", ["manager", "teleprospector"])
def test_g3_other_sales_roles_may_request_but_not_decide(app, role):
    client = signed_in(app, role)
    assert _request(client, "Event invite").status_code == 200
    request_id = CampaignRequest.get().id
    assert (
        hx_post(client, f"/marketing/campaign-requests/{request_id}/decline", {"reason": "x"}).status_code
        == 403
    )
