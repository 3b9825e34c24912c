"""W4, a teleprospector's claim, through every door on SQLite and PostgreSQL:
accepting a lead claims it, and only the claimer or a manager (or admin) may then
record its findings, mark it sales-ready or disqualify it. Another teleprospector
gets a 403 saying so from the lead page (fragment and full page), the queue row
and the JSON API, and nothing is stored."""

from __future__ import annotations

import pytest

from auth.sessions import issue_token
from leads.core import lifecycle as lc
from leads.records.models import Lead, LeadHistory
from tests.factories import csrf_token, login, make_lead, make_user

HX = {"HX-Request": "true"}
REFUSED = "Another teleprospector has claimed this lead: only they or a sales manager can"
FINDINGS = {"budget": "Over 250k", "authority": "Signs the budget", "need": "Two sites", "timeframe": "Later"}


def as_user(app, role, **kw):
    user = make_user(role, **kw)
    return login(app.test_client(), user), user


def page_post(client, lead_id, action, data=None, htmx=True):
    headers = {"X-CSRFToken": csrf_token(client), **(HX if htmx else {})}
    return client.post(f"/leads/{lead_id}/actions/{action}", data=data or {}, headers=headers)


def row_post(client, lead_id, action, data=None):
    headers = {"X-CSRFToken": csrf_token(client), **HX}
    form = {f"lead-{lead_id}-{name}": value for name, value in (data or {}).items()}
    return client.post(f"/queues/teleprospecting/{lead_id}/{action}", data=form, headers=headers)


def api_post(client, user, lead_id, action, body=None):
    headers = {"Authorization": f"Bearer {issue_token(user, 'test')}"}
    return client.post(f"/api/v1/leads/{lead_id}/actions/{action}", headers=headers, json=body or {})


def text(response):
    return response.get_data(as_text=True)


def claimed_lead(app):
    """A stage-3 lead accepted on the lead page by a teleprospector: (lead, claimer's client, claimer)."""
    client, claimer = as_user(app, "teleprospector", name="Clara Claimer")
    lead = make_lead(stage=lc.TP_ACCEPTANCE, ready_for_tp=True)
    assert page_post(client, lead.id, "tp_accept").status_code == 200
    fresh = Lead.get_by_id(lead.id)
    assert (fresh.stage, fresh.teleprospector_id) == (lc.TP_QUALIFICATION, claimer.id)
    return fresh, client, claimer


def untouched(lead) -> bool:
    fresh = Lead.get_by_id(lead.id)
    return (fresh.stage, fresh.status, fresh.qualification, fresh.teleprospector_id) == (
        lead.stage,
        lead.status,
        lead.qualification,
        lead.teleprospector_id,
    )


PAGE_ACTIONS = [
    ("qualify", {"q_need": "Yes"}, "record its findings"),
    ("sales_ready", {}, "mark it sales-ready"),
    ("disqualify", {"reason": "no_budget"}, "disqualify it"),
]


@pytest.mark.parametrize(("action", "data", "what"), PAGE_ACTIONS)
def test_w4_another_teleprospector_is_refused_403_on_the_lead_page(app, action, data, what):
    lead, _, _ = claimed_lead(app)
    other, _ = as_user(app, "teleprospector")
    before = LeadHistory.select().count()
    fragment = page_post(other, lead.id, action, data)
    assert fragment.status_code == 403 and f"{REFUSED} {what}." in text(fragment)
    assert 'id="lead-body"' in text(fragment)  # the body swaps in with the reason
    full = page_post(other, lead.id, action, data, htmx=False)
    assert full.status_code == 403 and f"{REFUSED} {what}." in text(full)
    assert untouched(lead) and LeadHistory.select().count() == before


def test_w4_the_lead_page_tells_another_teleprospector_who_claimed_it(app):
    lead, _, _ = claimed_lead(app)
    other, _ = as_user(app, "teleprospector")
    html = text(other.get(f"/leads/{lead.id}"))
    assert "Clara Claimer has claimed this lead: only they or a sales manager can work it." in html
    assert 'name="q_need"' not in html and "Sales ready</button>" not in html


def test_w4_the_claimer_and_a_manager_work_the_lead_on_the_page(app):
    lead, claimer_client, claimer = claimed_lead(app)
    assert page_post(claimer_client, lead.id, "qualify", {"q_need": "Yes"}).status_code == 200
    assert Lead.get_by_id(lead.id).qualification == {"need": "Yes"}
    manager, _ = as_user(app, "manager")
    response = page_post(manager, lead.id, "qualify", {"q_need": "Yes", "q_notes": "Checked"})
    assert response.status_code == 200 and "Findings saved." in text(response)
    fresh = Lead.get_by_id(lead.id)
    assert (
        fresh.qualification == {"need": "Yes", "notes": "Checked"} and fresh.teleprospector_id == claimer.id
    )


def test_w4_another_teleprospector_is_refused_403_in_the_queue_row(app):
    lead, _, _ = claimed_lead(app)
    other, _ = as_user(app, "teleprospector")
    data = {**{f"q_{key}": value for key, value in FINDINGS.items()}, "mark_sales_ready": "1"}
    response = row_post(other, lead.id, "qualify", data)
    assert response.status_code == 403 and f"{REFUSED} record its findings." in text(response)
    assert f'id="queue-row-{lead.id}"' in text(response) and untouched(lead)


def test_w4_a_plain_refused_row_post_answers_the_queue_page_with_the_reason(app):
    """Without htmx the queue page answers, 403, and says why even though the lead is not in the tab."""
    lead, _, _ = claimed_lead(app)
    other, _ = as_user(app, "teleprospector")
    headers = {"X-CSRFToken": csrf_token(other)}
    response = other.post(f"/queues/teleprospecting/{lead.id}/qualify", data={}, headers=headers)
    html = text(response)
    assert response.status_code == 403 and "Teleprospecting queue" in html
    assert f"{lead.name}: {REFUSED} record its findings." in html and untouched(lead)


def test_w4_the_claimer_hands_the_lead_on_from_the_queue_row(app):
    lead, client, claimer = claimed_lead(app)
    data = {**{f"q_{key}": value for key, value in FINDINGS.items()}, "mark_sales_ready": "1"}
    response = row_post(client, lead.id, "qualify", data)
    assert response.status_code == 200 and "Marked sales-ready" in text(response)
    fresh = Lead.get_by_id(lead.id)
    assert (fresh.stage, fresh.teleprospector_id) == (lc.SALES_ACCEPTANCE, claimer.id)


API_ACTIONS = [
    ("qualify", {"values": {"need": "Yes"}}, "record its findings"),
    ("sales_ready", {}, "mark it sales-ready"),
    ("disqualify", {"reason": "no_budget"}, "disqualify it"),
]


@pytest.mark.parametrize(("action", "body", "what"), API_ACTIONS)
def test_w4_the_api_refuses_another_teleprospector_403_and_lets_the_claimer_and_a_manager(
    app, action, body, what
):
    lead, _, claimer = claimed_lead(app)
    client = app.test_client()
    other = make_user("teleprospector")
    refused = api_post(client, other, lead.id, action, body)
    assert refused.status_code == 403
    assert refused.get_json() == {"errors": [{"field": None, "reason": f"{REFUSED} {what}."}]}
    assert untouched(lead)
    # The claimer's findings, then a manager's, both stored; the claim stays the claimer's.
    assert api_post(client, claimer, lead.id, "qualify", {"values": {"need": "Yes"}}).status_code == 200
    manager = make_user("manager")
    answer = api_post(client, manager, lead.id, action, body)
    assert answer.status_code == 200, answer.get_json()
    assert Lead.get_by_id(lead.id).teleprospector_id == claimer.id


def test_w4_accepting_through_the_api_claims_the_lead_for_that_teleprospector(app):
    client = app.test_client()
    tp, other = make_user("teleprospector"), make_user("teleprospector")
    lead = make_lead(stage=lc.TP_ACCEPTANCE, ready_for_tp=True)
    answer = api_post(client, tp, lead.id, "tp_accept")
    assert answer.status_code == 200 and Lead.get_by_id(lead.id).teleprospector_id == tp.id
    second = api_post(client, other, lead.id, "tp_accept")
    assert second.status_code == 409  # already in stage 4: the lead's state, not a claim question
    assert api_post(client, other, lead.id, "qualify", {"values": {"need": "x"}}).status_code == 403
