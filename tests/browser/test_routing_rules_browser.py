"""The rules page cannot be wrong silently, in real headless Chromium (R4, R1):
a manager adds a rule that an earlier "every lead" rule makes unreachable,
sees the warning, moves it above in one click, and tests the rule set on a
lead found by name; the trace names the product line and the rep."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from routing import manage
from routing.models import AssignmentRule
from tests.browser.test_routing_browser import choose_and_wait_for_the_row
from tests.conftest import screenshot
from tests.factories import make_lead, make_product_line, make_user, sign_in

pytestmark = pytest.mark.browser


def test_r4_r1_a_manager_sees_a_shadowed_rule_moves_it_up_and_tests_it_on_a_lead_found_by_name(
    sqlite_app, browser_page
):
    """R4: an earlier rule for every lead makes the new product-line rule
    unreachable: the page says "shadowed by rule 1: every lead"; "Move above
    rule 1" fixes it in one click. R1: the rule-set test finds the lead by name
    and its trace names the product line and the rep."""
    manager = make_user("manager", name="Max Manager")
    rep = make_user("rep", name="Rita Rep")
    line = make_product_line(name="Analytics")
    manage.save_profile(rep, 20, None, None, [line.id])
    manage.save_rule({"name": "Everyone else", "strategy": "unassigned"}, None)
    make_lead(first_name="Chloé", last_name="Martin", email="chloe@example.test", product_line=line, stage=5)

    page = browser_page
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, manager)
    page.goto("/routing/rules/new")
    page.get_by_label("Name").fill("Analytics leads")
    choose_and_wait_for_the_row(page, "Field of condition 1", "Lead product line")
    choose_and_wait_for_the_row(page, "Operator of condition 1", "equals")
    page.locator("select#conditions-0-value").select_option(label="Analytics")
    page.get_by_label("Strategy").select_option(label="Round robin")
    page.get_by_label("Pool").select_option(label="Reps of the lead's product line")
    page.get_by_role("button", name="Save rule").click()
    page.wait_for_url("**/routing/rules")

    rule = AssignmentRule.get(AssignmentRule.name == "Analytics leads")
    row = page.locator(f"#rule-{rule.id}")
    expect(row.locator(".shadow-warning")).to_contain_text("shadowed by rule 1: every lead")
    screenshot(page, "routing-rules-1-shadowed")

    row.get_by_role("button", name="Move above rule 1").click()
    page.wait_for_url("**/routing/rules")
    expect(page.locator(".shadow-warning")).to_have_count(0)
    first = page.locator(".rules-table tbody tr").first
    expect(first).to_contain_text("Analytics leads")
    screenshot(page, "routing-rules-2-moved-up")

    page.get_by_label("Lead: name, email or id").fill("Chloé Martin")
    page.get_by_role("button", name="Show the decision").click()
    expect(page.locator("#rule-test")).to_contain_text("Chloé Martin")
    trace = page.locator("#rule-test .trace")
    expect(trace).to_contain_text("Rule 1 'Analytics leads' matched: Lead product line equals Analytics")
    expect(trace).to_contain_text("product line Analytics → Rita Rep")
    expect(page.locator("#rule-test .badge.ok")).to_have_text("Rita Rep")
    screenshot(page, "routing-rules-3-tested-by-name")
    assert page.js_errors == []
