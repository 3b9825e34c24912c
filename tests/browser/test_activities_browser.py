"""Logging a call on the lead page in real headless Chromium, 390 px wide (W1):
the form opens inline, a missing outcome is refused inline, the call then
appears at the top of the timeline (htmx, CSRF header), the calls filter keeps
only it and puts its address in the bar; Show older brings the entries past
the newest 50 into the list; nothing overflows the screen."""

from __future__ import annotations

import datetime as dt

import pytest
from playwright.sync_api import expect

from auth.models import MANAGER
from leads.activities.models import Activity
from leads.base.db import utcnow
from leads.core import lifecycle
from tests.conftest import screenshot
from tests.factories import make_lead, make_user, sign_in

pytestmark = pytest.mark.browser


def test_w1_a_manager_logs_a_call_on_a_phone(sqlite_app, browser_page):
    lead = make_lead(stage=lifecycle.AUTOMATED_QUALIFICATION)
    manager = make_user(MANAGER)
    page = browser_page
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, manager)
    page.goto(f"/leads/{lead.id}")

    timeline = page.locator("#lead-timeline")
    timeline.locator("summary", has_text="Log a call").click()
    form = timeline.locator(".activity-form-call form")
    form.get_by_label("Duration (minutes)").fill("4")
    form.get_by_role("button", name="Log a call").click()
    expect(timeline.locator(".activity-form-call .field-error")).to_have_text("Choose the call's outcome.")

    form = timeline.locator(".activity-form-call form")
    form.get_by_label("Outcome").select_option("connected")
    form.get_by_label("Note").fill("Wants a demo next week")
    form.get_by_role("button", name="Log a call").click()
    first = timeline.locator("li.event").first
    expect(first).to_contain_text("Wants a demo next week")
    expect(first).to_contain_text("Connected · 4 min")
    screenshot(page, "activities-call-390")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    box = first.get_by_role("button", name="Delete").bounding_box()
    assert box["x"] + box["width"] <= 390

    timeline.get_by_role("link", name="Calls").click()
    expect(page.locator("#lead-timeline li.event")).to_have_count(1)
    expect(page).to_have_url(f"{page.url.split('/leads/')[0]}/leads/{lead.id}?activity=calls")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert Activity.get().author_id == manager.id
    # The refused form's 422 is the browser's one console line; no script or CSP error.
    assert [error for error in page.js_errors if "422" not in error] == []


def test_w1_show_older_loads_the_next_entries_in_place_on_a_phone(sqlite_app, browser_page):
    """The timeline's newest 50, then Show older brings the rest into the list (htmx)."""
    lead = make_lead(stage=lifecycle.AUTOMATED_QUALIFICATION)
    manager = make_user(MANAGER)
    now = utcnow()
    Activity.insert_many(
        [{"lead": lead.id, "kind": "note", "author": manager.id, "body": f"Note {n}",
          "created_at": now - dt.timedelta(minutes=n + 1)} for n in range(60)]
    ).execute()  # fmt: skip
    page = browser_page
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, manager)
    page.goto(f"/leads/{lead.id}")

    notes = page.locator("#lead-timeline li.entry-note")
    expect(notes).to_have_count(50)
    page.locator("#lead-timeline li.timeline-more").get_by_role("link", name="Show older").click()
    expect(notes).to_have_count(60)
    expect(notes.last).to_contain_text("Note 59")
    expect(page.locator("#lead-timeline li.timeline-more")).to_have_count(0)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert page.js_errors == []
