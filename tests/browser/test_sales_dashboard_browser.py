"""A sales manager opens the sales dashboard in real headless Chromium (D1):
the date range and the team filter swap the figures in place with a real
address (htmx, pushed URL), the back button restores them, every chart is an
SVG with its title, and nothing overflows at 390 px."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from auth.models import MANAGER
from reports.sales import rollup
from tests.conftest import screenshot
from tests.factories import htmx_settled, make_user, sign_in
from tests.reports.history import at, build_history

pytestmark = pytest.mark.browser


def test_d1_a_manager_changes_the_range_and_the_team_and_the_figures_follow(sqlite_app, browser_page):
    made = build_history()
    rollup.refresh(now=at(24 * 8))
    manager = make_user(MANAGER, name="Mona Manager")

    page = browser_page
    sign_in(page, manager)
    page.get_by_role("link", name="Dashboards", exact=True).click()
    page.wait_for_url("**/dashboards/sales")
    expect(page.locator("h1")).to_have_text("Sales dashboard")
    funnel = page.locator("#funnel-table tbody tr")
    expect(funnel.first.locator("td").nth(1)).to_have_text("0")  # the last 90 days: nothing yet

    page.fill("#from", "2026-01-05")
    expect(page).to_have_url(re.compile(r"from=2026-01-05"))
    htmx_settled(page)
    page.fill("#to", "2026-01-11")
    expect(page).to_have_url(re.compile(r"from=2026-01-05&to=2026-01-11"))
    htmx_settled(page)
    expect(funnel.first.locator("td").nth(1)).to_have_text("4")
    expect(page.locator("#sales-range")).to_contain_text("05 Jan 2026 – 11 Jan 2026")
    expect(page.locator("#time-table tbody tr").first).to_contain_text("3.0 h")
    expect(page.locator("#stuck-leads")).to_contain_text(made["c"].name)
    for chart in ("funnel-chart", "time-chart", "sla-chart", "load-chart"):
        expect(page.locator(f"#{chart} svg title").first).not_to_be_empty()
    expect(page.locator("#sla-table tbody tr").first).to_contain_text("1")
    screenshot(page, "sales-dashboard-week")

    page.select_option("#team", label="North")
    expect(page).to_have_url(re.compile(rf"team={made['north'].id}"))
    htmx_settled(page)
    expect(funnel.first.locator("td").nth(1)).to_have_text("1")
    expect(page.locator("#speed-reps-table")).to_contain_text("Rita Rep")
    expect(page.locator("#speed-reps-table")).not_to_contain_text("Sam Rep")
    screenshot(page, "sales-dashboard-north")

    page.go_back()
    expect(page).not_to_have_url(re.compile(r"team=\d"))
    expect(funnel.first.locator("td").nth(1)).to_have_text("4")

    page.locator("#stuck-leads a", has_text=made["c"].name).click()
    page.wait_for_url(f"**/leads/{made['c'].id}")
    page.go_back()

    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/dashboards/sales?from=2026-01-05&to=2026-01-11")
    expect(funnel.first.locator("td").nth(1)).to_have_text("4")
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the page is {overflow}px wider than a phone"
    screenshot(page, "sales-dashboard-390")
    assert page.js_errors == []
