"""The marketers' dashboard in real headless Chromium (D2): a marketer opens it
from the menu, widens the date range and picks a campaign and a breakdown; each
change swaps the dashboard in place and keeps the URL; it fits 390 px."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from playwright.sync_api import expect

from leads.base.db import utcnow
from leads.core import lifecycle
from leads.records.models import Campaign, LeadHistory
from reports.marketing import rollup
from tests.conftest import screenshot
from tests.factories import htmx_settled, make_lead, make_product_line, make_user, sign_in

pytestmark = pytest.mark.browser


def _history():
    """Three web-form leads five days ago (one from the webinar, two marketing
    qualified four days ago) and an import 120 days ago."""
    now = utcnow()
    line = make_product_line(name="Analytics")
    webinar = Campaign.create(name="Autumn webinar", product_line=line, status="launched")
    recent = now - dt.timedelta(days=5)
    leads = [
        make_lead(source="web form", campaign=webinar, product_line=line, created_at=recent),
        make_lead(source="web form", created_at=recent),
        make_lead(source="web form", created_at=recent),
    ]
    for lead in leads[:2]:
        LeadHistory.create(
            lead=lead,
            kind="status_reason",
            new_value=lifecycle.REASON_MARKETING_QUALIFIED,
            created_at=now - dt.timedelta(days=4),
        )
    make_lead(source="import", created_at=now - dt.timedelta(days=120))
    rollup.refresh()  # what the sweeper keeps up to date
    return webinar


def test_d2_a_marketer_changes_the_range_and_the_filters_of_the_dashboard(browser_page):
    """D2: the default 90 days show 3 leads; from 150 days back, 4; the webinar
    alone, 1; broken down by campaign, the table names it; every change is an
    htmx swap whose URL a reload keeps."""
    webinar = _history()
    marketer = make_user("marketer", name="Mia Marketer")
    page = browser_page
    sign_in(page, marketer)
    page.get_by_role("link", name="Marketing dashboard").click()
    page.wait_for_url("**/dashboards/marketing")
    expect(page.locator("#total-leads")).to_have_text("3")
    expect(page.locator("#total-mql")).to_have_text("2")
    expect(page.locator("#marketing-dashboard svg title").first).to_contain_text("per week")
    screenshot(page, "marketing-dashboard")

    start = (utcnow().date() - dt.timedelta(days=150)).isoformat()
    page.fill("input[name=from]", start)
    page.locator("input[name=from]").dispatch_event("change")
    expect(page.locator("#total-leads")).to_have_text("4")
    expect(page).to_have_url(re.compile(f"from={start}"))
    htmx_settled(page)
    expect(page.locator("#dash-groups")).to_contain_text("import")

    page.select_option("select[name=campaign]", str(webinar.id))
    expect(page.locator("#total-leads")).to_have_text("1")
    expect(page).to_have_url(re.compile(f"campaign={webinar.id}"))  # the swap has settled
    htmx_settled(page)
    page.select_option("select[name=by]", "campaign")
    expect(page.locator("#dash-groups")).to_contain_text("Autumn webinar")
    expect(page.locator("#dash-groups")).not_to_contain_text("import")
    screenshot(page, "marketing-dashboard-filtered")

    page.reload()  # the URL holds the whole state
    expect(page.locator("#total-leads")).to_have_text("1")
    expect(page.locator("select[name=by]")).to_have_value("campaign")
    assert page.locator("#dash-csv").get_attribute("href").count(f"campaign={webinar.id}") == 1

    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "marketing-dashboard-390")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
