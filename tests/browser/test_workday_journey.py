"""A working day in real headless Chromium, on a phone and on a desk (W1, W2,
W3, W4, P4–P6, R1, R2, R6): a teleprospector takes "Next lead", logs a call,
records the findings and marks the lead sales ready, then goes on to the next
lead; the rule routes it to a rep, who sees the findings and the call in their
queue row, accepts it, adds a task for tomorrow, edits the lead's phone inline
and converts it. Every page of the journey is screenshot at 1440×900 and
390×844 (test-artifacts/) and, at 390 px, is no wider than the screen; the
header folds into a menu; a skip link leads to the content; sign-in and each
inline form put the focus on their first field."""

from __future__ import annotations

import datetime as dt

import pytest
from playwright.sync_api import expect

from leads.activities.models import Activity
from leads.core import lifecycle
from leads.records.models import Lead
from routing import manage
from tests.conftest import burst_worker, screenshot
from tests.factories import PASSWORD, make_lead, make_product_line, make_user

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
DESK = {"width": 1440, "height": 900}


def fits(page, name: str) -> None:
    """At 390 px the page is no wider than the screen; screenshots at both sizes."""
    page.set_viewport_size(PHONE)
    width = page.evaluate("document.documentElement.scrollWidth")
    screenshot(page, f"workday-{name}-390")
    page.set_viewport_size(DESK)
    screenshot(page, f"workday-{name}-1440")
    page.set_viewport_size(PHONE)
    assert width <= 390, f"{name}: {width} px wide at 390"


def focused(page) -> str:
    """The focused element's name, or its text for a link or button."""
    return page.evaluate(
        "(() => { const e = document.activeElement; return e.getAttribute('name') || e.textContent.trim(); })()"
    )


def sign_in_by_keyboard(page, user) -> None:
    """Sign in: the focus starts on the email; typing and Enter sign in."""
    page.goto("/login")
    assert focused(page) == "email"
    page.keyboard.type(user.email)
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url("**/leads**")


def open_menu_and_go(page, link: str) -> None:
    """On a phone the navigation is behind the Menu button."""
    menu = page.get_by_role("button", name="Menu")
    expect(menu).to_be_visible()
    expect(page.locator("nav.mainnav")).to_be_hidden()
    menu.click()
    expect(menu).to_have_attribute("aria-expanded", "true")
    page.locator("nav.mainnav").get_by_role("link", name=link, exact=True).click()


def test_w1_w3_w4_r6_a_teleprospector_hands_a_lead_to_a_rep_who_converts_it_on_a_phone(
    sqlite_app, browser_page, other_browser
):
    run_jobs = burst_worker(sqlite_app)
    line = make_product_line(name="Analytics")
    tp = make_user("teleprospector", name="Tess Teleprospector")
    rep = make_user("rep", name="Rita Rep")
    manage.save_profile(rep, 20, None, None, [line.id])
    manage.save_rule(
        {"name": "Analytics leads", "strategy": "round_robin", "conditions": {
            "entity": "lead", "field": "product_line_id", "operator": "equals", "value": line.id}},
        None,
    )  # fmt: skip
    start = dt.datetime(2026, 1, 5, 9, 0)
    ada, sam = (
        make_lead(
            stage=lifecycle.TP_ACCEPTANCE,
            ready_for_tp=True,
            product_line=line,
            first_name=first,
            last_name=last,
            company="Analytical Engines International Holdings",
            email=f"{first.lower()}.{last.lower()}@a-very-long-company-domain-name.example",
            topic="Pricing for fifty seats and a migration from spreadsheets",
            created_at=start + dt.timedelta(minutes=n),
        )
        for n, (first, last) in enumerate((("Ada", "Byron"), ("Sam", "Second")))
    )

    # The teleprospector, on a phone: skip link first, then the queue behind the menu.
    page = browser_page
    page.set_viewport_size(PHONE)
    sign_in_by_keyboard(page, tp)
    page.keyboard.press("Tab")
    assert focused(page) == "Skip to content"
    expect(page.locator(".skip-link")).to_be_in_viewport()
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    open_menu_and_go(page, "Teleprospecting")
    page.wait_for_url("**/queues/teleprospecting")
    expect(page.locator(f"#queue-row-{ada.id}")).to_be_visible()
    fits(page, "1-tp-queue")

    page.get_by_role("button", name="Next lead").click()
    page.wait_for_url(f"**/leads/{ada.id}")
    fits(page, "2-tp-lead")

    # W1: log the call; the form opens with the focus on its first field.
    timeline = page.locator("#lead-timeline")
    timeline.locator("summary", has_text="Log a call").click()
    expect(timeline.locator(".activity-form-call select[name='call-outcome']")).to_be_focused()
    form = timeline.locator(".activity-form-call form")
    form.get_by_label("Outcome").select_option("connected")
    form.get_by_label("Duration (minutes)").fill("12")
    form.get_by_label("Note").fill("Budget approved; wants a demo with the CFO")
    fits(page, "3-tp-call-form")
    form.get_by_role("button", name="Log a call").click()
    expect(timeline.locator("li.event").first).to_contain_text("Connected · 12 min")

    # P5: the findings, then Sales ready; the lead leaves the teleprospector's view.
    panel = page.locator("#stage-panel")
    panel.get_by_label("Budget").select_option("50k–250k")
    panel.get_by_label("Authority").select_option("Decision maker")
    panel.get_by_label("Need").fill("Replace three spreadsheets")
    panel.get_by_label("Timeframe").select_option("This quarter")
    fits(page, "4-tp-findings")
    panel.get_by_role("button", name="Sales ready", exact=True).click()
    expect(page.locator("#lead-body")).to_contain_text("has left your view")
    fits(page, "5-tp-handed-on")
    run_jobs()  # R1: the rule routes it
    assert Lead.get_by_id(ada.id).owner_id == rep.id

    # W4: on to the next lead.
    page.locator("#lead-body").get_by_role("button", name="Next lead").click()
    page.wait_for_url(f"**/leads/{sam.id}")
    assert Lead.get_by_id(sam.id).teleprospector_id == tp.id

    # The rep, on a phone: the notification names the lead and the rule.
    rep_page = other_browser()
    rep_page.set_viewport_size(PHONE)
    sign_in_by_keyboard(rep_page, rep)
    rep_page.goto("/notifications")
    group = rep_page.locator(".notification-group").first
    expect(group).to_contain_text("Ada Byron")
    expect(group).to_contain_text("Analytics")
    expect(group).to_contain_text("by the rule “Analytics leads”")
    mark = group.get_by_role("button", name="Mark read")
    colours = mark.evaluate("b => { const s = getComputedStyle(b); return [s.color, s.backgroundColor]; }")
    assert colours == ["rgb(36, 81, 199)", "rgb(255, 255, 255)"]  # 6.9:1 (tests/notify computes it)
    fits(rep_page, "6-rep-notifications")

    # W3: the queue row has the findings and the call.
    open_menu_and_go(rep_page, "My queue")
    rep_page.wait_for_url("**/queues/mine")
    row = rep_page.locator(f"#queue-row-{ada.id}")
    expect(row.locator(".row-call")).to_contain_text("Connected · 12 min")
    expect(row.locator(".row-call")).to_contain_text("Budget approved; wants a demo with the CFO")
    expect(row.locator(".row-call")).to_contain_text("by Tess Teleprospector")
    row.locator("summary", has_text="Findings by Tess Teleprospector").click()
    expect(row.locator(".handoff-findings")).to_contain_text("Replace three spreadsheets")
    fits(rep_page, "7-rep-queue")
    row.get_by_role("button", name="Accept", exact=True).click()
    expect(row).to_contain_text("Sales accepted.")

    # On the lead page: a task for tomorrow, the phone edited inline, then Convert.
    row.get_by_role("link", name="Ada Byron").click()
    rep_page.wait_for_url(f"**/leads/{ada.id}")
    timeline = rep_page.locator("#lead-timeline")
    timeline.locator("summary", has_text="Add a task").click()
    expect(timeline.locator(".activity-form-task input[name='task-title']")).to_be_focused()
    task = timeline.locator(".activity-form-task form")
    task.get_by_label("Task").fill("Send the demo invitation")
    tomorrow = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).replace(hour=10, minute=0)
    task.get_by_label("Due (UTC)").fill(tomorrow.strftime("%Y-%m-%dT%H:%M"))
    task.get_by_label("Assignee").select_option(label="Rita Rep")
    fits(rep_page, "8-rep-task-form")
    task.get_by_role("button", name="Add a task").click()
    expect(timeline.locator("li.event").first).to_contain_text("Send the demo invitation")
    added = Activity.get(Activity.kind == "task")
    assert added.due_at.date() == tomorrow.date() and added.assignee_id == rep.id

    rep_page.locator("#lead-summary").get_by_role("link", name="Edit").click()
    edit = rep_page.locator("#lead-edit-form")
    expect(edit.locator("input[name='first_name']")).to_be_focused()
    expect(edit.locator("input[name='topic']")).to_have_count(0)  # a rep: person fields only
    edit.get_by_label("Phone").fill("+44 20 7946 0001")
    fits(rep_page, "9-rep-edit-form")
    edit.get_by_role("button", name="Save").click()
    expect(rep_page.locator("#lead-message")).to_contain_text("Lead saved.")
    expect(rep_page.locator("#lead-summary")).to_contain_text("+44 20 7946 0001")
    expect(rep_page.locator("#timeline-entries")).to_contain_text("Phone: — → +44 20 7946 0001")

    rep_page.locator("#stage-panel").get_by_role("button", name="Convert to opportunity").click()
    expect(rep_page.locator("#lead-message")).to_contain_text("Converted to an opportunity.")
    fits(rep_page, "10-rep-converted")
    assert Lead.get_by_id(ada.id).status == lifecycle.QUALIFIED
    assert page.js_errors == [] and rep_page.js_errors == []
