"""D1/D2: while a rollup has not yet counted the install's past leads once
(an upgrade, a restored backup), its dashboard says how far it has got, with a
progress bar that updates by itself, instead of passing partial figures off as
whole ones; once caught up, the note is gone and costs no query."""

from __future__ import annotations

import re

import pytest

from auth.models import MANAGER, MARKETER, REP
from reports import building
from reports.marketing import rollup as marketing_rollup
from reports.marketing.models import MarketingRollupState
from reports.sales import rollup as sales_rollup
from reports.sales.models import SalesRollupState
from tests.factories import count_queries, login, make_lead, make_user
from tests.scoring.test_scoring_ui import HX

DASHBOARDS = {
    "sales": ("/dashboards/sales", sales_rollup, SalesRollupState, MANAGER, "#sales-dashboard"),
    "marketing": ("/dashboards/marketing", marketing_rollup, MarketingRollupState, MARKETER, "#marketing-dashboard"),
}


def _note(html: str) -> str | None:
    found = re.search(r'<div class="card dash-building".*?</div>', html, re.S)
    return found.group(0) if found else None


@pytest.mark.parametrize("name", DASHBOARDS)
def test_d1_d2_the_first_build_shows_its_progress_then_goes(app, name):
    url, rollup, state, role, region = DASHBOARDS[name]
    with app.app_context():
        for _ in range(5):
            make_lead()
        user = make_user(role=role)
    client = login(app.test_client(), user)

    note = _note(client.get(url).get_data(as_text=True))
    assert note is not None and "Still counting past leads: 0% done." in note
    assert '<progress max="100" value="0">' in note
    # it asks for the region again every 10 s, with the form's filters
    assert 'hx-trigger="every 10s"' in note and f'hx-target="{region}"' in note and "hx-include=" in note

    with app.app_context():
        rollup.refresh_slice(size=2)  # one slice of a first build: 2 of the 5 leads
        assert building.first_build(state) == building.Building(2, 5)
    fragment = client.get(url, headers=HX).get_data(as_text=True)
    assert "<html" not in fragment and "Still counting past leads: 40% done." in _note(fragment)

    with app.app_context():
        rollup.refresh()  # caught up: what the sweeper reaches within a few sweeps
        assert building.first_build(state) is None
        with count_queries() as queries:
            building.first_build(state)
        assert len(queries) == 1  # the state row only: nothing is counted once caught up
    assert _note(client.get(url).get_data(as_text=True)) is None


def test_d1_g1_a_rep_reads_a_share_not_the_install_s_number_of_leads(app):
    with app.app_context():
        for _ in range(3):
            make_lead()
        rep = make_user(role=REP)
    note = _note(login(app.test_client(), rep).get("/dashboards/sales").get_data(as_text=True))
    assert note is not None and "0% done" in note and " of 3" not in note


def test_d1_d2_no_leads_no_note(app):
    with app.app_context():
        assert building.first_build(SalesRollupState) is None
        assert building.first_build(MarketingRollupState) is None
