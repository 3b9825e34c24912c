"""The lead's whole journey in real headless Chromium (P2–P6, P8, G1)."""

import re

import pytest
from playwright.sync_api import expect

from leads.core import lifecycle
from leads.records.models import Lead, LeadHistory
from leads.stages.services import perform
from tests.conftest import screenshot
from tests.factories import make_lead, make_user, sign_in

pytestmark = pytest.mark.browser


def test_sign_in_and_out_in_the_browser(browser_page):
    """G1: a user signs in through the real form (CSRF and cookie included) and out again."""
    user = make_user("manager", name="Max Manager")
    sign_in(browser_page, user)
    assert "Max Manager" in browser_page.inner_text("header")
    screenshot(browser_page, "signed-in")
    browser_page.click("text=Sign out")
    browser_page.wait_for_url("**/login**")
    browser_page.goto("/leads")
    assert "/login" in browser_page.url
    assert browser_page.js_errors == []


def test_p4_p5_p6_p7_g1_a_lead_goes_from_teleprospecting_to_an_opportunity(browser_page, other_browser):
    """P4/P5: a teleprospector accepts a stage-3 lead from their queue, fills the
    findings and marks it sales-ready; P6: a manager gives it to a rep from the
    unassigned queue; the rep accepts it in their queue and converts it on the lead
    page; P7: every step is in the history with who did it; G1: the rep gets a
    404 for another rep's lead."""
    marketer = make_user("marketer", name="Mia Marketer")
    tp = make_user("teleprospector", name="Tess Teleprospector")
    manager = make_user("manager", name="Max Manager")
    rep = make_user("rep", name="Rita Rep")
    other_rep = make_user("rep", name="Oscar Other")
    lead = make_lead(
        stage=lifecycle.AUTOMATED_QUALIFICATION, first_name="Ada", last_name="Byron", company="Analytical"
    )
    lead = perform(lead, "ready_for_tp", marketer)  # P2: stage 3, waiting for a teleprospector
    others_lead = make_lead(stage=lifecycle.SALES_ACCEPTANCE, sales_ready=True, owner=other_rep)

    # P4, P5: the teleprospector works the lead from their queue.
    page = browser_page
    sign_in(page, tp)
    page.get_by_role("link", name="Teleprospecting", exact=True).click()
    page.wait_for_url("**/queues/teleprospecting")
    row = page.locator(f"#queue-row-{lead.id}")
    expect(row).to_contain_text("Ada Byron")
    row.get_by_role("button", name="Accept", exact=True).click()
    expect(row).to_contain_text("Accepted for teleprospecting.")
    row.get_by_label("Budget").select_option("50k–250k")
    row.get_by_label("Authority").select_option("Decision maker")
    row.get_by_label("Need").fill("Replace three spreadsheets")
    row.get_by_label("Timeframe").select_option("This quarter")
    row.get_by_label("Notes").fill("Call back after the board meeting")
    screenshot(page, "journey-1-teleprospector-findings")
    row.get_by_role("button", name="Sales ready", exact=True).click()
    expect(row).to_contain_text("Findings saved. Marked sales-ready: handed to sales.")
    expect(row).to_have_class(re.compile(r"\bdone\b"))
    expect(row.get_by_role("link", name="Ada Byron")).to_have_count(0)  # no longer theirs to open
    screenshot(page, "journey-2-teleprospector-handed-on")

    # P6: a manager gives it to a rep by hand from the unassigned queue.
    manager_page = other_browser()
    sign_in(manager_page, manager)
    manager_page.get_by_role("link", name="Unassigned", exact=True).click()
    manager_page.wait_for_url("**/queues/unassigned")
    row = manager_page.locator(f"#queue-row-{lead.id}")
    expect(row).to_contain_text("Ada Byron")
    row.get_by_label("Sales rep").select_option(label="Rita Rep · 0/20")  # the picker says the load
    row.get_by_role("button", name="Assign", exact=True).click()
    expect(row).to_contain_text("Assigned to Rita Rep.")
    expect(row).to_have_class(re.compile(r"\bdone\b"))
    screenshot(manager_page, "journey-3-manager-assigned")

    # P6, P8: the rep accepts it in their queue, then converts it on the lead page.
    rep_page = other_browser()
    sign_in(rep_page, rep)
    rep_page.get_by_role("link", name="My queue", exact=True).click()
    rep_page.wait_for_url("**/queues/mine")
    expect(rep_page.locator(f"#queue-row-{others_lead.id}")).to_have_count(0)
    row = rep_page.locator(f"#queue-row-{lead.id}")
    row.get_by_role("button", name="Accept", exact=True).click()
    expect(row).to_contain_text("Sales accepted.")
    expect(row.get_by_role("button", name="Convert to opportunity")).to_be_visible()
    screenshot(rep_page, "journey-4-rep-accepted")
    row.get_by_role("link", name="Ada Byron").click()
    rep_page.wait_for_url(f"**/leads/{lead.id}")
    expect(rep_page.locator("#stage-bar [aria-current=step]")).to_contain_text("Sales acceptance")
    rep_page.locator("#stage-panel").get_by_role("button", name="Convert to opportunity").click()
    expect(rep_page.locator("#lead-message")).to_contain_text("Converted to an opportunity.")
    expect(rep_page.locator("#stage-bar [aria-current=step]")).to_contain_text("Converted")
    expect(rep_page.locator("#lead-summary")).to_contain_text("Qualified")
    history = rep_page.locator("#lead-timeline")
    for who in ("Rita Rep", "Max Manager", "Tess Teleprospector", "Mia Marketer"):
        expect(history).to_contain_text(who)
    screenshot(rep_page, "journey-5-rep-converted")

    # G1: another rep's lead is a 404, not a 403 or a page.
    assert page.js_errors == [] and manager_page.js_errors == [] and rep_page.js_errors == []
    response = rep_page.goto(f"/leads/{others_lead.id}")
    assert response.status == 404
    expect(rep_page.locator("#error")).to_contain_text("404")
    assert others_lead.name not in rep_page.content()
    screenshot(rep_page, "journey-6-rep-404")
    assert [e for e in rep_page.js_errors if "status of 404" not in e] == []  # only the expected failed load

    fresh = Lead.get_by_id(lead.id)
    assert (fresh.stage, fresh.status, fresh.status_reason) == (
        5,
        lifecycle.QUALIFIED,
        lifecycle.REASON_CONVERTED,
    )
    assert (fresh.owner_id, fresh.teleprospector_id, fresh.sales_ready, fresh.sales_accepted) == (
        rep.id,
        tp.id,
        True,
        True,
    )
    assert fresh.qualification == {
        "budget": "50k–250k",
        "authority": "Decision maker",
        "need": "Replace three spreadsheets",
        "timeframe": "This quarter",
        "notes": "Call back after the board meeting",
    }
    rows = list(LeadHistory.select().where(LeadHistory.lead == lead.id).order_by(LeadHistory.id))
    changes = [(r.kind, r.old_value, r.new_value, r.actor_id) for r in rows]
    assert [c for c in changes if c[0] == "stage"] == [
        ("stage", "2", "3", marketer.id),
        ("stage", "3", "4", tp.id),
        ("stage", "4", "5", tp.id),
    ]
    assert ("owner", None, str(rep.id), manager.id) in changes
    assert ("sales_accepted", "0", "1", rep.id) in changes
    assert ("status", lifecycle.OPEN, lifecycle.QUALIFIED, rep.id) in changes
    assert {r.kind for r in rows if r.actor_id == tp.id} >= {"stage", "qualification", "sales_ready"}
    assert all(r.created_at for r in rows)
    assert Lead.get_by_id(others_lead.id).owner_id == other_rep.id
