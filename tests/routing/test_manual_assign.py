"""Assigning by hand cannot be wrong silently (SPEC P6, R3), on SQLite and
PostgreSQL: the managers' picker shows each rep's load and time away; giving a
lead to a rep at capacity or away asks first, and "assign anyway" does it; the
unassigned count in the navigation asks for itself again after a lead action."""

from __future__ import annotations

import datetime as dt
import re

from leads.base.db import utcnow
from leads.records.models import Lead
from routing import manage
from tests.factories import csrf_token, login, make_lead, make_user

HX = {"HX-Request": "true"}


def row_post(client, lead_id, data, htmx=True):
    headers = {"X-CSRFToken": csrf_token(client), **(HX if htmx else {})}
    form = {f"lead-{lead_id}-{name}": value for name, value in data.items()}
    return client.post(f"/queues/unassigned/{lead_id}/assign", data=form, headers=headers)


def options(html: str, lead_id: int) -> dict[str, str]:
    select = re.search(rf'<select[^>]*name="lead-{lead_id}-owner_id"[^>]*>(.*?)</select>', html, re.S)
    return dict(re.findall(r'<option[^>]*value="([^"]*)"[^>]*>([^<]*)</option>', select.group(1)))


def world():
    manager = make_user("manager")
    full = make_user("rep", name="Fiona Full")
    manage.save_profile(full, 2, None, None, [])
    for _ in range(2):
        make_lead(stage=5, sales_ready=True, owner=full)
    away = make_user("rep", name="Aldo Away")
    until = (utcnow() + dt.timedelta(days=3)).replace(hour=9, minute=0, second=0, microsecond=0)
    manage.save_profile(away, 20, utcnow() - dt.timedelta(days=1), until, [])
    free = make_user("rep", name="Fred Free")
    manage.save_profile(free, 20, None, None, [])
    make_lead(stage=5, sales_ready=True, owner=free)
    return manager, full, away, free, until


def test_p6_r3_the_picker_shows_each_reps_load_and_time_away(app):
    manager, full, away, free, until = world()
    lead = make_lead(stage=5, sales_ready=True)
    client = login(app.test_client(), manager)
    offered = options(client.get("/queues/unassigned").get_data(as_text=True), lead.id)
    assert offered[str(full.id)] == "Fiona Full · 2/2"
    assert offered[str(free.id)] == "Fred Free · 1/20"
    assert offered[str(away.id)] == f"Aldo Away · 0/20, away until {until:%a} {until.day} {until:%b}"


def test_p6_r3_assigning_to_a_rep_at_capacity_or_away_asks_first(app):
    manager, full, away, free, until = world()
    lead = make_lead(stage=5, sales_ready=True)
    client = login(app.test_client(), manager)
    asked = row_post(client, lead.id, {"owner_id": str(full.id)})
    page = asked.get_data(as_text=True)
    assert asked.status_code == 200 and "Fiona Full is at capacity (2/2 open leads). Assign anyway?" in page
    assert "Assign to Fiona Full anyway" in page and "HX-Trigger" not in asked.headers
    assert Lead.get_by_id(lead.id).owner_id is None
    asked = row_post(client, lead.id, {"owner_id": str(away.id)}, htmx=False)
    assert "Aldo Away is away until" in asked.get_data(as_text=True)
    assert Lead.get_by_id(lead.id).owner_id is None
    done = row_post(client, lead.id, {"owner_id": str(away.id), "confirmed": "yes"})
    assert done.status_code == 200 and "Assigned to Aldo Away." in done.get_data(as_text=True)
    assert Lead.get_by_id(lead.id).owner_id == away.id
    assert done.headers["HX-Trigger"] == "leads-changed"


def test_p6_a_rep_with_room_is_assigned_without_a_question(app):
    manager, full, away, free, until = world()
    lead = make_lead(stage=5, sales_ready=True)
    client = login(app.test_client(), manager)
    done = row_post(client, lead.id, {"owner_id": str(free.id)})
    assert "Assigned to Fred Free." in done.get_data(as_text=True)
    assert Lead.get_by_id(lead.id).owner_id == free.id


def test_p6_the_navigation_unassigned_count_follows_an_assignment(app):
    manager, full, away, free, until = world()
    lead = make_lead(stage=5, sales_ready=True)
    make_lead(stage=5, sales_ready=True)
    client = login(app.test_client(), manager)
    nav = client.get("/queues/unassigned").get_data(as_text=True)
    badge = re.search(r'<span id="nav-unassigned-count"[^>]*>', nav)
    assert badge and 'hx-trigger="load, leads-changed from:body"' in badge.group(0)
    count = client.get("/queues/unassigned/count", headers=HX).get_data(as_text=True)
    assert re.search(r">2</span>", count) and 'hx-trigger="leads-changed from:body"' in count
    row_post(client, lead.id, {"owner_id": str(free.id)})
    count = client.get("/queues/unassigned/count", headers=HX).get_data(as_text=True)
    assert re.search(r">1</span>", count)
    # The lead page's actions say so too.
    other = make_lead(stage=5, sales_ready=True)
    answer = client.post(
        f"/leads/{other.id}/actions/assign",
        data={"owner_id": str(free.id)},
        headers={"X-CSRFToken": csrf_token(client), **HX},
    )
    assert answer.status_code == 200 and answer.headers["HX-Trigger"] == "leads-changed"
    rep_client = login(app.test_client(), free)
    assert rep_client.get("/queues/unassigned/count").status_code == 403
    assert "nav-unassigned-count" not in rep_client.get("/queues/mine").get_data(as_text=True)


def test_p6_r3_the_lead_page_picker_shows_the_load_and_asks_first_too(app):
    manager, full, away, free, until = world()
    lead = make_lead(stage=5, sales_ready=True)
    client = login(app.test_client(), manager)
    page = client.get(f"/leads/{lead.id}").get_data(as_text=True)
    select = re.search(r'<select[^>]*name="owner_id"[^>]*>(.*?)</select>', page, re.S).group(1)
    assert "Fiona Full · 2/2" in select and "Aldo Away · 0/20, away until" in select
    headers = {"X-CSRFToken": csrf_token(client), **HX}
    asked = client.post(f"/leads/{lead.id}/actions/assign", data={"owner_id": str(full.id)}, headers=headers)
    html = asked.get_data(as_text=True)
    assert asked.status_code == 409 and "Fiona Full is at capacity (2/2 open leads). Assign anyway?" in html
    assert "Assign to Fiona Full anyway" in html and Lead.get_by_id(lead.id).owner_id is None
    done = client.post(
        f"/leads/{lead.id}/actions/assign",
        data={"owner_id": str(full.id), "confirmed": "yes"},
        headers=headers,
    )
    assert done.status_code == 200 and Lead.get_by_id(lead.id).owner_id == full.id
