"""Campaign governance in real headless Chromium (G2, G3): a rep cannot open a
campaign's launch page; a rep's campaign request is approved by a marketer and
the rep sees it."""

import pytest
from playwright.sync_api import expect

from campaigns.models import CampaignRequest
from leads.records.models import Campaign
from tests.conftest import new_browser_page, screenshot
from tests.factories import make_contact, make_user, sign_in

pytestmark = pytest.mark.browser


def test_g2_a_rep_is_refused_the_campaign_launch_page(browser_page):
    """G2: typing the launch page's address answers the 403 page, and the rep's
    menu has no campaign pages."""
    campaign = Campaign.create(name="Spring", subject="Hi", body="Hello")
    rep = make_user("rep", name="Rita Rep")
    page = browser_page
    sign_in(page, rep)
    expect(page.locator("nav.mainnav")).not_to_contain_text("Campaigns")
    response = page.goto(f"/marketing/campaigns/{campaign.id}/launch")
    assert response.status == 403
    expect(page.locator("main")).to_contain_text("403")
    assert page.locator("text=Launch campaign").count() == 0
    screenshot(page, "campaign-launch-refused-to-rep")
    assert Campaign.get_by_id(campaign.id).status == "draft"


def test_g3_a_rep_requests_a_campaign_and_a_marketer_approves_it(browser_page, chromium, live_server):
    """G3: the rep submits goal, audience and timing; the marketer approves it
    (a draft campaign is created); the rep sees it approved."""
    rep = make_user("rep", name="Rita Rep")
    marketer = make_user("marketer", name="Mia Marketer")
    page = browser_page
    sign_in(page, rep)
    page.get_by_role("link", name="Campaign requests").click()
    page.fill("textarea[name=goal]", "Webinar for CFOs in France")
    page.fill("textarea[name=audience]", "CFOs of our French accounts")
    page.fill("input[name=timing]", "Before the June trade show")
    page.click("text=Send request")
    expect(page.locator("#my-requests")).to_contain_text("Waiting for marketing")

    other = new_browser_page(chromium, live_server)
    try:
        sign_in(other, marketer)
        other.get_by_role("link", name="Campaign requests").click()
        request_id = CampaignRequest.get().id
        row = other.locator(f"#request-{request_id}")
        expect(row).to_contain_text("Webinar for CFOs in France")
        row.get_by_role("button", name="Approve").click()
        expect(other.locator(f"#request-{request_id}")).to_contain_text("Approved")
        screenshot(other, "campaign-request-approved")
    finally:
        other.context.close()

    page.reload()
    expect(page.locator("#my-requests")).to_contain_text("Approved")
    expect(page.locator("#my-requests")).to_contain_text("Webinar for CFOs in France (request #")
    assert Campaign.select().where(Campaign.status == "draft").count() == 1
    assert page.js_errors == []


def test_g2_a_marketer_builds_the_segment_from_rows_and_sees_the_audience_size(browser_page):
    """G2: in real Chromium the marketer adds two rows (htmx re-renders the form,
    the typed name stays), the audience size follows the rows as they change, a
    bad row shows its error next to it, and the saved segment is the JSON the
    launch reads."""
    for country in ("FR", "FR", "DE"):
        make_contact(country=country, job_title="CFO")
    make_contact(country="FR", job_title="Intern")
    marketer = make_user("marketer", name="Mia Marketer")
    page = browser_page
    sign_in(page, marketer)
    page.goto("/marketing/campaigns")
    page.fill("input[name=name]", "French CFOs")
    page.get_by_role("button", name="Add condition").click()
    expect(page.locator("#segment-0")).to_be_visible()
    expect(page.locator("input[name=name]")).to_have_value("French CFOs")
    page.fill("input[name=segment-0-value]", "FR")
    page.locator("input[name=segment-0-value]").blur()
    expect(page.locator("#audience-count")).to_contain_text("3 contacts match")

    page.get_by_role("button", name="Add condition").click()
    expect(page.locator("#segment-1")).to_be_visible()
    expect(page.locator("input[name=segment-0-value]")).to_have_value("FR")
    page.select_option("select[name=segment-1-subject]", "contact.job_title")
    page.select_option("select[name=segment-1-operator]", "in_list")
    page.click("text=Add campaign")
    expect(page.locator("#segment-1")).to_contain_text("Give at least one value.")
    page.fill("input[name=segment-1-value]", "CFO, CEO")
    page.get_by_role("button", name="Count").click()
    expect(page.locator("#audience-count")).to_contain_text("2 contacts match")
    screenshot(page, "campaign-segment-builder")
    page.click("text=Add campaign")
    expect(page.locator("#campaigns")).to_contain_text("Campaign French CFOs was added.")
    campaign = Campaign.get(Campaign.name == "French CFOs")
    assert campaign.segment == {
        "op": "and",
        "items": [
            {"entity": "contact", "field": "country", "operator": "equals", "value": "FR"},
            {"entity": "contact", "field": "job_title", "operator": "in_list", "value": "CFO, CEO"},
        ],
    }
    # The bad row's answer (422, swapped in by app.js) is the only console line: no script or CSP error.
    assert [e for e in page.js_errors if "status of 422" not in e] == []
