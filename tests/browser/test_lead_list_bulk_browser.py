"""The lead list's bulk actions and saved views in real headless Chromium
(SPEC W5, P6, G1): a manager filters the list, selects all the leads that
match (more than one page), assigns them to a rep in bulk while a progress bar
follows the job (a real RQ worker in a background thread), then saves the view
and shares it with a team, whose member finds it in the navigation. At 1280 px
with many columns no header cell wraps inside a word; and at 390 px the page
does not overflow."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from leads.core import lifecycle
from leads.lists import bulk
from leads.lists.models import SavedView
from leads.records.models import Lead
from leads.scoring.models import LeadScore, ScoringModel
from tests.browser.test_import_browser import worker  # noqa: F401  (the fixture)
from tests.conftest import new_browser_page, screenshot
from tests.factories import make_lead, make_product_line, make_team, make_user, sign_in

pytestmark = pytest.mark.browser

# Each header cell is at least as wide as the widest word of its text (measured
# with its own font): a header squeezed below that would wrap letter by letter.
HEADERS_FIT = """() => Array.from(document.querySelectorAll('.lead-list th')).map((th) => {
  const style = getComputedStyle(th);
  const ctx = document.createElement('canvas').getContext('2d');
  ctx.font = `${style.fontWeight} ${style.fontSize} ${style.fontFamily}`;
  const words = th.innerText.split(/\\s+/).filter(Boolean);
  const widest = Math.max(0, ...words.map((word) => ctx.measureText(word).width));
  const inner = th.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
  return {text: th.innerText, widest, inner, fits: inner + 1 >= widest};
})"""


def test_w5_a_manager_selects_all_matching_assigns_in_bulk_and_shares_the_view(
    browser_page,
    worker,  # noqa: F811  (the fixture imported above)
    live_server,
    chromium,
    monkeypatch,  # noqa: F811
):
    monkeypatch.setattr(bulk, "JOB_THRESHOLD", 10)  # a job and its progress bar, with few leads
    monkeypatch.setattr(bulk, "BATCH_SIZE", 4)
    north = make_team(name="North")
    manager = make_user("manager", team=north, name="Mia Manager")
    rep = make_user("rep", team=north, name="Rex Rep")
    line = make_product_line(name="Analytics")
    fit = ScoringModel.create(name="Fit", status="live", definition={})
    waiting = []
    for n in range(14):
        lead = make_lead(
            stage=lifecycle.SALES_ACCEPTANCE,
            sales_ready=True,
            product_line=line,
            team=north,
            source="webinar",
        )
        LeadScore.create(lead=lead, model=fit, score=n * 5, grade="A" if n > 9 else "B")
        waiting.append(lead)
    others = [make_lead(stage=lifecycle.INQUIRY) for _ in range(3)]

    page = browser_page
    page.set_viewport_size({"width": 1280, "height": 900})
    sign_in(page, manager)
    page.select_option("#lead-stage", "5")
    page.wait_for_url("**/leads?stage=5**")
    page.select_option("#lead-owner", "none")
    page.wait_for_url("**owner=none**")
    page.goto(page.url + "&per_page=5")
    expect(page.locator("tr .row-select")).to_have_count(5)

    # The page's box ticks the page; "all matching" reaches the other pages.
    page.check("#select-page")
    expect(page.locator("#bulk-count")).to_have_text("5 selected")
    page.check("#select-all-matching")
    expect(page.locator("label.bulk-all")).to_contain_text("Select all 14 matching")
    page.select_option("#bulk-owner", str(rep.id))
    page.click("button[value=assign]")
    expect(page.locator("#bulk-result progress")).to_be_visible()
    screenshot(page, "lead-list-bulk-progress")
    expect(page.locator("#bulk-result [data-count=done]")).to_have_text("14", timeout=30_000)
    expect(page.locator("#bulk-result [data-count=refused]")).to_have_text("0")
    # The table follows: no unassigned sales-ready lead is left.
    expect(page.locator("#lead-table")).to_contain_text("No leads match")
    assert {Lead.get_by_id(lead.id).owner_id for lead in waiting} == {rep.id}
    assert {Lead.get_by_id(lead.id).owner_id for lead in others} == {None}

    # Columns: choose many, and save and share the view.
    page.goto("/leads?stage=5&per_page=5")
    page.click(".column-chooser summary")
    for key in (
        "team",
        "source",
        "campaign",
        f"score_{fit.id}",
        f"grade_{fit.id}",
        "last_activity",
        "accept_by",
    ):
        page.check(f"input[name=columns][value={key}]")
        page.wait_for_url(f"**columns={key}**")  # one swap at a time: a new one would abort the last
    expect(page.locator(".lead-list th", has_text="Grade · Fit")).to_be_visible()
    page.click("details.save-view summary")
    page.fill("#view_name", "North sales-ready")
    page.select_option("#share_with", str(north.id))
    page.click("#save-view-form button[type=submit]")
    expect(page.locator(".flash")).to_contain_text("shared with North")
    expect(page.locator("#nav-views")).to_contain_text("North sales-ready")
    view = SavedView.get()
    assert view.team_id == north.id and "accept_by" in view.columns and view.filters["stage"] == "5"

    sizes = page.evaluate(HEADERS_FIT)
    assert len(sizes) >= 12 and [s for s in sizes if not s["fits"]] == []
    screenshot(page, "lead-list-columns-1280")
    assert page.js_errors == [], page.js_errors

    # A member of the team finds the shared view in the navigation; it opens the same list.
    member = new_browser_page(chromium, live_server)
    sign_in(member, rep)
    member.locator("#nav-views a", has_text="North sales-ready").click()
    member.wait_for_url("**stage=5**")
    expect(member.locator(".lead-list th", has_text="Accept by")).to_be_visible()
    expect(member.locator("tr .row-select")).to_have_count(5)
    member.set_viewport_size({"width": 390, "height": 844})
    overflow = member.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 1
    screenshot(member, "lead-list-shared-view-390")
    member.context.close()
