"""A marketer builds, previews and publishes a scoring model in real headless
Chromium; an event posted through the API then changes the open lead page
(S1, S2, S4, S5, S6, P1, P3)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from auth.admin import issue_token
from leads.core import lifecycle
from leads.records.models import Lead
from leads.scoring.models import ScoringModel as ModelRow
from tests.conftest import burst_worker, screenshot
from tests.factories import make_contact, make_lead, make_user, sign_in

pytestmark = pytest.mark.browser


def test_s1_s2_s4_s5_s6_p3_a_marketer_builds_previews_and_publishes_a_model_and_the_lead_page_follows(
    sqlite_app, browser_page
):
    """S1/S2: one attribute and one behaviour rule built in the UI (rows added with
    htmx); the what-if preview; S4: publishing shows a progress bar that finishes
    once the worker has scored every open lead; S5/P3/S6: an email click posted
    through the API makes the open lead page show the new score and stage 5."""
    run_jobs = burst_worker(sqlite_app)
    marketer = make_user("marketer", name="Mia Marketer")
    contact = make_contact(job_title="Sales Director")
    lead = make_lead(contact=contact, first_name="Ada", last_name="Byron")
    make_lead(contact=make_contact(job_title="Engineer"))

    page = browser_page
    sign_in(page, marketer)
    page.get_by_role("link", name="Scoring", exact=True).click()
    page.wait_for_url("**/scoring/models")
    page.get_by_role("link", name="New model").click()
    page.fill("input[name=name]", "Engagement")

    page.get_by_role("button", name="Add attribute rule").click()
    page.fill("[name=attribute_rules-0-value]", "director")
    page.fill("[name=attribute_rules-0-points]", "20")
    page.get_by_role("button", name="Add behaviour rule").click()
    expect(page.locator("[name=behaviour_rules-0-type]")).to_have_value("email_clicked")
    expect(page.locator("[name=attribute_rules-0-value]")).to_have_value("director")  # kept across the swap
    page.fill("[name=behaviour_rules-0-window_days]", "30")
    page.fill("[name=behaviour_rules-0-cap]", "30")
    page.fill("[name=behaviour_rules-0-points]", "10")
    page.fill("[name=sales_ready_threshold]", "30")

    page.get_by_role("button", name="Preview").click()
    preview = page.locator("#model-preview")
    expect(preview).to_contain_text("Would be scored")
    expect(preview.locator(".preview-scored")).to_have_text("2")
    expect(preview.locator("svg rect.bar").first).to_be_visible()
    screenshot(page, "scoring-model-preview")
    assert ModelRow.select().count() == 0  # a preview saves nothing

    page.get_by_role("button", name="Save").click()
    expect(page.locator("#model-editor")).to_contain_text("Model saved.")
    model = ModelRow.get(ModelRow.name == "Engagement")
    expect(page).to_have_url(re.compile(rf"/scoring/models/{model.id}$"))
    assert [r["points"] for r in model.definition["attribute_rules"]] == [20]
    assert model.definition["behaviour_rules"][0]["cap"] == 30

    page.get_by_role("button", name="Publish").click()
    task = page.locator("#model-editor .task")
    expect(task).to_contain_text("Running")
    expect(task.locator("progress")).to_have_attribute("max", "2")
    run_jobs()
    expect(task).to_contain_text("Done")  # the bar polls every second until the task ends
    expect(task).to_contain_text("2 of 2")
    expect(page.locator("#model-editor .badge.status-live")).to_have_text("Live")
    screenshot(page, "scoring-model-published")

    page.goto(f"/leads/{lead.id}")
    expect(page.locator("#lead-scores .score-value")).to_have_text("20")
    expect(page.locator("#stage-bar [aria-current=step]")).to_contain_text(
        "Automated marketing qualification"
    )

    token = issue_token(make_user("integration"), "site")
    answer = sqlite_app.test_client().post(
        "/api/v1/interactions",
        json={"type": "email_clicked", "external_id": "click-1", "contact_id": contact.id},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 201, answer.get_json()
    run_jobs()
    expect(page.locator("#lead-scores .score-value")).to_have_text("30")  # no reload: the panel polls
    expect(page.locator("#stage-bar [aria-current=step]")).to_contain_text("Sales acceptance")
    assert Lead.get_by_id(lead.id).stage == lifecycle.SALES_ACCEPTANCE
    screenshot(page, "scoring-lead-page-updated")

    page.goto(f"/scoring/models/{model.id}/insights")
    expect(page.locator("#threshold-count")).to_contain_text("1 lead with a score of 30 or more")
    page.fill("#threshold", "0")
    expect(page.locator("#threshold-count")).to_contain_text("2 leads with a score of 0 or more")
    screenshot(page, "scoring-insights")
    assert page.js_errors == []


def test_d3_the_prediction_figures_fit_390_px_and_the_range_form_swaps_them(sqlite_app, browser_page):
    """D3 at 390 px wide: the sentence, the calibration chart and its table are in
    view without sideways scrolling; a new range swaps the figures in place and
    lands in the address bar."""
    from tests.scoring.test_prediction import live_model, outcome_lead

    marketer = make_user("marketer")
    model = live_model(sqlite_app, marketer)
    outcome_lead(model, 70, True, days_ago=10)
    outcome_lead(model, 10, False, days_ago=40)

    page = browser_page
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, marketer)
    page.goto(f"/scoring/models/{model.id}/insights")
    expect(page.locator("#prediction-outcomes")).to_have_text("2 (1 converted, 1 disqualified)")
    expect(page.locator("#prediction-sentence")).to_have_text("Not enough outcomes yet: 2 of the 100 needed.")
    expect(page.locator("#prediction svg title").first).to_have_text("Conversion rate per score band")
    screenshot(page, "scoring-prediction-390")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390

    page.fill("#from", page.input_value("#to"))  # today only: nothing yet
    page.get_by_role("button", name="Show").click()
    expect(page.locator("#prediction-outcomes")).to_have_text("0 (0 converted, 0 disqualified)")
    assert re.search(r"from=\d{4}-\d\d-\d\d", page.url)
    assert page.js_errors == []
