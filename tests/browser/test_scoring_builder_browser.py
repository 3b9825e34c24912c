"""A marketer duplicates a live scoring model as a draft, changes a rule,
previews sample leads with their score and why, is warned of unsaved edits
before Publish, saves and publishes, in real headless Chromium (S1, S2, S4, S6;
issue 14)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from leads.scoring import services as scoring_admin
from leads.scoring.models import LeadScore
from leads.scoring.models import ScoringModel as ModelRow
from tests.conftest import burst_worker, screenshot
from tests.factories import make_contact, make_lead, make_user, sign_in

pytestmark = pytest.mark.browser

FIT = {
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
        {"id": "visits", "label": "Visits", "type": "web_visit", "points": 5, "cap": 20, "window_days": 30}
    ],
}


def test_s1_s2_s6_a_marketer_duplicates_a_live_model_previews_is_warned_of_unsaved_edits_and_publishes(
    sqlite_app, browser_page
):
    run_jobs = burst_worker(sqlite_app)
    marketer = make_user("marketer", name="Mia Marketer")
    director = make_lead(
        contact=make_contact(job_title="Sales Director"), first_name="Ada", last_name="Byron"
    )
    make_lead(contact=make_contact(job_title="Engineer"), first_name="Alan", last_name="Turing")
    with sqlite_app.app_context():
        live = scoring_admin.save_model(None, "Fit", "", FIT, marketer)
        scoring_admin.set_model_status(live, "live", marketer)
    run_jobs()

    page = browser_page
    sign_in(page, marketer)
    page.goto(f"/scoring/models/{live.id}")
    summary = page.locator("#behaviour-rules-summary")
    expect(summary).to_contain_text("Website visited")  # the read-only model, in full
    expect(summary).to_contain_text("last 30 days")
    page.get_by_role("button", name="Duplicate as draft").click()
    editor = page.locator("#model-editor")
    expect(editor).to_contain_text("Fit (copy)")
    copy = ModelRow.get(ModelRow.name == "Fit (copy)")
    expect(page).to_have_url(re.compile(rf"/scoring/models/{copy.id}$"))
    expect(editor.locator(".badge.status-draft")).to_have_text("Draft")
    expect(page.locator("#unsaved-warning")).to_be_hidden()

    subject = page.locator("[name=attribute_rules-0-subject]")
    expect(subject.locator("option:checked")).to_have_text("Contact · Job title")
    page.fill("[name=attribute_rules-0-points]", "35")  # the rule changes: unsaved
    expect(page.locator("#unsaved-warning")).to_be_visible()
    expect(page.locator("#unsaved-warning")).to_contain_text("Publish publishes the last saved version")

    page.get_by_role("button", name="Preview").click()
    leads = page.locator("#model-preview-leads")
    expect(leads.locator(f"tr[data-lead='{director.id}'] .preview-score")).to_have_text("35")
    expect(leads.locator(f"tr[data-lead='{director.id}']")).to_contain_text("Director: +35")
    expect(leads.locator("tbody tr")).to_have_count(2)
    screenshot(page, "scoring-builder-duplicate-preview")

    dialogs = []

    def dismiss(dialog):
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.once("dialog", dismiss)
    page.get_by_role("button", name="Publish").click()
    expect(page.locator("#unsaved-warning")).to_be_visible()
    assert dialogs and "unsaved edits" in dialogs[0]
    assert ModelRow.get_by_id(copy.id).status == "draft"  # nothing published
    screenshot(page, "scoring-builder-unsaved-warning")

    page.get_by_role("button", name="Save").click()
    expect(editor).to_contain_text("Model saved.")
    expect(page.locator("#unsaved-warning")).to_be_hidden()
    page.get_by_role("button", name="Publish").click()  # saved: no question
    expect(editor.locator(".badge.status-live")).to_have_text("Live")
    run_jobs()
    expect(editor.locator(".task")).to_contain_text("Done")
    assert LeadScore.get(lead=director.id, model=copy.id).score == 35
    assert ModelRow.get_by_id(live.id).status == "live"  # the original goes on
    screenshot(page, "scoring-builder-published-copy")
    assert page.js_errors == []
