"""The scoring builder says what it does (issue 14): one vocabulary of
interaction types for the builder, the API and the demo data (E3, S2, W1);
field pickers that say whose field it is; published models shown in full (S1,
S2); duplicate as draft (S1, Q3); a preview listing sample leads with their
score and why, and a threshold count that links to those leads (S6, R7).
Test client on SQLite and PostgreSQL, a real RQ worker for the scores."""

from __future__ import annotations

import importlib.util
import json
import re

from auth.admin import issue_token
from auth.models import ADMIN, MANAGER, MARKETER
from leads.base import migrate
from leads.core.interactions import BUILT_IN
from leads.intake.models import AutoLeadRule
from leads.notify.models import Notification
from leads.records.models import CustomInteractionType, Interaction
from leads.scoring.models import LeadScore, QualificationCriteria
from leads.scoring.models import ScoringModel as ModelRow
from tests.factories import make_contact, make_custom_type, make_lead, make_user
from tests.scoring.test_scoring_ui import HX, model_form, signed_in, stored_model, text_of


def post_events(client, token, body):
    return client.post("/api/v1/interactions", json=body, headers={"Authorization": f"Bearer {token}"})


def options_of(html: str, select_id: str) -> list[tuple[str, str]]:
    """(value, label) of every option of the select ``select_id``."""
    select = re.search(rf'<select[^>]*id="{re.escape(select_id)}"[^>]*>(.*?)</select>', html, re.S)
    assert select, f"no select {select_id!r}"
    return re.findall(r'<option[^>]*value="([^"]*)"[^>]*>([^<]*)</option>', select.group(1))


# --- One vocabulary (E3, S2) -------------------------------------------------------


def test_e3_an_unknown_type_is_refused_with_422_listing_the_known_types_a_registered_one_is_taken(app):
    lead = make_lead()
    token = issue_token(make_user("integration"), "site")
    client = app.test_client()

    refused = post_events(client, token, {"type": "website_visited", "external_id": "v1", "lead_id": lead.id})
    assert refused.status_code == 422
    (error,) = refused.get_json()["errors"]
    assert error["field"] == "type" and "web_visit" in error["reason"]
    assert error["known_types"] == list(BUILT_IN)
    batch = post_events(client, token, [{"type": "demo_requested", "external_id": "d1", "lead_id": lead.id}])
    assert batch.status_code == 200 and batch.get_json()["rejected"] == 1
    assert batch.get_json()["data"][0]["errors"][0]["field"] == "type"
    assert Interaction.select().count() == 0

    make_custom_type("demo_requested", "Demo requested")
    taken = post_events(client, token, {"type": "Demo_Requested ", "external_id": "d1", "lead_id": lead.id})
    assert taken.status_code == 201, taken.get_json()
    assert Interaction.get().type == "demo_requested"  # stored under its one name
    again = post_events(client, token, {"type": "nope", "external_id": "n1", "lead_id": lead.id})
    assert "demo_requested" in again.get_json()["errors"][0]["known_types"]


def test_s2_e3_the_builder_offers_the_same_types_with_labels_and_its_rule_scores_the_api_events(
    app, run_jobs
):
    """The issue's bug: the builder's "Website visited" counted ``website_visited``
    while the API and the demo post ``web_visit``: a rule built from the list now
    scores the posted events."""
    client, token, marketer = signed_in(app)
    make_custom_type("demo_requested", "Demo requested")
    added = client.post(
        "/scoring/models/new/rows",
        data={**model_form(token), "row": "add:behaviour_rules"},
        headers=HX,
    ).get_data(as_text=True)
    offered = dict(options_of(added, "behaviour_rules-0-type"))
    assert offered == {**BUILT_IN, "demo_requested": "Demo requested"}
    assert offered["web_visit"] == "Website visited" and "Other" not in added
    visit = next(value for value, label in offered.items() if label == "Website visited")

    fields = {
        "behaviour_rules-0-type": visit,
        "behaviour_rules-0-per_occurrence": "per",
        "behaviour_rules-0-points": "5",
        "behaviour_rules-0-filters-0-property": "page_id",
        "behaviour_rules-0-filters-0-operator": "equals",
        "behaviour_rules-0-filters-0-value": "pricing",
    }
    assert client.post("/scoring/models", data=model_form(token, **fields), headers=HX).status_code == 200
    row = ModelRow.get()
    client.post(f"/scoring/models/{row.id}/status", data={"csrf_token": token, "status": "live"}, headers=HX)
    lead = make_lead(contact=make_contact())
    api = issue_token(make_user("integration"), "site")
    events = [  # as the demo data and the API documentation write them
        {"type": "web_visit", "external_id": f"v{n}", "lead_id": lead.id, "properties": {"page_id": page}}
        for n, page in enumerate(["pricing", "pricing", "blog"])
    ]
    assert post_events(app.test_client(), api, events).get_json()["created"] == 3
    run_jobs()
    assert LeadScore.get(lead=lead, model=row).score == 10


def test_s2_a_rule_on_an_unregistered_type_is_refused_at_save_next_to_its_row(app):
    client, token, _ = signed_in(app)
    fields = {"behaviour_rules-0-type": "website_visited", "behaviour_rules-0-points": "5"}
    refused = client.post("/scoring/models", data=model_form(token, **fields), headers=HX)
    assert refused.status_code == 422
    assert "Not a known interaction type" in text_of(refused.get_data(as_text=True), "behaviour_rules-0")
    criteria = client.post(
        "/scoring/criteria",
        data={
            "csrf_token": token,
            "name": "Hot",
            "terms-0-kind": "interaction",
            "terms-0-type": "nope",
            "marketing_qualified": "y",
        },
        headers=HX,
    )
    assert criteria.status_code == 422 and "Not a known interaction type" in criteria.get_data(as_text=True)
    assert ModelRow.select().count() == QualificationCriteria.select().count() == 0


def test_e3_admins_register_and_remove_custom_types_others_are_refused(app):
    client, token, admin = signed_in(app, ADMIN)
    page = client.get("/admin/interaction-types").get_data(as_text=True)
    assert "Website visited" in text_of(page, "type-table") and "web_visit" in page
    added = client.post(
        "/admin/interaction-types",
        data={"csrf_token": token, "name": "Demo_Requested", "label": "Demo requested"},
        headers=HX,
    )
    assert added.status_code == 200 and "Demo requested" in text_of(
        added.get_data(as_text=True), "type-table"
    )
    row = CustomInteractionType.get()
    assert (row.name, row.created_by_id) == ("demo_requested", admin.id)
    for name, reason in (
        ("demo_requested", "registered already"),
        ("web_visit", "built-in"),
        ("a b", "lower-case"),
    ):
        again = client.post(
            "/admin/interaction-types", data={"csrf_token": token, "name": name, "label": "X"}, headers=HX
        )
        assert again.status_code == 422 and reason in again.get_data(as_text=True)
    removed = client.post(f"/admin/interaction-types/{row.id}/delete", data={"csrf_token": token}, headers=HX)
    assert removed.status_code == 200 and CustomInteractionType.select().count() == 0

    marketer, marketer_token, _ = signed_in(app, MARKETER)
    assert marketer.get("/admin/interaction-types").status_code == 403
    assert (
        marketer.post(
            "/admin/interaction-types", data={"csrf_token": marketer_token, "name": "x_y", "label": "X"}
        ).status_code
        == 403
    )


def test_e3_migration_013_renames_the_stored_website_visited_everywhere(app):
    """No event or rule is orphaned by the rename: interactions, scoring rules,
    qualification terms and automatic-lead rules all say ``web_visit``."""
    lead = make_lead()
    Interaction.create(lead=lead, type="website_visited", external_id="old")
    rule = {"id": "v", "type": "website_visited", "points": 5, "filters": [], "per_occurrence": True}
    model = ModelRow.create(name="Old", definition={"attribute_rules": [], "behaviour_rules": [rule]})
    term = {"kind": "interaction", "type": "website_visited", "filters": [], "within_days": 30}
    criteria = QualificationCriteria.create(name="Old", definition={"rule": {"op": "or", "items": [term]}})
    auto = AutoLeadRule.create(name="Visitors", interaction_types=["website_visited", "form_submitted"])

    spec = importlib.util.spec_from_file_location(
        "migration_013", f"{migrate.MIGRATIONS_DIR}/013_interaction_types.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module._rename(module.RENAMED, migrate.router().migrator.orm)

    assert Interaction.get().type == "web_visit"
    assert ModelRow.get_by_id(model.id).definition["behaviour_rules"][0]["type"] == "web_visit"
    assert QualificationCriteria.get_by_id(criteria.id).definition["rule"]["items"][0]["type"] == "web_visit"
    assert AutoLeadRule.get_by_id(auto.id).interaction_types == ["web_visit", "form_submitted"]
    json.dumps(ModelRow.get_by_id(model.id).definition)  # still plain JSON


# --- Field pickers say whose field it is ----------------------------------------------


def test_s1_s2_field_pickers_name_the_record_and_the_field(app):
    client, token, _ = signed_in(app)
    page = client.post(
        "/scoring/models/new/rows", data={**model_form(token), "row": "add:attribute_rules"}, headers=HX
    ).get_data(as_text=True)
    labels = dict(options_of(page, "attribute_rules-0-subject"))
    assert labels["contact.job_title"] == "Contact · Job title"
    assert labels["account.employee_count"] == "Account · Employees"
    assert labels["lead.topic"] == "Lead · Topic"


# --- A published model shows every rule in full ------------------------------------


def test_s1_s2_a_live_model_shows_each_rule_condition_filters_window_points_and_cap(app, run_jobs):
    client, token, marketer = signed_in(app)
    definition = {
        "attribute_rules": [
            {
                "id": "small",
                "label": "Small company",
                "condition": {"entity": "account", "field": "employee_count", "operator": "lt", "value": 10},
                "points": -15,
            }
        ],
        "behaviour_rules": [
            {
                "id": "pricing",
                "label": "Pricing visits",
                "type": "web_visit",
                "filters": [{"field": "page_id", "operator": "equals", "value": "pricing"}],
                "window_days": 30,
                "per_occurrence": True,
                "cap": 40,
                "points": 15,
            }
        ],
    }
    row = stored_model(app, marketer, definition=definition, live=True, run_jobs=run_jobs)
    page = client.get(f"/scoring/models/{row.id}").get_data(as_text=True)
    attribute = text_of(page, "attribute-rules-summary")
    assert "Small company" in attribute and "Account employee count < 10" in attribute and "-15" in attribute
    behaviour = text_of(page, "behaviour-rules-summary")
    for shown in (
        "Pricing visits",
        "Website visited",
        "page id equals 'pricing'",
        "last 30 days",
        "per occurrence",
        "40",
        "+15",
    ):
        assert shown in behaviour, shown
    assert "model-form" not in page


# --- Duplicate as draft --------------------------------------------------------------


def test_s1_q3_any_model_or_criteria_is_duplicated_as_a_draft(app, run_jobs):
    client, token, marketer = signed_in(app)
    live = stored_model(app, marketer, live=True, run_jobs=run_jobs)
    page = client.get(f"/scoring/models/{live.id}").get_data(as_text=True)
    assert "Duplicate as draft" in page
    copied = client.post(f"/scoring/models/{live.id}/duplicate", data={"csrf_token": token}, headers=HX)
    copy = ModelRow.get(ModelRow.name == "Engagement (copy)")
    assert copied.status_code == 200 and copied.headers["HX-Push-Url"] == f"/scoring/models/{copy.id}"
    assert (copy.status, copy.definition) == ("draft", live.definition)
    assert 'id="model-form"' in copied.get_data(as_text=True)  # a draft: the builder
    client.post(f"/scoring/models/{live.id}/duplicate", data={"csrf_token": token}, headers=HX)
    assert ModelRow.select().where(ModelRow.name == "Engagement (copy 2)").exists()
    assert ModelRow.get_by_id(live.id).status == "live"

    definition = {"rule": {"op": "and", "items": [{"kind": "score", "model_id": live.id, "min_score": 20}]}}
    with app.app_context():
        from leads.scoring import services

        criteria = services.save_criteria(None, "Hot", definition, marketer)
        services.set_criteria_status(criteria, "published", marketer)
    plain = client.post(f"/scoring/criteria/{criteria.id}/duplicate", data={"csrf_token": token})
    copy = QualificationCriteria.get(QualificationCriteria.name == "Hot (copy)")
    assert plain.status_code == 303 and plain.headers["Location"].endswith(f"/scoring/criteria/{copy.id}")
    assert (copy.status, copy.definition) == (
        "draft",
        QualificationCriteria.get_by_id(criteria.id).definition,
    )

    manager, manager_token, _ = signed_in(app, MANAGER)
    assert "Duplicate as draft" not in manager.get(f"/scoring/models/{live.id}").get_data(as_text=True)
    refused = manager.post(f"/scoring/models/{live.id}/duplicate", data={"csrf_token": manager_token})
    assert refused.status_code == 403


def test_s1_a_draft_with_unsaved_edits_warns_before_publish(app):
    client, token, marketer = signed_in(app)
    row = stored_model(app, marketer)
    page = client.get(f"/scoring/models/{row.id}").get_data(as_text=True)
    assert re.search(r'<p id="unsaved-warning"[^>]*hidden', page)  # saved: hidden until an edit (app.js)
    assert 'data-guards-unsaved="model-form"' in page and 'data-track-unsaved="unsaved-warning"' in page
    data = {**model_form(token), "behaviour_rules-0-type": "email_opened", "behaviour_rules-0-points": "3"}
    changed = client.post(
        f"/scoring/models/{row.id}/rows", data={**data, "row": "add:grades"}, headers=HX
    ).get_data(as_text=True)
    warning = re.search(r'<p id="unsaved-warning"[^>]*>', changed).group(0)
    assert "hidden" not in warning and "Publish publishes the last saved version" in changed
    assert 'data-dirty="true"' in changed
    saved = client.post(f"/scoring/models/{row.id}", data=data, headers=HX).get_data(as_text=True)
    assert re.search(r'<p id="unsaved-warning"[^>]*hidden', saved)


# --- Preview: sample leads with their score and why ------------------------------------


def test_s6_the_preview_lists_20_sample_leads_with_their_score_and_why(app):
    client, token, _ = signed_in(app)
    directors = [make_lead(contact=make_contact(job_title="Director")) for _ in range(22)]
    intern = make_lead(contact=make_contact(job_title="Intern"))
    fields = {
        "attribute_rules-0-label": "Director",
        "attribute_rules-0-subject": "contact.job_title",
        "attribute_rules-0-operator": "contains",
        "attribute_rules-0-value": "director",
        "attribute_rules-0-points": "20",
    }
    response = client.post("/scoring/models/new/preview", data=model_form(token, **fields), headers=HX)
    html = response.get_data(as_text=True)
    rows = re.findall(r'<tr data-lead="(\d+)">', html)
    assert len(rows) == 20 and rows[0] == str(intern.id)  # the most recent first
    assert text_of(html, "model-preview-leads").count("Director: +20") == 19
    assert "No rule matched." in text_of(html, "model-preview-leads")
    assert f'href="/leads/{directors[-1].id}"' in html
    assert ModelRow.select().count() == 0


def test_s6_r7_the_threshold_count_links_to_the_list_of_those_leads(app, run_jobs):
    client, token, marketer = signed_in(app)
    directors = [make_lead(contact=make_contact(job_title="Director")) for _ in range(2)]
    make_lead(contact=make_contact(job_title="Intern"))
    row = stored_model(app, marketer, live=True, run_jobs=run_jobs)
    page = client.get(f"/scoring/models/{row.id}/insights?threshold=20").get_data(as_text=True)
    link = re.search(r'<a class="threshold-leads" href="([^"]+)">', page).group(1).replace("&amp;", "&")
    assert "2 leads" in text_of(page, "threshold-count")
    listing = client.get(link).get_data(as_text=True)
    assert sorted(int(i) for i in re.findall(r'href="/leads/(\d+)"', listing)) == sorted(
        d.id for d in directors
    )


# --- The header badge is the user's own -------------------------------------------------


def test_r2_the_insights_page_badge_shows_unread_notifications_not_the_page_count(app, run_jobs):
    client, token, marketer = signed_in(app)
    for _ in range(3):
        make_lead(contact=make_contact(job_title="Director"))
    row = stored_model(app, marketer, live=True, run_jobs=run_jobs)
    page = client.get(f"/scoring/models/{row.id}/insights?threshold=0").get_data(as_text=True)
    assert "3 leads" in text_of(page, "threshold-count")
    assert "notify-count" not in text_of(page, "notify-badge") and "3" not in text_of(page, "notify-badge")
    Notification.create(user=marketer, kind="test", text="Hello")
    page = client.get(f"/scoring/models/{row.id}/insights?threshold=0").get_data(as_text=True)
    assert text_of(page, "notify-badge") == "Notifications 1"
