"""Editing a lead where it is read (SPEC W2, G1, P7, S4): the lead page's inline
form offers exactly the fields the user's role may write (the API's allow-list),
a rep only the person fields of their own leads (another rep's lead is a 404),
errors come back inline (422), every change is a history row with who and
when, and the lead is re-scored by the same follow-up as any other change."""

from __future__ import annotations

import copy
import re

from leads.api.resources import LEAD as LEAD_RESOURCE
from leads.core import fields as catalogue
from leads.records.models import Campaign, Lead, LeadHistory
from leads.scoring import services as scoring_admin
from leads.scoring.models import LeadScore
from tests.factories import ENGAGEMENT, csrf_token, login, make_lead, make_product_line, make_user

HX = {"HX-Request": "true"}
PERSON = ("first_name", "last_name", "email", "phone", "company", "job_title", "country")


def signed_in(app, role, **kw):
    user = make_user(role, **kw)
    return login(app.test_client(), user), user


def post(client, lead_id, data, htmx=True):
    headers = {"X-CSRFToken": csrf_token(client), **(HX if htmx else {})}
    return client.post(f"/leads/{lead_id}/fields", data=data, headers=headers)


def inputs(html: str) -> set[str]:
    """The names of the edit form's inputs and selects."""
    form = html[html.index('id="lead-edit-form"') :]
    form = form[: form.index("</form>")]
    return set(re.findall(r'<(?:input|select|textarea)[^>]* name="([^"]+)"', form)) - {"csrf_token"}


def person_values(lead: Lead, **changes) -> dict:
    values = {name: getattr(lead, name) or "" for name in PERSON}
    return {**values, **changes}


def test_w2_the_inline_form_offers_the_api_allow_list_per_role(app):
    """W2: a manager gets every writable lead field, a rep only the person
    fields; the same function decides it for the API's PATCH."""
    assert catalogue.writable_by(catalogue.LEAD, "manager") == LEAD_RESOURCE.names
    assert catalogue.writable_by(catalogue.LEAD, "teleprospector") == frozenset()
    manager_client, _ = signed_in(app, "manager")
    rep_client, rep = signed_in(app, "rep")
    lead = make_lead(stage=5, sales_ready=True, owner=rep)

    page = manager_client.get(f"/leads/{lead.id}/fields").get_data(as_text=True)
    assert inputs(page) == {
        "topic", "campaign", "product_line", "contact", "account", "team", *PERSON,
    }  # fmt: skip
    answer = rep_client.get(f"/leads/{lead.id}/fields", headers=HX)
    assert answer.status_code == 200
    fragment = answer.get_data(as_text=True)
    assert "<html" not in fragment and 'id="lead-edit"' in fragment
    assert inputs(fragment) == set(PERSON)
    assert re.search(r'name="first_name"[^>]*autofocus|autofocus[^>]*name="first_name"', fragment)


def test_w2_g1_a_rep_edits_only_person_fields_of_their_own_leads(app):
    """W2/G1: a rep's save changes the person fields; a topic sent along is
    ignored (not on their form); another rep's lead is a 404, a
    teleprospector (no writable field) a 403."""
    rep_client, rep = signed_in(app, "rep")
    other = make_user("rep")
    mine = make_lead(stage=5, sales_ready=True, owner=rep, topic="Pricing")
    theirs = make_lead(stage=5, sales_ready=True, owner=other, topic="Theirs")

    answer = post(rep_client, mine.id, person_values(mine, job_title="CTO", topic="Hacked"))
    assert answer.status_code == 200, answer.get_data(as_text=True)
    fresh = Lead.get_by_id(mine.id)
    assert (fresh.job_title, fresh.topic) == ("CTO", "Pricing")
    assert "Lead saved." in answer.get_data(as_text=True)

    assert rep_client.get(f"/leads/{theirs.id}/fields").status_code == 404
    assert post(rep_client, theirs.id, person_values(theirs, job_title="CTO")).status_code == 404
    assert Lead.get_by_id(theirs.id).job_title is None

    tp_client, _ = signed_in(app, "teleprospector")
    waiting = make_lead(stage=3)
    assert tp_client.get(f"/leads/{waiting.id}/fields").status_code == 403
    assert 'class="button edit-fields"' not in tp_client.get(f"/leads/{waiting.id}").get_data(as_text=True)


def test_w2_errors_come_back_inline_and_nothing_is_stored(app):
    """W2: an invalid email and an empty topic are shown on their fields in the
    re-rendered form (422); the lead is unchanged and no history is written."""
    client, _ = signed_in(app, "marketer")
    line = make_product_line()
    lead = make_lead(product_line=line, topic="Pricing")
    data = {**person_values(lead, email="not-an-address"), "topic": "", "product_line": str(line.id)}
    answer = post(client, lead.id, data)
    assert answer.status_code == 422
    html = answer.get_data(as_text=True)
    assert 'id="lead-edit-form"' in html and html.count('class="field-error"') >= 2
    assert "Required." in html
    assert Lead.get_by_id(lead.id).topic == "Pricing"
    assert not LeadHistory.select().where(LeadHistory.lead == lead.id).exists()
    # A lead needs a marketing context: clearing both is refused on the campaign field.
    answer = post(client, lead.id, {**person_values(lead), "topic": "Pricing"})
    assert answer.status_code == 422 and "marketing context" in answer.get_data(as_text=True)
    # A record that does not exist is refused on its field.
    answer = post(client, lead.id, {**person_values(lead), "topic": "Pricing", "campaign": "9999"})
    assert answer.status_code == 422 and "Choose an existing campaign." in answer.get_data(as_text=True)


def test_w2_p7_every_change_is_in_the_history_with_who_and_when(app):
    """W2/P7: each changed field is one history row (old and new values, a
    campaign by its name), by the user, at one time; unchanged fields write
    nothing; the lead page's timeline reads them."""
    client, manager = signed_in(app, "manager", name="Max Manager")
    line = make_product_line(name="Analytics")
    spring = Campaign.create(name="Spring webinar")
    lead = make_lead(product_line=line, topic="Pricing")
    data = {
        **person_values(lead, phone="+33 1 23 45 67 89"),
        "topic": "Pricing and demo",
        "product_line": str(line.id),
        "campaign": str(spring.id),
    }
    assert post(client, lead.id, data, htmx=False).status_code == 302
    rows = list(LeadHistory.select().where(LeadHistory.lead == lead.id).order_by(LeadHistory.kind))
    assert [(r.kind, r.old_value, r.new_value) for r in rows] == [
        ("campaign", None, "Spring webinar"),
        ("phone", None, "+33 1 23 45 67 89"),
        ("topic", "Pricing", "Pricing and demo"),
    ]
    assert {r.actor_id for r in rows} == {manager.id} and len({r.created_at for r in rows}) == 1
    page = client.get(f"/leads/{lead.id}").get_data(as_text=True)
    assert "Topic: Pricing → Pricing and demo" in page and "Campaign: — → Spring webinar" in page
    assert "Max Manager" in page

    assert post(client, lead.id, data).status_code == 200  # the same values again: no new rows
    assert LeadHistory.select().where(LeadHistory.lead == lead.id).count() == 3


def test_w2_s4_an_edit_re_scores_the_lead(app, run_jobs):
    """W2/S4: a rep changing the job title of their lead to a director's is
    re-scored by the worker (the records_changed follow-up, as the API's PATCH)."""
    definition = copy.deepcopy(ENGAGEMENT)
    definition["attribute_rules"][0]["condition"]["entity"] = "lead"
    marketer = make_user("marketer")
    with app.app_context():
        model = scoring_admin.save_model(None, "Fit", "", definition, marketer)
        scoring_admin.set_model_status(model, "live", marketer)
    rep_client, rep = signed_in(app, "rep")
    lead = make_lead(stage=5, sales_ready=True, owner=rep, job_title="Intern")
    run_jobs()

    def score():
        row = LeadScore.get_or_none((LeadScore.lead == lead.id) & (LeadScore.model == model.id))
        return row.score if row else 0

    assert score() == 0
    assert post(rep_client, lead.id, person_values(lead, job_title="Sales Director")).status_code == 200
    run_jobs()
    assert score() == 20
