"""A rep's queue in real headless Chromium, 390 px wide (R6): each row shows its
countdown (red under an hour) and score; the Score sort swaps the list in place
and puts its address in the bar; Accept still swaps the row; nothing overflows."""

from __future__ import annotations

import datetime as dt

import pytest
from playwright.sync_api import expect

from leads.base.db import utcnow
from leads.core import lifecycle
from leads.scoring.models import LeadScore, ScoringModel
from routing.models import Assignment
from tests.conftest import screenshot
from tests.factories import make_lead, make_product_line, make_user, sign_in

pytestmark = pytest.mark.browser


def queued(rep, due_in, **lead):
    now = utcnow()
    lead = make_lead(stage=lifecycle.SALES_ACCEPTANCE, sales_ready=True, owner=rep, assigned_at=now, **lead)
    Assignment.create(lead=lead, rep=rep, decision={}, reason="assigned", created_at=now, due_at=now + due_in)
    return lead


def test_r6_a_rep_sorts_their_queue_and_accepts_on_a_phone(sqlite_app, browser_page):
    rep = make_user("rep")
    line = make_product_line(name="Analytics")
    model = ScoringModel.create(name="Fit", status="live")
    soon = queued(rep, dt.timedelta(minutes=45), product_line=line, phone="+44 20 7946 0000")
    best = queued(
        rep, dt.timedelta(hours=6), product_line=line, email="a.very.long.address.for.a.phone@example.test"
    )
    LeadScore.create(lead=soon, model=model, score=20, grade="B")
    LeadScore.create(lead=best, model=model, score=80, grade="A")
    page = browser_page
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, rep)
    page.goto("/queues/mine")

    rows = page.locator("#my-queue li.queue-row")
    expect(rows.first).to_have_id(f"queue-row-{soon.id}")  # the soonest deadline first
    expect(rows.first.locator(".countdown.urgent")).to_contain_text("min left")
    expect(page.locator(f"#queue-row-{best.id} .countdown")).not_to_have_class("countdown urgent")
    expect(page.locator(f"#queue-row-{best.id}")).to_contain_text("Score 80")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "rep-queue-390")

    page.locator(".queue-sorts").get_by_role("link", name="Score").click()
    expect(page).to_have_url(f"{page.url.split('/queues/')[0]}/queues/mine?sort=score")
    expect(rows.first).to_have_id(f"queue-row-{best.id}")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390

    row = page.locator(f"#queue-row-{best.id}")
    row.get_by_role("button", name="Accept", exact=True).click()
    expect(row).to_contain_text("Sales accepted.")
    expect(row.locator(".countdown")).to_have_count(0)
    assert page.js_errors == []
