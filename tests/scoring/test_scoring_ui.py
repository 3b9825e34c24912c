"""The marketer's scoring and qualification pages (S1, S2, S4, S5, S6, Q1–Q3, Q6),
through the test client on SQLite and PostgreSQL, with a real RQ worker for
the re-scoring that publishing starts."""

from __future__ import annotations

import datetime as dt
import re
from html.parser import HTMLParser

import pytest

from auth.models import ADMIN, INTEGRATION, MANAGER, MARKETER, REP, TELEPROSPECTOR
from leads.base.db import utcnow
from leads.base.models import BackgroundTask
from leads.core import lifecycle
from leads.records.models import Interaction, Lead
from leads.scoring import services as scoring_admin
from leads.scoring.insights import bucket_width, buckets_of, chart_bars
from leads.scoring.models import LeadScore, QualificationCriteria
from leads.scoring.models import ScoringModel as ModelRow
from tests.factories import csrf_token, login, make_contact, make_custom_type, make_lead, make_user

HX = {"HX-Request": "true"}

DIRECTOR_RULE = {
    "attribute_rules-0-subject": "contact.job_title",
    "attribute_rules-0-operator": "contains",
    "attribute_rules-0-value": "director",
    "attribute_rules-0-points": "20",
}
CLICK_RULE = {
    "behaviour_rules-0-type": "email_clicked",
    "behaviour_rules-0-window_days": "30",
    "behaviour_rules-0-per_occurrence": "per",
    "behaviour_rules-0-cap": "30",
    "behaviour_rules-0-points": "10",
}


class _Element(HTMLParser):
    """The text inside the element with a given id (stdlib only)."""

    VOID = {"input", "br", "img", "meta", "link", "hr", "col", "source", "area", "base", "wbr"}

    def __init__(self, element_id):
        super().__init__()
        self.element_id, self.depth, self.parts, self.found = element_id, 0, [], False

    def handle_starttag(self, tag, attrs):
        if self.depth:
            if tag not in self.VOID:
                self.depth += 1
        elif dict(attrs).get("id") == self.element_id:
            self.found, self.depth = True, 0 if tag in self.VOID else 1

    def handle_endtag(self, tag):
        if self.depth and tag not in self.VOID:
            self.depth -= 1

    def handle_data(self, data):
        if self.depth:
            self.parts.append(data)


def text_of(html: str, element_id: str) -> str:
    """The text of the element ``element_id`` in ``html``, whitespace collapsed."""
    parser = _Element(element_id)
    parser.feed(html)
    assert parser.found, f"no element with id {element_id!r}"
    return " ".join(" ".join(parser.parts).split())


def signed_in(app, role=MARKETER):
    client = app.test_client()
    user = make_user(role)
    login(client, user)
    return client, csrf_token(client), user


def model_form(token, name="Engagement", **fields):
    return {"csrf_token": token, "name": name, "description": "", **fields}


def create_model(client, token, **fields):
    response = client.post("/scoring/models", data=model_form(token, **fields), headers=HX)
    assert response.status_code == 200, response.get_data(as_text=True)
    return ModelRow.get(ModelRow.name == fields.get("name", "Engagement"))


def stored_model(app, user, name="Engagement", definition=None, live=False, run_jobs=None):
    definition = definition or {
        "attribute_rules": [
            {
                "id": "director",
                "label": "Director",
                "condition": {
                    "entity": "contact",
                    "field": "job_title",
                    "operator": "contains",
                    "value": "director",
                },
                "points": 20,
            }
        ],
        "behaviour_rules": [
            {"id": "clicks", "label": "Email clicks", "type": "email_clicked", "points": 10, "cap": 30}
        ],
    }
    with app.app_context():
        row = scoring_admin.save_model(None, name, "", definition, user)
        if live:
            scoring_admin.set_model_status(row, "live", user)
    if run_jobs:
        run_jobs()
    return ModelRow.get_by_id(row.id)


# --- Pure helpers ------------------------------------------------------------------


def test_s6_buckets_cover_every_score_with_nice_widths():
    assert bucket_width(0, 9) == 1
    assert bucket_width(0, 100) == 10
    assert bucket_width(-35, 180) == 20
    buckets = buckets_of([0, 5, 5, 12, 39, -3])
    assert sum(b.count for b in buckets) == 6
    assert buckets[0].low <= -3 and buckets[-1].high >= 39
    assert all(b.high - b.low + 1 == buckets[0].high - buckets[0].low + 1 for b in buckets)
    bars = chart_bars(buckets)
    assert max(bar.height for bar in bars) > 0 and all(bar.y >= 0 for bar in bars)


# --- The model builder (S1, S2, S5) ----------------------------------------------


def test_s1_s2_s5_a_marketer_builds_a_model_with_audience_rules_threshold_and_grades(app):
    client, token, _ = signed_in(app)
    make_custom_type()  # E3: a rule may count a registered custom type
    fields = {
        "audience_op": "and",
        "audience-0-subject": "lead.country",
        "audience-0-operator": "in_list",
        "audience-0-value": "FR, DE",
        **DIRECTOR_RULE,
        "attribute_rules-1-subject": "account.employee_count",
        "attribute_rules-1-operator": "lt",
        "attribute_rules-1-value": "10",
        "attribute_rules-1-points": "-15",
        **CLICK_RULE,
        "behaviour_rules-0-filters-0-property": "campaign_id",
        "behaviour_rules-0-filters-0-operator": "equals",
        "behaviour_rules-0-filters-0-value": "7",
        "behaviour_rules-1-type": "demo_requested",
        "behaviour_rules-1-per_occurrence": "once",
        "behaviour_rules-1-points": "40",
        "sales_ready_threshold": "60",
        "grades-0-label": "A",
        "grades-0-min_score": "80",
        "grades-1-label": "B",
        "grades-1-min_score": "50",
    }
    row = create_model(client, token, **fields)
    definition = row.definition
    assert row.status == "draft"
    assert definition["audience"]["items"][0]["value"] == ["FR", "DE"]
    assert [r["points"] for r in definition["attribute_rules"]] == [20, -15]  # negative points allowed
    click, demo = definition["behaviour_rules"]
    assert (click["window_days"], click["cap"], click["per_occurrence"]) == (30, 30, True)
    assert click["filters"] == [{"field": "campaign_id", "operator": "equals", "value": "7"}]
    assert (demo["type"], demo["per_occurrence"], demo["window_days"]) == ("demo_requested", False, None)
    assert definition["sales_ready_threshold"] == 60
    assert [g["label"] for g in definition["grades"]] == ["A", "B"]

    page = client.get(f"/scoring/models/{row.id}").get_data(as_text=True)
    assert 'value="demo_requested"' in page and 'value="campaign_id"' in page  # the builder shows it back
    listing = client.get("/scoring/models").get_data(as_text=True)
    assert "Engagement" in text_of(listing, f"model-{row.id}") and "Draft" in text_of(
        listing, f"model-{row.id}"
    )


def test_s2_rows_are_added_and_removed_without_losing_what_was_typed(app):
    client, token, _ = signed_in(app)
    typed = model_form(token, **DIRECTOR_RULE, **CLICK_RULE)
    added = client.post("/scoring/models/new/rows", data={**typed, "row": "add:attribute_rules"}, headers=HX)
    html = added.get_data(as_text=True)
    assert added.status_code == 200 and 'name="attribute_rules-1-points"' in html
    assert 'value="director"' in html and 'id="behaviour_rules-0"' in html
    with_filter = client.post(
        "/scoring/models/new/rows", data={**typed, "row": "add:behaviour_rules-0-filters"}, headers=HX
    ).get_data(as_text=True)
    assert 'name="behaviour_rules-0-filters-0-property"' in with_filter
    removed = client.post(
        "/scoring/models/new/rows", data={**typed, "row": "remove:attribute_rules-0"}, headers=HX
    ).get_data(as_text=True)
    assert "attribute_rules-0-points" not in removed and 'value="director"' not in removed
    assert ModelRow.select().count() == 0  # nothing is saved by adding or removing rows


def test_s2_validation_errors_show_next_to_the_exact_row(app):
    client, token, _ = signed_in(app)
    fields = {
        **DIRECTOR_RULE,
        "attribute_rules-1-subject": "account.employee_count",
        "attribute_rules-1-operator": "gt",
        "attribute_rules-1-value": "many",
        "attribute_rules-1-points": "0",
        **CLICK_RULE,
        "behaviour_rules-0-cap": "-3",
        "grades-0-label": "A",
        "grades-0-min_score": "lots",
    }
    response = client.post("/scoring/models", data=model_form(token, name="", **fields), headers=HX)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert ModelRow.select().count() == 0
    assert "Enter a name." in text_of(html, "model-form")
    assert "Give this rule some points" in text_of(html, "attribute_rules-1")
    assert "Enter a number." in text_of(html, "attribute_rules-1")
    assert "Give this rule some points" not in text_of(html, "attribute_rules-0")
    assert "Enter a whole number from 1 to" in text_of(html, "behaviour_rules-0")
    assert "Enter a whole number" in text_of(html, "grades-0")
    assert 'value="many"' in html  # what was typed stays


def test_s1_names_are_unique_and_too_long_names_are_refused(app):
    client, token, _ = signed_in(app)
    create_model(client, token, **DIRECTOR_RULE)
    again = client.post("/scoring/models", data=model_form(token, **DIRECTOR_RULE), headers=HX)
    assert again.status_code == 422 and "Another model has this name." in again.get_data(as_text=True)
    long = client.post("/scoring/models", data=model_form(token, name="x" * 150), headers=HX)
    assert long.status_code == 422 and ModelRow.select().count() == 1


def test_s1_without_htmx_a_save_redirects_to_the_model_page(app):
    client, token, _ = signed_in(app)
    response = client.post("/scoring/models", data=model_form(token, **DIRECTOR_RULE))
    row = ModelRow.get()
    assert response.status_code == 303 and response.headers["Location"].endswith(f"/scoring/models/{row.id}")


# --- Status: publish with a progress bar, stop (S1, S4) ---------------------------


def test_s1_s4_publishing_starts_a_task_whose_progress_bar_reaches_done(app, run_jobs):
    client, token, _ = signed_in(app)
    director = make_lead(contact=make_contact(job_title="Sales Director"))
    make_lead(contact=make_contact(job_title="Engineer"))
    row = create_model(client, token, **DIRECTOR_RULE)

    published = client.post(
        f"/scoring/models/{row.id}/status", data={"csrf_token": token, "status": "live"}, headers=HX
    )
    html = published.get_data(as_text=True)
    assert published.status_code == 200
    task = BackgroundTask.get()
    assert task.total == 2 and task.status == "running"
    assert f'hx-get="/scoring/tasks/{task.id}"' in html and 'hx-trigger="every 1s"' in html
    assert "<progress" in html and ModelRow.get_by_id(row.id).status == "live"

    polling = client.get(f"/scoring/tasks/{task.id}", headers=HX).get_data(as_text=True)
    assert 'hx-trigger="every 1s"' in polling and "0 of 2" in polling
    run_jobs()
    done = client.get(f"/scoring/tasks/{task.id}", headers=HX).get_data(as_text=True)
    assert "Done" in done and "2 of 2" in done and 'value="2"' in done
    assert "hx-trigger" not in done  # the bar stops polling
    assert LeadScore.get(lead=director, model=row).score == 20


def test_s1_a_live_model_is_read_only_and_edits_are_refused_until_stopped(app, run_jobs):
    client, token, _ = signed_in(app)
    row = create_model(client, token, **DIRECTOR_RULE)
    client.post(f"/scoring/models/{row.id}/status", data={"csrf_token": token, "status": "live"}, headers=HX)
    run_jobs()
    page = client.get(f"/scoring/models/{row.id}").get_data(as_text=True)
    assert 'id="model-form"' not in page and "Stop" in text_of(page, "model-editor")
    refused = client.post(
        f"/scoring/models/{row.id}",
        data=model_form(token, **{**DIRECTOR_RULE, "attribute_rules-0-points": "99"}),
        headers=HX,
    )
    assert refused.status_code == 409 and "Stop the model before changing it." in refused.get_data(
        as_text=True
    )
    assert ModelRow.get_by_id(row.id).definition["attribute_rules"][0]["points"] == 20
    assert (
        client.post(f"/scoring/models/{row.id}/rows", data=model_form(token), headers=HX).status_code == 409
    )

    stopped = client.post(
        f"/scoring/models/{row.id}/status", data={"csrf_token": token, "status": "stopped"}, headers=HX
    )
    assert stopped.status_code == 200 and 'id="model-form"' in stopped.get_data(as_text=True)
    assert ModelRow.get_by_id(row.id).status == "stopped"
    saved = client.post(
        f"/scoring/models/{row.id}",
        data=model_form(token, **{**DIRECTOR_RULE, "attribute_rules-0-points": "99"}),
        headers=HX,
    )
    assert (
        saved.status_code == 200
        and ModelRow.get_by_id(row.id).definition["attribute_rules"][0]["points"] == 99
    )


def test_s1_publishing_a_model_without_rules_is_refused_with_the_reason(app):
    client, token, _ = signed_in(app)
    row = create_model(client, token)
    response = client.post(
        f"/scoring/models/{row.id}/status", data={"csrf_token": token, "status": "live"}, headers=HX
    )
    assert response.status_code == 409 and "Add at least one rule before publishing." in response.get_data(
        as_text=True
    )
    assert ModelRow.get_by_id(row.id).status == "draft"
    wrong = client.post(
        f"/scoring/models/{row.id}/status", data={"csrf_token": token, "status": "stopped"}, headers=HX
    )
    assert wrong.status_code == 409


# --- Insights (S6) -----------------------------------------------------------------


def _score(lead, model, score, breakdown):
    LeadScore.create(
        lead=lead,
        model=model,
        score=score,
        breakdown=[
            {"rule_id": rule_id, "label": rule_id, "points": points, "occurrences": 1, "capped": False}
            for rule_id, points in breakdown
        ],
    )


def test_s6_insights_show_the_distribution_the_threshold_count_and_the_top_rules(app):
    client, token, user = signed_in(app)
    row = stored_model(app, user)
    other = stored_model(app, user, name="Other")
    known = [(0, []), (20, [("director", 20)]), (30, [("director", 20), ("clicks", 10)])]
    known += [(50, [("director", 20), ("clicks", 30)])] * 3
    for score, breakdown in known:
        _score(make_lead(), row, score, breakdown)
    _score(make_lead(), other, 99, [("director", 99)])  # another model's scores do not count

    page = client.get(f"/scoring/models/{row.id}/insights?threshold=30").get_data(as_text=True)
    assert text_of(page, "threshold-count").startswith("4 leads with a score of 30 or more")
    assert 'class="insights-scored">6<' in page
    counts = [int(n) for n in re.findall(r'<text class="count"[^>]*>(\d+)</text>', page)]
    assert sorted(counts) == [1, 1, 1, 3]
    assert "style=" not in page.split("<main", 1)[1]  # CSP: no inline styles
    rules = text_of(page, "top-rules")
    assert rules.index("Email clicks") < rules.index("Director")  # a tie on points: by rule id
    assert "Email clicks 100 4 25.0" in rules and "Director 100 5 20.0" in rules

    count = client.get(f"/scoring/models/{row.id}/insights?threshold=50", headers=HX)
    assert count.get_data(as_text=True).count('id="threshold-count"') == 1
    assert "3 leads with a score of 50 or more" in text_of(count.get_data(as_text=True), "threshold-count")
    bad = client.get(f"/scoring/models/{row.id}/insights?threshold=abc", headers=HX).get_data(as_text=True)
    assert "Enter a whole number." in bad


# --- What-if previews ------------------------------------------------------------


def test_s2_s5_the_model_preview_scores_a_sample_of_open_leads_without_saving(app):
    client, token, _ = signed_in(app)
    for _ in range(3):
        make_lead(contact=make_contact(job_title="Director of sales"))
    make_lead(contact=make_contact(job_title="Engineer"))
    make_lead(
        contact=make_contact(job_title="Director"), status=lifecycle.DISQUALIFIED
    )  # not open: not sampled
    fields = {**DIRECTOR_RULE, "sales_ready_threshold": "20"}
    response = client.post("/scoring/models/new/preview", data=model_form(token, **fields), headers=HX)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "2000 most recent open leads (4 found)" in " ".join(html.split())
    assert text_of(html, "model-preview").count("Would be scored 4") == 1
    assert "Would qualify now 3" in text_of(html, "model-preview")  # S5: threshold reached by 3
    assert "<svg" in html and ModelRow.select().count() == 0

    audience = {
        **fields,
        "audience-0-subject": "contact.job_title",
        "audience-0-operator": "contains",
        "audience-0-value": "director",
    }
    narrowed = client.post("/scoring/models/new/preview", data=model_form(token, **audience), headers=HX)
    assert "Would be scored 3" in text_of(narrowed.get_data(as_text=True), "model-preview")


def test_s2_a_preview_of_an_invalid_model_shows_the_errors_in_the_form(app):
    client, token, _ = signed_in(app)
    bad = {**DIRECTOR_RULE, "attribute_rules-0-points": "abc"}
    response = client.post("/scoring/models/new/preview", data=model_form(token, **bad), headers=HX)
    assert response.status_code == 422 and response.headers["HX-Retarget"] == "#model-editor"
    assert "Enter points" in text_of(response.get_data(as_text=True), "attribute_rules-0")


# --- Qualification criteria (Q1–Q3, Q6) --------------------------------------------


def criteria_form(token, name="Hot leads", **fields):
    return {"csrf_token": token, "name": name, "rule_op": "and", "marketing_qualified": "y", **fields}


def test_q1_score_terms_offer_live_models_only_and_refuse_others(app, run_jobs):
    client, token, user = signed_in(app)
    live = stored_model(app, user, name="Engagement", live=True, run_jobs=run_jobs)
    draft = stored_model(app, user, name="Draft model")
    added = client.post(
        "/scoring/criteria/new/rows", data={**criteria_form(token), "row": "add:terms:score"}, headers=HX
    ).get_data(as_text=True)
    options = re.findall(
        r'<option[^>]*value="(\d+)"', text_between(added, 'name="terms-0-model_id"', "</select>")
    )
    assert options == [str(live.id)]

    refused = client.post(
        "/scoring/criteria",
        data=criteria_form(
            token, **{"terms-0-kind": "score", "terms-0-model_id": str(draft.id), "terms-0-min_score": "50"}
        ),
        headers=HX,
    )
    assert refused.status_code == 422
    assert "Choose a live scoring model." in text_of(refused.get_data(as_text=True), "terms-0")
    assert QualificationCriteria.select().count() == 0

    saved = client.post(
        "/scoring/criteria",
        data=criteria_form(
            token, **{"terms-0-kind": "score", "terms-0-model_id": str(live.id), "terms-0-min_score": "50"}
        ),
        headers=HX,
    )
    assert saved.status_code == 200
    row = QualificationCriteria.get()
    assert row.definition["rule"]["items"] == [{"kind": "score", "model_id": live.id, "min_score": 50}]


def text_between(html: str, start: str, end: str) -> str:
    return html.split(start, 1)[1].split(end, 1)[0]


def test_q6_criteria_on_an_interaction_or_an_attribute_alone(app):
    client, token, _ = signed_in(app)
    make_custom_type()
    fields = {
        "rule_op": "or",
        "terms-0-kind": "interaction",
        "terms-0-type": "demo_requested",
        "terms-0-within_days": "30",
        "terms-1-kind": "attribute",
        "terms-1-subject": "account.employee_count",
        "terms-1-operator": "gte",
        "terms-1-value": "1000",
        "sales_ready": "y",
    }
    response = client.post("/scoring/criteria", data=criteria_form(token, **fields), headers=HX)
    assert response.status_code == 200, response.get_data(as_text=True)
    definition = QualificationCriteria.get().definition
    assert (
        definition["rule"]["op"] == "or" and definition["sales_ready"] and definition["marketing_qualified"]
    )
    assert definition["rule"]["items"][0] == {
        "kind": "interaction",
        "type": "demo_requested",
        "filters": [],
        "within_days": 30,
    }
    assert definition["rule"]["items"][1]["condition"]["field"] == "employee_count"

    none = client.post("/scoring/criteria", data=criteria_form(token, name="Empty"), headers=HX)
    assert none.status_code == 422 and "Add at least one condition." in text_of(
        none.get_data(as_text=True), "terms"
    )
    no_action = {**fields, "sales_ready": ""}
    no_action = {
        k: v
        for k, v in criteria_form(token, name="Idle", **no_action).items()
        if k != "marketing_qualified" and v
    }
    refused = client.post("/scoring/criteria", data=no_action, headers=HX)
    assert refused.status_code == 422 and "Choose at least one action" in refused.get_data(as_text=True)


def test_q3_published_criteria_refuse_edits_on_the_server_until_stopped(app, run_jobs):
    client, token, _ = signed_in(app)
    fields = {
        "terms-0-kind": "attribute",
        "terms-0-subject": "contact.job_title",
        "terms-0-operator": "contains",
        "terms-0-value": "ceo",
    }
    client.post("/scoring/criteria", data=criteria_form(token, **fields), headers=HX)
    row = QualificationCriteria.get()
    published = client.post(
        f"/scoring/criteria/{row.id}/status", data={"csrf_token": token, "status": "published"}, headers=HX
    )
    assert published.status_code == 200 and 'id="criteria-form"' not in published.get_data(as_text=True)
    assert QualificationCriteria.get_by_id(row.id).status == "published"
    run_jobs()

    changed = {**fields, "terms-0-value": "cfo"}
    refused = client.post(f"/scoring/criteria/{row.id}", data=criteria_form(token, **changed), headers=HX)
    assert refused.status_code == 409 and "Stop the criteria before changing them." in refused.get_data(
        as_text=True
    )
    assert (
        client.post(f"/scoring/criteria/{row.id}/rows", data=criteria_form(token), headers=HX).status_code
        == 409
    )
    plain = client.post(
        f"/scoring/criteria/{row.id}", data=criteria_form(token, **changed)
    )  # without htmx too
    assert plain.status_code == 409
    assert (
        QualificationCriteria.get_by_id(row.id).definition["rule"]["items"][0]["condition"]["value"] == "ceo"
    )

    client.post(
        f"/scoring/criteria/{row.id}/status", data={"csrf_token": token, "status": "stopped"}, headers=HX
    )
    page = client.get(f"/scoring/criteria/{row.id}").get_data(as_text=True)
    assert 'id="criteria-form"' in page
    saved = client.post(f"/scoring/criteria/{row.id}", data=criteria_form(token, **changed), headers=HX)
    assert saved.status_code == 200
    assert (
        QualificationCriteria.get_by_id(row.id).definition["rule"]["items"][0]["condition"]["value"] == "cfo"
    )


def test_q1_q6_the_criteria_preview_counts_the_open_leads_that_would_qualify(app, run_jobs):
    client, token, user = signed_in(app)
    hot = [make_lead(contact=make_contact(job_title="Director")) for _ in range(2)]
    make_lead(contact=make_contact(job_title="Intern"))
    already = make_lead(contact=make_contact(job_title="Director"))
    live = stored_model(app, user, live=True, run_jobs=run_jobs)  # scores them: directors 20, the intern 0
    Lead.update(status_reason=lifecycle.REASON_MARKETING_QUALIFIED).where(Lead.id == already.id).execute()
    Interaction.create(
        lead=hot[0], type="demo_requested", external_id="d1", occurred_at=utcnow() - dt.timedelta(days=2)
    )

    fields = {"terms-0-kind": "score", "terms-0-model_id": str(live.id), "terms-0-min_score": "20"}
    response = client.post("/scoring/criteria/new/preview", data=criteria_form(token, **fields), headers=HX)
    preview = text_of(response.get_data(as_text=True), "criteria-preview")
    assert "(4 found)" in preview and "Meet the criteria 3" in preview and "Would qualify now 2" in preview

    either = {
        "rule_op": "and",
        **fields,
        "terms-1-kind": "interaction",
        "terms-1-type": "demo_requested",
        "terms-1-within_days": "7",
    }
    both = client.post("/scoring/criteria/new/preview", data=criteria_form(token, **either), headers=HX)
    assert "Meet the criteria 1" in text_of(both.get_data(as_text=True), "criteria-preview")
    assert QualificationCriteria.select().count() == 0


# --- Who may do what ----------------------------------------------------------------


def _routes(app):
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("scoring."):
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                yield rule, method


def _path(rule, ids):
    path = rule.rule
    for name in rule.arguments:
        path = re.sub(rf"<(?:[^:<>]+:)?{name}>", str(ids[name]), path)
    return path


@pytest.mark.parametrize("role", [REP, TELEPROSPECTOR, MANAGER, INTEGRATION])
def test_g1_only_marketers_and_admins_manage_managers_look_and_others_are_refused(app, role, run_jobs):
    owner = make_user(MARKETER)
    model = stored_model(app, owner, live=True, run_jobs=run_jobs)
    with app.app_context():
        criteria = scoring_admin.save_criteria(
            None,
            "C",
            {"rule": {"op": "and", "items": [{"kind": "score", "model_id": model.id, "min_score": 1}]}},
            owner,
        )
    ids = {"model_id": model.id, "criteria_id": criteria.id, "task_id": BackgroundTask.get().id}
    client = app.test_client()
    if role == INTEGRATION:
        token = csrf_token(client, "/login")
    else:
        login(client, make_user(role))
        token = csrf_token(client)
    wrong = []
    for rule, method in _routes(app):
        response = client.open(_path(rule, ids), method=method, data={"csrf_token": token}, headers=HX)
        if role == INTEGRATION:
            ok = response.status_code == 401  # not signed in on the web: sent to sign in
        elif role == MANAGER and method == "GET" and not rule.rule.endswith("/new"):
            ok = response.status_code == 200
        else:
            ok = response.status_code == 403
        if not ok:
            wrong.append(f"{role} {method} {rule.rule} → {response.status_code}")
    assert wrong == []
    assert ModelRow.get_by_id(model.id).status == "live"


def test_g1_managers_see_read_only_pages_without_buttons(app, run_jobs):
    owner = make_user(MARKETER)
    model = stored_model(app, owner)
    client, _, _ = signed_in(app, MANAGER)
    page = client.get(f"/scoring/models/{model.id}").get_data(as_text=True)
    assert 'id="model-form"' not in page and "Publish" not in text_of(page, "model-editor")
    assert "Director" in text_of(page, "model-summary")
    nav = client.get("/scoring/models").get_data(as_text=True)
    assert 'href="/scoring/criteria"' in nav and "New model" not in nav


@pytest.mark.parametrize("role", [MARKETER, ADMIN])
def test_g1_marketers_and_admins_see_the_builder_and_the_nav_links(app, role):
    client, _, _ = signed_in(app, role)
    page = client.get("/scoring/models/new").get_data(as_text=True)
    assert 'id="model-form"' in page
    assert 'href="/scoring/models"' in page and 'href="/scoring/criteria"' in page
