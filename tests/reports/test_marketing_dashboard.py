"""The marketers' dashboard (SPEC D2) on SQLite and PostgreSQL: a small
hand-made history whose answers are known (leads, marketing qualified,
sales-ready and converted per week and per source, capture source, campaign
and product line; the MQL → converted rate; the interactions before
sales-ready), the filters, the CSV, the htmx fragment, and who may see it (G1)."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest

from auth.models import ADMIN, MANAGER, MARKETER, REP, TELEPROSPECTOR
from leads.core import lifecycle
from leads.intake.models import CaptureSource
from leads.records.models import Campaign, Interaction, LeadHistory
from reports.marketing import rollup, services
from reports.marketing.queries import CAMPAIGN, CAPTURE_SOURCE, PRODUCT_LINE, SOURCE
from tests.factories import login, make_account, make_contact, make_lead, make_product_line, make_user
from tests.scoring.test_scoring_ui import HX, text_of

WEEK_1, WEEK_2 = dt.date(2026, 11, 2), dt.date(2026, 11, 9)  # two Mondays
RANGE = {"from": "2026-11-02", "to": "2026-11-15"}


def at(day: int, hour: int = 10) -> dt.datetime:
    return dt.datetime(2026, 11, day, hour)


def _event(lead, kind, new, moment):
    LeadHistory.create(lead=lead, kind=kind, old_value=None, new_value=new, created_at=moment)


def _mql(lead, moment):
    _event(lead, "status_reason", lifecycle.REASON_MARKETING_QUALIFIED, moment)


def _ready(lead, moment):
    _event(lead, "sales_ready", "1", moment)


def _converted(lead, moment):
    _event(lead, "status_reason", lifecycle.REASON_CONVERTED, moment)


def _interaction(moment, kind, *, lead=None, contact=None):
    Interaction.create(
        lead=lead,
        contact=contact,
        type=kind,
        occurred_at=moment,
        external_id=f"{kind}-{moment.isoformat()}-{lead}-{contact}",
    )


def known_history():
    """Eight leads around the range 2026-11-02 … 2026-11-15 (see each line)."""
    line_a, line_b = make_product_line(name="Analytics"), make_product_line(name="Billing")
    webinar = Campaign.create(name="Autumn webinar", product_line=line_a, status="launched")
    form = CaptureSource.create(name="Spring form", key="k" * 20)
    converted = {"status": lifecycle.QUALIFIED, "status_reason": lifecycle.REASON_CONVERTED}
    # L1: web form, the webinar, line A; MQL, sales-ready, converted; its own interactions.
    l1 = make_lead(source="web form", campaign=webinar, product_line=line_a, created_at=at(3), **converted)
    _mql(l1, at(4))
    _ready(l1, at(10))
    _converted(l1, at(12))
    _interaction(at(8), "email_clicked", lead=l1)
    _interaction(at(9), "web_visit", lead=l1)
    _interaction(at(11), "email_clicked", lead=l1)  # after it became sales-ready
    _interaction(dt.datetime(2026, 9, 1), "email_opened", lead=l1)  # over 30 days before
    # L2: web form, line B; MQL only.
    l2 = make_lead(source="web form", product_line=line_b, created_at=at(3))
    _mql(l2, at(5))
    # L3: the capture form, line A, with a contact; MQL and sales-ready in week 2.
    person = make_contact()
    l3 = make_lead(source=f"capture:{form.id}", product_line=line_a, contact=person, created_at=at(10))
    _mql(l3, at(11, 9))
    _ready(l3, at(11, 15))
    _interaction(at(5), "email_clicked", contact=person)
    _interaction(at(11, 12), "form_submitted", contact=person)
    # L4: imported in week 2, nothing else.
    make_lead(source="import", created_at=at(9, 0))
    # L5: created before the range; MQL in week 1, converted in week 2.
    l5 = make_lead(source="web form", product_line=line_b, created_at=dt.datetime(2026, 10, 20), **converted)
    _mql(l5, at(3))
    _converted(l5, at(13))
    # L6: created the first moment after the range: not counted.
    make_lead(source="web form", created_at=dt.datetime(2026, 11, 16))
    # L7: imported at the first moment of the range; MQL twice in week 1, counted once.
    l7 = make_lead(source="import", created_at=at(2, 0))
    _mql(l7, at(4))
    _mql(l7, at(6))
    # L8: an account's lead with no contact: the account's contacts' interactions count.
    account = make_account()
    colleague = make_contact(account=account)
    l8 = make_lead(source="api", account=account, created_at=at(2))
    _ready(l8, at(12))
    _interaction(at(1), "web_visit", contact=colleague)
    rollup.refresh()  # what the sweeper keeps up to date (reports.marketing.jobs)
    return {"line_a": line_a, "line_b": line_b, "webinar": webinar, "form": form}


def _dashboard(by=SOURCE, **records):
    return services.marketing_dashboard(
        services.range_filters(dt.date(2026, 11, 2), dt.date(2026, 11, 15), **records), by
    )


def _groups(dashboard):
    return [
        (g.label, g.counts.leads, g.counts.mql, g.counts.sales_ready, g.counts.converted, g.mql_converted)
        for g in dashboard.groups
    ]


def test_d2_counts_per_week_and_per_source_from_a_known_history(app):
    """D2: leads created per week; MQL, sales-ready and converted per week of the
    moment (each lead once per week); per source, capture forms as one source;
    the MQL → converted rate; the range's bounds (from included, to's end excluded)."""
    with app.app_context():
        known_history()
        dashboard = _dashboard()
    assert dashboard.weeks == [WEEK_1, WEEK_2]
    per_week = [(c.leads, c.mql, c.sales_ready, c.converted) for c in dashboard.totals_per_week]
    assert per_week == [(4, 4, 0, 0), (2, 1, 3, 2)]
    assert _groups(dashboard) == [
        ("web form", 2, 3, 1, 2, 2),
        ("import", 2, 1, 0, 0, 0),
        ("Capture forms", 1, 1, 1, 0, 0),
        ("api", 1, 0, 1, 0, 0),
    ]
    assert (dashboard.total.leads, dashboard.total.mql, dashboard.mql_converted) == (6, 5, 2)
    assert dashboard.mql_rate == pytest.approx(0.4)
    assert dashboard.groups[0].mql_rate == pytest.approx(2 / 3)
    weekly = {
        (r.week, r.label): (r.counts.leads, r.counts.mql, r.counts.sales_ready, r.counts.converted)
        for r in dashboard.rows
    }
    assert weekly == {
        (WEEK_1, "web form"): (2, 3, 0, 0),
        (WEEK_1, "import"): (1, 1, 0, 0),
        (WEEK_1, "api"): (1, 0, 0, 0),
        (WEEK_2, "web form"): (0, 0, 1, 2),
        (WEEK_2, "import"): (1, 0, 0, 0),
        (WEEK_2, "Capture forms"): (1, 1, 1, 0),
        (WEEK_2, "api"): (0, 0, 1, 0),
    }


def test_d2_the_interactions_that_precede_sales_ready(app):
    """D2: for the 3 leads that became sales-ready, the interaction types of the
    30 days before that moment (the lead's own, its contact's, or its account's
    contacts' for an account lead), each lead counted once per type."""
    with app.app_context():
        known_history()
        dashboard = _dashboard()
    assert dashboard.total.sales_ready == 3
    assert [(p.type, p.leads) for p in dashboard.preceding] == [
        ("email_clicked", 2),
        ("web_visit", 2),
        ("form_submitted", 1),
    ]
    assert dashboard.preceding[0].share == pytest.approx(2 / 3)


def test_d2_breakdowns_by_capture_source_campaign_and_product_line(app):
    """D2: the same history broken down by capture source, campaign and product line."""
    with app.app_context():
        known_history()
        by_capture = _groups(_dashboard(CAPTURE_SOURCE))
        by_campaign = _groups(_dashboard(CAMPAIGN))
        by_line = _groups(_dashboard(PRODUCT_LINE))
    assert by_capture == [("Not from a capture source", 5, 4, 2, 2, 2), ("Spring form", 1, 1, 1, 0, 0)]
    assert by_campaign == [("No campaign", 5, 4, 2, 1, 1), ("Autumn webinar", 1, 1, 1, 1, 1)]
    assert by_line == [
        ("No product line", 3, 1, 1, 0, 0),
        ("Analytics", 2, 2, 2, 1, 1),
        ("Billing", 1, 2, 0, 1, 1),
    ]


def test_d2_filters_narrow_every_figure(app):
    """D2: a campaign, a product line, a capture source or every capture form."""
    with app.app_context():
        made = known_history()
        webinar = _dashboard(campaign_id=made["webinar"].id)
        line_a = _dashboard(product_line_id=made["line_a"].id)
        form = _dashboard(capture_source_id=made["form"].id)
        captured = _dashboard(source="capture:*")
        imported = _dashboard(source="import")
    assert _groups(webinar) == [("web form", 1, 1, 1, 1, 1)]
    assert [(p.type, p.leads) for p in webinar.preceding] == [("email_clicked", 1), ("web_visit", 1)]
    assert _groups(line_a) == [("Capture forms", 1, 1, 1, 0, 0), ("web form", 1, 1, 1, 1, 1)]
    assert _groups(form) == _groups(captured) == [("Capture forms", 1, 1, 1, 0, 0)]
    assert _groups(imported) == [("import", 2, 1, 0, 0, 0)]


def _client(app, role):
    client = app.test_client()
    login(client, make_user(role))
    return client


def test_d2_the_page_its_fragment_and_its_csv(app):
    """D2: the page shows the figures, a chart with a title and axis labels, the
    tables and a CSV link keeping the form; the htmx answer is the region only;
    the CSV holds the rows per week and source."""
    with app.app_context():
        known_history()
    client = _client(app, MARKETER)
    page = client.get("/dashboards/marketing", query_string=RANGE)
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "<html" in html
    assert text_of(html, "total-leads") == "6" and text_of(html, "total-mql-rate") == "40%"
    weekly = '<title id="weekly-chart-title">Leads, marketing qualified, sales-ready and converted per week</title>'
    assert weekly in html and 'aria-labelledby="weekly-chart-title"' in html
    # the shared charts (reports.charts): every week's figure is a titled dot, the axes are named
    assert "<title>Leads, week of 2026-11-02: 4</title>" in html
    assert "<title>Converted, week of 2026-11-09: 2</title>" in html
    assert ">Week (Monday)</text>" in html and ">Leads</text>" in html
    # the rates run from 0 to 100 %, each column titled with its count
    assert "<title>web form · Converted: 67% (2 of 3)</title>" in html and ">100%</text>" in html
    assert "<title>Website visited · Sales-ready leads with one: 67% (2 of 3)</title>" in html
    assert "Week (Monday)" in html and "MQL → converted rate per source" in html
    assert "web form 2 3 1 2 67% (2 of 3)" in text_of(html, "dash-groups")
    assert "Website visited 2 67%" in text_of(html, "dash-preceding")
    fragment = client.get("/dashboards/marketing", query_string={**RANGE, "by": "campaign"}, headers=HX)
    body = fragment.get_data(as_text=True)
    assert fragment.status_code == 200 and "<html" not in body and 'id="marketing-dashboard"' in body
    assert "Autumn webinar" in text_of(body, "dash-groups")
    answer = client.get("/dashboards/marketing/weeks.csv", query_string=RANGE)
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(answer.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0] == [
        "Week (Monday)",
        "Breakdown",
        "Value",
        "Leads",
        "Marketing qualified",
        "Sales-ready",
        "Converted",
    ]
    assert ["2026-11-02", "Source", "web form", "2", "3", "0", "0"] in rows
    assert ["2026-11-09", "Source", "Capture forms", "1", "1", "1", "0"] in rows and len(rows) == 8


def test_d2_a_bad_range_or_filter_is_said_inline_never_a_500(app):
    """D2: an impossible day, a reversed range or an unknown campaign: the form says
    why next to the field; the CSV answers 400."""
    client = _client(app, MARKETER)
    for args, message in (
        ({"from": "2026-13-01"}, "Not a valid date value."),
        ({"from": "2026-11-10", "to": "2026-11-01"}, "Must be on or after"),
        ({"campaign": "999"}, "Not a valid choice."),
    ):
        answer = client.get("/dashboards/marketing", query_string=args, headers=HX)
        assert answer.status_code == 200 and message in answer.get_data(as_text=True), args
        assert client.get("/dashboards/marketing/weeks.csv", query_string=args).status_code == 400


@pytest.mark.parametrize("role", [REP, TELEPROSPECTOR])
def test_g1_d2_reps_and_teleprospectors_are_refused_the_page_its_fragment_and_its_csv(app, role):
    client = _client(app, role)
    assert client.get("/dashboards/marketing").status_code == 403
    assert client.get("/dashboards/marketing", headers=HX).status_code == 403
    assert client.get("/dashboards/marketing/weeks.csv").status_code == 403


@pytest.mark.parametrize("role", [MARKETER, MANAGER, ADMIN])
def test_g1_d2_marketers_managers_and_admins_see_it(app, role):
    client = _client(app, role)
    assert client.get("/dashboards/marketing").status_code == 200
    assert client.get("/dashboards/marketing/weeks.csv").status_code == 200


def test_d2_signed_out_goes_to_sign_in(app):
    answer = app.test_client().get("/dashboards/marketing")
    assert answer.status_code == 302 and "/login" in answer.headers["Location"]


def test_d2_the_number_of_queries_does_not_grow_with_the_leads(app):
    """STYLE 7: every figure is grouped in SQL; ten more leads with history and
    interactions cost no extra query, for the page and the CSV."""
    from tests.records.test_lead_list import count_queries

    with app.app_context():
        known_history()
    client = _client(app, MARKETER)
    before = [
        count_queries(client, path, query_string=RANGE)
        for path in ("/dashboards/marketing", "/dashboards/marketing/weeks.csv")
    ]
    with app.app_context():
        for day in range(3, 13):
            lead = make_lead(source=f"source {day}", created_at=at(day))
            _mql(lead, at(day, 12))
            _ready(lead, at(day, 13))
            _interaction(at(day, 11), "email_opened", lead=lead)
        rollup.refresh()
    after = [
        count_queries(client, path, query_string=RANGE)
        for path in ("/dashboards/marketing", "/dashboards/marketing/weeks.csv")
    ]
    assert after == before


def _figures(**records):
    dashboard = _dashboard(**records)
    return (
        [(c.leads, c.mql, c.sales_ready, c.converted) for c in dashboard.totals_per_week],
        _groups(dashboard),
        [(p.type, p.leads) for p in dashboard.preceding],
    )


def _touch(lead, moment):
    """What the lead services do with every change: the lead's last change moves."""
    from leads.records.models import Lead

    Lead.update(updated_at=moment).where(Lead.id == lead.id).execute()


def test_d2_the_rollup_follows_late_history_new_interactions_and_deleted_leads(app):
    """D2: the dashboard reads a rollup the sweeper keeps: a late change of a
    lead's history (L2 sales-ready in week 1, then converted), a contact's
    interaction stored later before a sales-ready moment, and a deleted lead
    (L1) are in the figures after the next slices, as if counted afresh."""
    from leads.base.db import utcnow
    from leads.records.models import Contact, Lead

    with app.app_context():
        known_history()
        l2 = Lead.select().where(Lead.created_at == at(3), Lead.campaign.is_null()).get()
        _ready(l2, at(6))
        _converted(l2, at(13))
        Lead.update(status_reason=lifecycle.REASON_CONVERTED).where(Lead.id == l2.id).execute()
        _touch(l2, utcnow())
        rollup.refresh_slice()
        per_week, groups, preceding = _figures()
        assert per_week == [(4, 4, 1, 0), (2, 1, 3, 3)]
        assert groups[0] == ("web form", 2, 3, 2, 3, 3)
        # A colleague of L8's account clicked the day before L8 became sales-ready.
        colleague = Contact.select().where(Contact.account.is_null(False)).get()
        _interaction(at(11), "event_registered", contact=colleague)
        rollup.refresh_slice()
        assert ("event_registered", 1) in _figures()[2]
        l1 = Lead.get(Lead.campaign.is_null(False))
        l1.delete_instance(recursive=False)
        rollup.refresh_slice(
            now=utcnow() + dt.timedelta(minutes=2)
        )  # deleted leads: looked for once a minute
        per_week, groups, preceding = _figures()
    assert per_week == [(3, 3, 1, 0), (2, 1, 2, 2)]
    assert groups == [
        ("import", 2, 1, 0, 0, 0),
        ("web form", 1, 2, 1, 2, 2),
        ("Capture forms", 1, 1, 1, 0, 0),
        ("api", 1, 0, 1, 0, 0),
    ]
    assert preceding == [
        ("email_clicked", 1),
        ("event_registered", 1),
        ("form_submitted", 1),
        ("web_visit", 1),
    ]


def test_d2_the_rollup_counts_nothing_twice_swept_again_in_slices_or_after_a_killed_sweep(app):
    """D2: the same figures after a second refresh, after every lead is read
    again in slices of two from the start, and after a slice killed half-way
    (its transaction rolled back): rows are recomputed and replaced, never added."""
    from leads.base.db import transaction
    from reports.marketing.models import MarketingDay, MarketingLeadEvent, MarketingRollupState

    with app.app_context():
        known_history()
        expected = _figures()
        days = sorted(MarketingDay.select(MarketingDay.day, MarketingDay.event, MarketingDay.leads).tuples())
        assert rollup.refresh()["leads"] == 0 and _figures() == expected
        MarketingRollupState.update(leads_through=None, leads_last_id=0).execute()
        while not rollup.refresh_slice(size=2)["caught_up"]:
            pass
        assert _figures() == expected
        ids = sorted(
            {lead_id for (lead_id,) in MarketingLeadEvent.select(MarketingLeadEvent.lead_id).tuples()}
        )
        with pytest.raises(RuntimeError), transaction():
            rollup.store_leads(ids[:3])
            MarketingDay.delete().execute()
            raise RuntimeError("the worker dies mid-slice")
        rollup.refresh()
        assert _figures() == expected
        again = sorted(MarketingDay.select(MarketingDay.day, MarketingDay.event, MarketingDay.leads).tuples())
    assert again == days
