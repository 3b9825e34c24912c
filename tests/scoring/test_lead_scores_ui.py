"""Scores and interactions in the UI (S6, R7, E3, S3, P1, G1): the lead page's
scores panel with grades, the why and the history; its live fragment; the lead
list's score filter, sort and column (web and API); interactions on the lead and
contact pages. Real scoring: a live model, events posted through the API, a real
RQ worker. On SQLite and PostgreSQL."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

import pytest

from auth.admin import issue_token
from auth.models import ADMIN, MANAGER, MARKETER, REP, TELEPROSPECTOR
from leads.core import lifecycle
from leads.records.models import Lead
from leads.scoring import services as scoring_admin
from leads.scoring.models import LeadScore
from tests.factories import (
    ENGAGEMENT,
    login,
    make_account,
    make_contact,
    make_custom_type,
    make_lead,
    make_user,
)

FIT = {
    "attribute_rules": [
        {
            "id": "france",
            "label": "Based in France",
            "condition": {"entity": "contact", "field": "country", "operator": "equals", "value": "FR"},
            "points": 50,
        }
    ],
    "behaviour_rules": [],
    "sales_ready_threshold": None,
    "grades": [],
}
HX = {"HX-Request": "true"}


def live_model(app, marketer, definition=ENGAGEMENT, name="Engagement"):
    """A model saved and published through the admin service (it enqueues the re-scoring)."""
    with app.app_context():
        row = scoring_admin.save_model(None, name, "", definition, marketer)
        scoring_admin.set_model_status(row, "live", marketer)
    return row


def post_events(client, token, body):
    answer = client.post("/api/v1/interactions", json=body, headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code in (200, 201), answer.get_json()
    return answer


class _Region(HTMLParser):
    """The outer HTML of the first element with a given id (stdlib parser only)."""

    VOID = {"input", "br", "img", "meta", "link", "hr", "source", "wbr", "col"}

    def __init__(self, wanted: str):
        super().__init__(convert_charrefs=False)
        self.wanted, self.depth, self.start, self.end = wanted, 0, None, None

    def handle_starttag(self, tag, attrs):
        if self.end is not None:
            return
        if self.start is None and dict(attrs).get("id") == self.wanted:
            self.start = self._offset()
            self.depth = 0
        if self.start is not None and tag not in self.VOID:
            self.depth += 1

    def handle_endtag(self, tag):
        if self.start is not None and self.end is None and tag not in self.VOID:
            self.depth -= 1
            if self.depth == 0:
                self.end = self._offset() + len(f"</{tag}>")

    def _offset(self) -> int:
        line, col = self.getpos()
        return sum(len(row) for row in self.text.splitlines(keepends=True)[: line - 1]) + col


def region(page: str, element_id: str) -> str:
    """The element with ``element_id`` in ``page`` ('' when absent)."""
    parser = _Region(element_id)
    parser.text = page
    parser.feed(page)
    return "" if parser.start is None else page[parser.start : parser.end]


def text_of(fragment: str) -> str:
    """The visible text, tags dropped, whitespace squeezed, entities decoded."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def poll_url(page: str) -> str:
    """The URL the live region polls."""
    live = region(page, "lead-live")
    return html.unescape(re.search(r'hx-get="([^"]+)"', live).group(1))


@pytest.fixture
def world(app):
    marketer = make_user(MARKETER)
    manager = make_user(MANAGER)
    contact = make_contact(job_title="Sales Director", email="ana@example.com", country="FR")
    lead = make_lead(contact=contact, stage=lifecycle.INQUIRY)
    return {
        "marketer": marketer,
        "token": issue_token(make_user("integration"), "site"),
        "contact": contact,
        "lead": lead,
        "api": app.test_client(),
        "manager": login(app.test_client(), manager),
    }


# --- the lead page's scores panel ---------------------------------------------------


def test_s6_the_lead_page_shows_each_models_score_grade_why_and_history(app, world, run_jobs):
    engagement_model = live_model(app, world["marketer"])
    live_model(app, world["marketer"], FIT, "Fit")
    run_jobs()
    post_events(
        world["api"],
        world["token"],
        {"type": "email_clicked", "external_id": "c-1", "contact_id": world["contact"].id},
    )
    run_jobs()
    page = world["manager"].get(f"/leads/{world['lead'].id}").get_data(as_text=True)
    panel = region(page, "lead-scores")
    engagement = text_of(region(panel, f"score-model-{engagement_model.id}"))
    assert "Engagement" in engagement and "30" in engagement and "Grade B" in engagement
    # the why, rule by rule: label, points, occurrences
    assert "Director +20 1" in engagement and "Email clicks +10 1" in engagement
    assert "Fit" in text_of(panel) and "Based in France +50" in text_of(panel)
    history = text_of(panel.split("Score history", 1)[1])
    assert "Engagement — → 20" in history and "Engagement 20 → 30" in history and "Fit — → 50" in history
    assert "interaction" in history  # the cause


def test_s6_a_capped_rule_says_so_in_the_why(app, world, run_jobs):
    live_model(app, world["marketer"])
    clicks = [
        {"type": "email_clicked", "external_id": f"c-{n}", "contact_id": world["contact"].id}
        for n in range(5)
    ]
    post_events(world["api"], world["token"], clicks)
    run_jobs()
    panel = text_of(
        region(world["manager"].get(f"/leads/{world['lead'].id}").get_data(as_text=True), "lead-scores")
    )
    assert "Email clicks +30 5 Capped" in panel and "Grade A" in panel
    assert "Score 50" in panel  # the breakdown adds up to the score


def test_s6_p1_the_live_fragment_answers_only_when_something_changed_and_moves_the_stage(
    app, world, run_jobs
):
    """The open page (loaded before any model is live) polls: nothing changed →
    204; the model is published and scores the lead → the panel, and out of band
    the summary and the stage bar with stage 2 current (P1); then an event posted
    through the API → the new score and the interaction, without touching the stages."""
    lead_id = world["lead"].id
    client = world["manager"]
    page = client.get(f"/leads/{lead_id}").get_data(as_text=True)
    assert "No scoring model has scored this lead yet" in page
    url = poll_url(page)
    assert client.get(url, headers=HX).status_code == 204

    live_model(app, world["marketer"])
    run_jobs()
    first = client.get(url, headers=HX)
    assert first.status_code == 200 and "HX-Request" in first.headers.get("Vary", "")
    body = first.get_data(as_text=True)
    assert "Grade B" in text_of(region(body, "lead-scores"))
    stages = region(body, "lead-stages")
    assert 'hx-swap-oob="true"' in stages.split(">", 1)[0]
    assert re.search(r'class="stage current[^"]*"[^>]*aria-current="step"', stages)
    assert "2 · Current" in text_of(stages)
    assert 'hx-swap-oob="true"' in region(body, "lead-summary").split(">", 1)[0]
    assert "Stage: Inquiry → Automated marketing qualification" in text_of(region(body, "timeline-entries"))

    url = poll_url(body)
    assert client.get(url, headers=HX).status_code == 204  # the new fingerprints are stable
    post_events(
        world["api"],
        world["token"],
        {
            "type": "email_clicked",
            "external_id": "c-9",
            "lead_id": lead_id,
            "properties": {"campaign_id": "spring"},
        },
    )
    run_jobs()
    second = client.get(url, headers=HX).get_data(as_text=True)
    assert "30" in text_of(region(second, "lead-scores")) and "Email clicks" in second
    assert "20 → 30" in text_of(region(second, "lead-scores"))
    interactions = text_of(region(second, "timeline-entries"))
    assert "Email clicked" in interactions and "campaign_id spring" in interactions
    assert region(second, "lead-stages") == ""  # the lead itself did not change: the form stays put
    # a plain visit of the fragment's URL is the page
    plain = client.get(url)
    assert plain.status_code == 302 and plain.headers["Location"].endswith(f"/leads/{lead_id}")


def test_s6_the_live_fragment_keeps_the_stage_panel_the_user_opened(app, world, run_jobs):
    client = world["manager"]
    page = client.get(f"/leads/{world['lead'].id}").get_data(as_text=True)
    live_model(app, world["marketer"])
    run_jobs()
    opened = f"http://localhost/leads/{world['lead'].id}/stages/4"
    body = client.get(poll_url(page), headers={**HX, "HX-Current-URL": opened}).get_data(as_text=True)
    assert "4. Teleprospecting qualification" in text_of(region(body, "stage-panel"))


@pytest.mark.parametrize("role", [ADMIN, MARKETER, MANAGER, TELEPROSPECTOR, REP])
def test_g1_the_live_fragment_is_visible_exactly_when_the_lead_page_is(app, role):
    """Same policy and record rule as the page: a rep gets 404 for another rep's
    lead, a teleprospector for a lead outside stages 3–4."""
    me = make_user(role)
    other_rep = make_user(REP)
    leads = [
        make_lead(stage=lifecycle.SALES_ACCEPTANCE, sales_ready=True, owner=me if role == REP else other_rep),
        make_lead(stage=lifecycle.SALES_ACCEPTANCE, sales_ready=True, owner=other_rep),
        make_lead(stage=lifecycle.TP_ACCEPTANCE),
    ]
    client = login(app.test_client(), me)
    for lead in leads:
        page = client.get(f"/leads/{lead.id}").status_code
        live = client.get(f"/leads/{lead.id}/live", headers=HX).status_code
        assert (page, live) in ((200, 200), (404, 404)), (role, lead.stage, page, live)
    if role == REP:
        assert client.get(f"/leads/{leads[1].id}/live", headers=HX).status_code == 404
        assert client.get(f"/leads/{leads[0].id}/live", headers=HX).status_code == 200


# --- the lead list: score above X (R7) ------------------------------------------------


@pytest.fixture
def scored(app, world, run_jobs):
    """Four leads: 40 (A), 20 (B), 0 and one not scored yet; and a second model."""
    director = world["lead"]  # 20 + 2 clicks = 40
    engineer = make_lead(contact=make_contact(job_title="Engineer", country="DE"))  # 0
    second = make_lead(contact=make_contact(job_title="Director of sales", country="DE"))  # 20
    engagement = live_model(app, world["marketer"])
    fit = live_model(app, world["marketer"], FIT, "Fit")
    post_events(
        world["api"],
        world["token"],
        [
            {"type": "email_clicked", "external_id": f"x-{n}", "contact_id": world["contact"].id}
            for n in range(2)
        ],
    )
    run_jobs()
    unscored = make_lead(contact=make_contact(job_title="Director"))  # created after: no score yet
    assert LeadScore.get(lead=director, model=engagement).score == 40
    return {
        "top": director,
        "second": second,
        "zero": engineer,
        "unscored": unscored,
        "engagement": engagement,
        "fit": fit,
    }


def row_ids(body: str) -> list[int]:
    return [int(i) for i in re.findall(r'class="lead-link" href="/leads/(\d+)"', body)]


def test_r7_the_list_filters_by_minimum_score_and_sorts_by_score(app, world, scored):
    client = world["manager"]
    top, second, zero, unscored = (scored[k].id for k in ("top", "second", "zero", "unscored"))
    above = client.get("/leads?min_score=20&sort=-score", headers=HX).get_data(as_text=True)
    assert row_ids(above) == [top, second]
    assert row_ids(client.get("/leads?min_score=21", headers=HX).get_data(as_text=True)) == [top]
    # sorted by score, best first; the lead with no score comes last either way
    assert row_ids(client.get("/leads?sort=-score", headers=HX).get_data(as_text=True)) == [
        top,
        second,
        zero,
        unscored,
    ]
    assert row_ids(client.get("/leads?sort=score", headers=HX).get_data(as_text=True)) == [
        zero,
        second,
        top,
        unscored,
    ]
    # another model, chosen in the select
    fit = scored["fit"].id
    chosen = client.get(f"/leads?score_model={fit}&min_score=1", headers=HX).get_data(as_text=True)
    assert row_ids(chosen) == [top] and "Score · Fit" in text_of(chosen)
    # a negative minimum is allowed (rules may take points away)
    assert len(row_ids(client.get("/leads?min_score=-5", headers=HX).get_data(as_text=True))) == 3


def test_r7_the_list_shows_the_score_and_grade_and_offers_the_live_models(app, world, scored):
    client = world["manager"]
    page = client.get("/leads?sort=-score").get_data(as_text=True)
    table = region(page, "lead-table")
    assert "Score · Engagement" in text_of(table)
    first_row = text_of(table.split("<tbody>", 1)[1].split("</tr>", 1)[0])
    assert "40 A" in first_row
    form = region(page, "lead-filters")
    assert 'name="min_score"' in form and 'name="score_model"' in form
    assert ">Engagement</option>" in form and ">Fit</option>" in form


def test_r7_an_invalid_minimum_score_is_reported_and_ignored(app, world, scored):
    body = world["manager"].get("/leads?min_score=lots", headers=HX).get_data(as_text=True)
    assert "Minimum score must be a whole number" in body and len(row_ids(body)) == 4
    answer = world["manager"].get(
        "/api/v1/leads?min_score=lots", headers={"Authorization": f"Bearer {world['token']}"}
    )
    assert answer.status_code == 422 and answer.get_json()["errors"][0]["field"] == "min_score"


def test_r7_the_api_list_filters_and_sorts_by_score(app, world, scored):
    headers = {"Authorization": f"Bearer {world['token']}"}
    listed = world["api"].get("/api/v1/leads?min_score=20&sort=-score", headers=headers).get_json()
    assert [row["id"] for row in listed["data"]] == [scored["top"].id, scored["second"].id]
    assert listed["total"] == 2
    fit = world["api"].get(f"/api/v1/leads?score_model={scored['fit'].id}&min_score=50", headers=headers)
    assert [row["id"] for row in fit.get_json()["data"]] == [scored["top"].id]


def test_r7_g1_a_rep_filtering_by_score_sees_only_their_own_leads(app, world, scored):
    rep = make_user(REP)
    Lead.update(owner=rep).where(Lead.id == scored["second"].id).execute()
    client = login(app.test_client(), rep)
    assert row_ids(client.get("/leads?min_score=0", headers=HX).get_data(as_text=True)) == [
        scored["second"].id
    ]


# --- interactions on the lead and contact pages (E3, S3) -------------------------------


def test_e3_s3_interactions_show_on_the_lead_and_contact_pages_newest_first_and_escaped(app, world):
    contact = world["contact"]
    evil = "<script>alert(1)</script>"
    post_events(
        world["api"],
        world["token"],
        [
            {
                "type": "web_visit",
                "external_id": "v-1",
                "contact_id": contact.id,
                "occurred_at": "2024-05-01T10:00:00Z",
                "properties": {"page_id": evil, "url": "https://example.com/pricing"},
            },
            {
                "type": "form_submitted",
                "external_id": "f-1",
                "lead_id": world["lead"].id,
                "occurred_at": "2024-05-02T10:00:00Z",
            },
        ],
    )
    # E3: the same event again is stored once, so shown once
    post_events(
        world["api"], world["token"], {"type": "web_visit", "external_id": "v-1", "contact_id": contact.id}
    )
    for url, expected in (
        (f"/leads/{world['lead'].id}?activity=interactions", ["form_submitted", "web_visit"]),
        (f"/contacts/{contact.id}", ["web_visit"]),
    ):
        page = world["manager"].get(url).get_data(as_text=True)
        section = region(page, "timeline-entries" if url.startswith("/leads/") else "interactions")
        assert re.findall(r'<span class="actor" title="([^"]+)">', section) == expected, url
        assert "<script>alert" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in section
        assert "page_id" in section and "2024-05-01 10:00 UTC" in section and "from api" in text_of(section)


def test_s3_an_account_based_lead_shows_its_accounts_contacts_interactions_only(app, world):
    account = make_account()
    member = make_contact(account=account)
    stranger = make_contact()
    make_custom_type("member_visit", "Member visit")  # E3: registered types only
    make_custom_type("stranger_visit", "Stranger visit")
    lead = make_lead(account=account)  # account-based: an account and no contact
    post_events(
        world["api"],
        world["token"],
        [
            {"type": "member_visit", "external_id": "m-1", "contact_id": member.id},
            {"type": "stranger_visit", "external_id": "s-1", "contact_id": stranger.id},
        ],
    )
    page = world["manager"].get(f"/leads/{lead.id}?activity=interactions").get_data(as_text=True)
    section = region(page, "timeline-entries")
    assert "member_visit" in section and "stranger_visit" not in section


# --- in the browser ---------------------------------------------------------------------


@pytest.mark.browser
def test_s6_p1_the_open_lead_page_updates_its_scores_and_stage_by_itself(sqlite_app, browser_page):
    """The lead page is open; a model goes live and an event arrives through the
    API; real workers score; the page shows the score, the why and the new stage
    without a reload (htmx polling, no inline script: no console errors)."""
    from playwright.sync_api import expect
    from rq import SimpleWorker
    from rq.serializers import JSONSerializer

    from leads.base.queue import QUEUE_NAMES, get_queue, get_redis
    from tests.conftest import screenshot
    from tests.factories import PASSWORD

    def run_jobs():
        with sqlite_app.app_context():
            queues = [get_queue(name) for name in QUEUE_NAMES]
            SimpleWorker(queues, connection=get_redis(), serializer=JSONSerializer).work(burst=True)

    marketer, manager = make_user(MARKETER), make_user(MANAGER)
    contact = make_contact(job_title="Sales Director")
    lead = make_lead(contact=contact, stage=lifecycle.INQUIRY)
    page = browser_page
    page.goto("/login")
    page.fill("input[name=email]", manager.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/leads**")
    page.goto(f"/leads/{lead.id}")
    expect(page.locator("#lead-scores")).to_contain_text("No scoring model has scored this lead yet")
    expect(page.locator("#stage-bar [aria-current=step]")).to_contain_text("Inquiry")

    live_model(sqlite_app, marketer)
    run_jobs()
    expect(page.locator("#lead-scores")).to_contain_text("Grade B")
    expect(page.locator("#stage-bar [aria-current=step]")).to_contain_text(
        "Automated marketing qualification"
    )

    token = issue_token(make_user("integration"), "site")
    post_events(
        sqlite_app.test_client(),
        token,
        {"type": "email_clicked", "external_id": "b-1", "contact_id": contact.id},
    )
    run_jobs()
    expect(page.locator("#lead-scores .score-value")).to_have_text("30")
    expect(page.locator("#lead-scores")).to_contain_text("Email clicks")
    expect(page.locator("#timeline-entries")).to_contain_text("Email clicked")
    screenshot(page, "lead-scores-live")
    page.goto("/leads?sort=-score")
    expect(page.locator("#lead-table")).to_contain_text("Score · Engagement")
    screenshot(page, "lead-list-scores")
    assert page.js_errors == []
