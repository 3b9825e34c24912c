"""Routing in real headless Chromium: a manager adds a product-line rule, an
event makes a lead sales-ready, the rep sees the notification arrive without a
reload and accepts the lead; the rep cannot open the campaign launch page
(R1, R2, R3, R4, R6, G2)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from auth.admin import issue_token
from leads.core import lifecycle
from leads.notify.models import Notification
from leads.records.models import Campaign, Lead, LeadHistory
from leads.scoring import services as scoring_admin
from routing.models import Assignment, AssignmentRule, RepProductLine
from tests.conftest import burst_worker, screenshot
from tests.factories import ENGAGEMENT, make_contact, make_lead, make_product_line, make_user, sign_in

pytestmark = pytest.mark.browser

BADGE_POLL = 10_000  # ms: the header badge polls every 5 s
# The shared definition (email clicks: 10 points each) with a threshold one click reaches.
SALES_READY_ON_CLICK = {**ENGAGEMENT, "sales_ready_threshold": 10}


def choose_and_wait_for_the_row(page, label: str, option: str) -> None:
    """Choose ``option`` in a condition row's select, then wait until htmx has
    swapped in the re-rendered row (the old one, marked here, is gone)."""
    row = page.locator("tr.condition-row", has=page.get_by_label(label))
    row.evaluate("row => row.setAttribute('data-stale', '')")
    page.get_by_label(label).select_option(label=option)
    expect(page.locator("tr.condition-row[data-stale]")).to_have_count(0)
    # htmx wires the new row's own hx-* attributes while it settles: wait for that,
    # or a change made right away would fire before anything listens to it.
    expect(page.locator("tr.condition-row.htmx-added, tr.condition-row.htmx-settling")).to_have_count(0)


def test_r1_r2_r3_r4_r6_g2_a_product_line_rule_routes_a_sales_ready_lead_to_a_notified_rep_who_accepts_it(
    sqlite_app, browser_page, other_browser
):
    """R4/R3: a manager adds a product-line rule (round robin among the line's
    reps) and gives a rep that product line, both in the UI; R1: an email click
    posted through the API makes the lead sales-ready, the scoring job's hook
    routes it to that rep, the trace is on the timeline; R2: the rep's open page
    shows the unread count without a reload; R6: the rep accepts it from their
    queue; G2: the rep is refused the campaign launch page (403)."""
    run_jobs = burst_worker(sqlite_app)
    manager = make_user("manager", name="Max Manager")
    marketer = make_user("marketer", name="Mia Marketer")
    rep = make_user("rep", name="Rita Rep")
    other_rep = make_user("rep", name="Oscar Other")
    line = make_product_line(name="Analytics")
    other_line = make_product_line(name="Hardware")
    RepProductLine.create(rep=other_rep, product_line=other_line)  # sells another line: not in the pool
    contact = make_contact(first_name="Ada", last_name="Byron")
    lead = make_lead(
        contact=contact, product_line=line, first_name="Ada", last_name="Byron", company="Analytical"
    )
    campaign = Campaign.create(name="Spring launch", product_line=line)
    with sqlite_app.app_context():
        model = scoring_admin.save_model(None, "Engagement", "", SALES_READY_ON_CLICK, marketer)
        scoring_admin.set_model_status(model, "live", marketer)
    run_jobs()  # publishing scores every open lead: 0, not sales-ready yet
    assert Lead.get_by_id(lead.id).sales_ready is False

    # R4: the manager adds the product-line rule through the rules page.
    page = browser_page
    sign_in(page, manager)
    page.get_by_role("link", name="Routing", exact=True).click()
    page.wait_for_url("**/routing/rules")
    expect(page.locator(".rules-table")).to_contain_text("No rules yet")
    page.get_by_role("link", name="Add a rule").click()
    page.wait_for_url("**/routing/rules/new")
    page.get_by_label("Name").fill("Analytics leads")
    # Each select change re-renders the row (htmx) so the value input fits the
    # field: for the product line, a select of names that posts the line's id.
    choose_and_wait_for_the_row(page, "Field of condition 1", "Lead product line")
    choose_and_wait_for_the_row(page, "Operator of condition 1", "equals")
    expect(page.get_by_label("Field of condition 1")).to_have_value("lead.product_line_id")
    page.locator("select#conditions-0-value").select_option(label="Analytics")
    page.get_by_label("Strategy").select_option(label="Round robin")
    page.get_by_label("Pool").select_option(label="Reps of the lead's product line")
    screenshot(page, "routing-1-manager-rule-form")
    page.get_by_role("button", name="Save rule").click()
    page.wait_for_url("**/routing/rules")
    expect(page.locator(".flash")).to_contain_text("Rule “Analytics leads” saved.")
    rule = AssignmentRule.get(AssignmentRule.name == "Analytics leads")
    row = page.locator(f"#rule-{rule.id}")
    expect(row).to_contain_text("Round robin")
    expect(row).to_contain_text("reps of the lead's product line")
    expect(row).to_contain_text("Lead product line equals Analytics")  # the name, not the id
    expect(row.locator(".badge")).to_have_text("On")
    screenshot(page, "routing-2-manager-rules")
    assert rule.definition["strategy"] == "round_robin" and rule.definition["pool"] == "product_line"

    # R3: the manager gives Rita the product line on her rep profile.
    page.locator(".routing-tabs").get_by_role("link", name="Reps").click()
    page.wait_for_url("**/routing/reps")
    page.locator(f"#rep-{rep.id}").get_by_role("link", name="Edit").click()
    page.wait_for_url(f"**/routing/reps/{rep.id}")
    page.get_by_label("Analytics").check()
    page.get_by_role("button", name="Save").click()
    page.wait_for_url("**/routing/reps")
    expect(page.locator(".flash")).to_contain_text("Rita Rep's profile saved.")
    expect(page.locator(f"#rep-{rep.id}")).to_contain_text("Analytics")
    screenshot(page, "routing-3-manager-reps")
    assert page.js_errors == []

    # The rep's page is open before anything happens: no unread count yet.
    rep_page = other_browser()
    sign_in(rep_page, rep)
    rep_page.get_by_role("link", name="My queue", exact=True).click()
    rep_page.wait_for_url("**/queues/mine")
    expect(rep_page.locator("main")).to_contain_text("Nothing waiting here.")
    expect(rep_page.locator("#notify-badge .notify-count")).to_have_count(0)

    # R1: an email click through the API makes the lead sales-ready; scoring, then routing.
    token = issue_token(make_user("integration"), "site")
    answer = sqlite_app.test_client().post(
        "/api/v1/interactions",
        json={"type": "email_clicked", "external_id": "click-1", "contact_id": contact.id},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 201, answer.get_json()
    run_jobs()  # scores the lead (sales-ready), whose hook enqueues the routing job
    run_jobs()  # routing (already done in the same burst: a second run changes nothing)
    routed = Lead.get_by_id(lead.id)
    assert (routed.owner_id, routed.sales_ready, routed.sales_accepted) == (rep.id, True, False)

    # R2: the badge on the rep's open page shows the unread count, no reload.
    badge = rep_page.locator("#notify-badge .notify-count")
    expect(badge).to_have_text("1", timeout=BADGE_POLL)
    expect(rep_page.locator("main")).to_contain_text("Nothing waiting here.")  # the same page, not reloaded
    screenshot(rep_page, "routing-4-rep-badge")
    rep_page.locator("#notify-badge").click()
    rep_page.wait_for_url("**/notifications")
    note = Notification.get(Notification.user == rep.id)
    item = rep_page.locator(f"#notification-{note.id}")
    expect(item).to_have_class(re.compile(r"\bunread\b"))
    expect(item).to_contain_text("Lead assigned to you: Ada Byron (Analytical)")
    screenshot(rep_page, "routing-5-rep-notifications")

    # R6: the rep accepts the lead from their queue.
    rep_page.get_by_role("link", name="My queue", exact=True).click()
    rep_page.wait_for_url("**/queues/mine")
    row = rep_page.locator(f"#queue-row-{lead.id}")
    expect(row).to_contain_text("Ada Byron")
    expect(row).to_contain_text("Analytics")
    row.get_by_role("button", name="Accept", exact=True).click()
    expect(row).to_contain_text("Sales accepted.")
    expect(row.get_by_role("button", name="Convert to opportunity")).to_be_visible()
    screenshot(rep_page, "routing-6-rep-accepted")

    # R1: the decision and its trace are on the lead's timeline.
    row.get_by_role("link", name="Ada Byron").click()
    rep_page.wait_for_url(f"**/leads/{lead.id}")
    history = rep_page.locator("#lead-timeline")
    expect(history).to_contain_text("Routing: assigned to Rita Rep")
    expect(history).to_contain_text("Rule 1 'Analytics leads' matched")
    expect(history).to_contain_text("Sales accepted")
    screenshot(rep_page, "routing-7-rep-lead-timeline")
    assert rep_page.js_errors == []

    # G2: a rep typing the launch page's address gets the 403 page.
    response = rep_page.goto(f"/marketing/campaigns/{campaign.id}/launch")
    assert response.status == 403
    expect(rep_page.locator("#error")).to_contain_text("403")
    expect(rep_page.locator("main")).not_to_contain_text("Spring launch")
    screenshot(rep_page, "routing-8-rep-launch-403")
    assert [e for e in rep_page.js_errors if "status of 403" not in e] == []  # only the expected failed load

    fresh = Lead.get_by_id(lead.id)
    assert (fresh.owner_id, fresh.stage, fresh.status, fresh.sales_ready, fresh.sales_accepted) == (
        rep.id,
        lifecycle.SALES_ACCEPTANCE,
        lifecycle.OPEN,
        True,
        True,
    )
    assignments = list(Assignment.select().where(Assignment.lead == lead.id))
    assert len(assignments) == 1
    (live,) = assignments
    assert (live.rep_id, live.rule_id, live.reason, live.assigned_by_id, live.ended_at) == (
        rep.id,
        rule.id,
        "assigned",
        None,
        None,
    )
    assert live.accepted_at is not None
    trace = LeadHistory.get((LeadHistory.lead == lead.id) & (LeadHistory.kind == "routing"))
    assert trace.new_value == "assigned to Rita Rep" and trace.actor_id is None
    assert (
        trace.note.splitlines()[0]
        == f"Rule 1 'Analytics leads' matched: Lead product line id equals '{line.id}'"
    )
    assert f"round robin in product line {line.id} → Rita Rep, 0/20 open" in trace.note
    assert "Oscar Other" not in trace.note  # he sells another line: never in this pool
    accepted = LeadHistory.get((LeadHistory.lead == lead.id) & (LeadHistory.kind == "sales_accepted"))
    assert accepted.actor_id == rep.id
    assert Campaign.get_by_id(campaign.id).status == "draft"  # nothing launched
