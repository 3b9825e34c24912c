"""The teleprospectors' queue in real headless Chromium, 390 px wide (W4): the
search and the tabs swap the queue region in place and keep a real address;
Next lead opens the oldest unclaimed lead, claimed; once the teleprospector
disqualifies it on its page, Next lead is offered there and opens the next one.
Nothing runs off the screen and the console stays clean (CSP included)."""

from __future__ import annotations

import datetime as dt

import pytest
from playwright.sync_api import expect

from leads.core import lifecycle
from leads.records.models import Lead
from tests.conftest import screenshot
from tests.factories import make_lead, make_user, sign_in

pytestmark = pytest.mark.browser


def test_w4_a_teleprospector_works_the_queue_with_next_lead_on_a_phone(browser_page):
    tp = make_user("teleprospector", name="Tess Teleprospector")
    start = dt.datetime(2026, 1, 1, 9, 0)
    oldest, second = (
        make_lead(
            stage=lifecycle.TP_ACCEPTANCE,
            first_name=first,
            last_name="Waiting",
            created_at=start + dt.timedelta(minutes=n),
            phone="+44 20 7946 0000",
        )
        for n, first in enumerate(("Olive", "Sam"))
    )
    make_lead(
        stage=lifecycle.TP_ACCEPTANCE,
        first_name="Zed",
        company="Searchable Ltd",
        created_at=start + dt.timedelta(hours=1),
    )
    page = browser_page
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, tp)
    page.goto("/queues/teleprospecting")
    region = page.locator("#tp-queue")
    expect(region.locator(".queue-row")).to_have_count(3)
    expect(region.locator(f"#queue-row-{oldest.id} a[href^='tel:']")).to_have_attribute(
        "href", "tel:+442079460000"
    )
    assert page.evaluate("document.documentElement.scrollWidth") <= 390

    page.get_by_label("Search").fill("searchable")
    expect(region.locator(".queue-row")).to_have_count(1)
    expect(region).to_contain_text("Zed")
    page.wait_for_url("**/queues/teleprospecting?tab=unclaimed&q=searchable")
    page.get_by_role("link", name="Mine (stage 4)").click()
    expect(page.locator("#tp-queue")).to_contain_text(
        "No lead here matches this search."
    )  # the search follows the tab
    page.wait_for_url("**/queues/teleprospecting?tab=mine&q=searchable")
    screenshot(page, "tp-queue-390")

    page.get_by_role("button", name="Next lead").click()
    page.wait_for_url(f"**/leads/{oldest.id}")
    expect(page.locator("body")).to_contain_text("Olive Waiting is yours now")
    assert Lead.get_by_id(oldest.id).teleprospector_id == tp.id
    page.locator("summary", has_text="Disqualify").click()
    page.get_by_label("Reason").select_option("no_budget")
    page.get_by_role("button", name="Disqualify").click()
    expect(page.locator("#lead-body")).to_contain_text("has left your view")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "tp-queue-next-offered-390")
    page.locator("#lead-body").get_by_role("button", name="Next lead").click()
    page.wait_for_url(f"**/leads/{second.id}")
    assert Lead.get_by_id(second.id).teleprospector_id == tp.id
    assert page.js_errors == []
