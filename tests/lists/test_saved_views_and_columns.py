"""Saved views and the column chooser of the lead list (SPEC W5, G1, R7): a
user saves the list's filters, sort and columns under a name; a manager shares
one with a team, whose members only see it; the chosen columns are in the
address and the view, and cost a fixed number of queries whatever the rows."""

from __future__ import annotations

import datetime as dt
import re

from leads.activities.models import Activity
from leads.base.db import utcnow
from leads.lists.models import SavedView
from leads.records.listing import parse_list_args
from leads.scoring.models import LeadScore, ScoringModel
from routing.models import Assignment
from tests.factories import count_queries, csrf_token, login, make_lead, make_team, make_user

HX = {"HX-Request": "true"}


def save(client, **data):
    return client.post("/leads/views", data={"csrf_token": csrf_token(client), **data})


def header_cells(response) -> list[str]:
    """The table's header texts, after the selection box and the name."""
    head = response.get_data(as_text=True).split("<thead>")[1].split("</thead>")[0]
    texts = [
        re.sub(r"<[^>]+>|\s+", " ", cell).strip() for cell in re.findall(r"<th[^>]*>(.*?)</th>", head, re.S)
    ]
    return [text.replace(" ↑", "").replace(" ↓", "") for text in texts[2:]]


def model(name: str, status: str = "live") -> ScoringModel:
    return ScoringModel.create(name=name, status=status, definition={})


# --- columns ---------------------------------------------------------------------


def test_w5_columns_are_parsed_in_order_and_unknown_ones_reported():
    params, errors = parse_list_args({"columns": "owner,team,score_3,grade_3,owner"})
    assert params.columns == ("owner", "team", "score_3", "grade_3") and errors == []
    params, errors = parse_list_args({"columns": "owner,password_hash"})
    assert params.columns == () and errors == [("columns", "Unknown column 'password_hash'.")]


def test_w5_r7_chosen_columns_show_team_source_campaign_scores_grades_activity_and_accept_by(app):
    manager, rep, team = make_user("manager"), make_user("rep"), make_team(name="North")
    fit, engagement, draft = model("Fit"), model("Engagement"), model("Draft", "draft")
    lead = make_lead(team=team, source="webinar", owner=rep, stage=5, sales_ready=True)
    LeadScore.create(lead=lead, model=fit, score=42, grade="A")
    LeadScore.create(lead=lead, model=engagement, score=7)
    Activity.create(lead=lead, kind="note", body="hi", created_at=utcnow() - dt.timedelta(hours=1))
    due = utcnow().replace(microsecond=0) + dt.timedelta(hours=3)
    Assignment.create(lead=lead, rep=rep, reason="manual", due_at=due)
    client = login(app.test_client(), manager)
    chosen = f"team,source,campaign,score_{fit.id},grade_{fit.id},score_{engagement.id},score_{draft.id},last_activity,accept_by"
    answer = client.get(f"/leads?columns={chosen}")
    assert header_cells(answer) == [
        "Team",
        "Source",
        "Campaign",
        "Score · Fit",
        "Grade · Fit",
        "Score · Engagement",
        "Last activity",
        "Accept by",
    ]  # the draft model's column is left out
    row = answer.get_data(as_text=True).split("<tbody>")[1]
    assert "North" in row and "webinar" in row and "<strong>42</strong>" in row and ">A</span>" in row
    assert "<strong>7</strong>" in row and due.strftime("%Y-%m-%d %H:%M") in row


def test_w5_the_column_chooser_offers_every_column_and_ticks_the_shown_ones(app):
    fit = model("Fit")
    client = login(app.test_client(), make_user("manager"))
    page = client.get("/leads?columns=owner,accept_by").get_data(as_text=True)
    boxes = dict(re.findall(r'name="columns" value="([^"]+)" class="list-filter"( checked)?', page))
    assert {
        "owner",
        "team",
        "product_line",
        "source",
        "campaign",
        "created",
        "last_activity",
        "accept_by",
    } <= set(boxes)
    assert {f"score_{fit.id}", f"grade_{fit.id}"} <= set(boxes)
    assert {key for key, ticked in boxes.items() if ticked} == {"owner", "accept_by"}


def test_w5_columns_follow_sort_links_and_cost_the_same_queries_for_2_or_40_rows(app):
    fit, engagement = model("Fit"), model("Engagement")
    for n in range(40):
        lead = make_lead()
        LeadScore.create(lead=lead, model=fit, score=n)
        LeadScore.create(lead=lead, model=engagement, score=n)
        Activity.create(lead=lead, kind="note", body="x")
    client = login(app.test_client(), make_user("manager"))
    columns = f"columns=owner,score_{fit.id},grade_{fit.id},score_{engagement.id},last_activity,accept_by"
    page = client.get(f"/leads?{columns}&per_page=2").get_data(as_text=True)
    assert f"columns=score_{fit.id}" in page  # the sort headers and pager keep the columns

    def queries(per_page: int) -> int:
        with count_queries() as sql:
            assert client.get(f"/leads?{columns}&per_page={per_page}", headers=HX).status_code == 200
        return len(sql)

    assert queries(2) == queries(40)


# --- saved views ------------------------------------------------------------------


def test_w5_a_user_saves_filters_sort_and_columns_and_the_list_and_nav_list_the_view(app):
    rep = make_user("rep")
    client = login(app.test_client(), rep)
    answer = save(
        client, view_name="Mine by name", stage="5", sort="name", columns=["owner", "team"], page="3"
    )
    assert answer.status_code == 302
    view = SavedView.get()
    assert (view.owner_id, view.filters, view.sort, view.columns, view.team_id) == (
        rep.id,
        {"stage": "5"},
        "name",
        ["owner", "team"],
        None,
    )
    assert "stage=5" in answer.headers["Location"] and "sort=name" in answer.headers["Location"]
    nav = client.get("/leads/views/nav").get_data(as_text=True)
    assert "Mine by name" in nav and "columns=owner" in nav
    assert "Mine by name" in client.get("/leads").get_data(as_text=True)
    again = save(client, view_name="Mine by name", stage="2")  # the same name replaces it
    assert again.status_code == 302 and SavedView.select().count() == 1
    assert SavedView.get().filters == {"stage": "2"}


def test_w5_a_view_needs_a_name_and_only_managers_share_it(app):
    team = make_team()
    rep = login(app.test_client(), make_user("rep"))
    unnamed = save(rep, view_name="  ")
    assert unnamed.status_code == 422 and "Name the view." in unnamed.get_data(as_text=True)
    shared = save(rep, view_name="Mine", share_with=str(team.id))
    assert shared.status_code == 422 and "Only sales managers can share" in shared.get_data(as_text=True)
    assert SavedView.select().count() == 0


def test_w5_a_view_shared_with_a_team_is_seen_by_its_members_only(app):
    north, south = make_team(name="North"), make_team(name="South")
    manager = make_user("manager", team=north)
    member, outsider, loner = make_user("rep", team=north), make_user("rep", team=south), make_user("rep")
    client = login(app.test_client(), manager)
    assert save(client, view_name="Hot north", share_with=str(north.id), min_score="50").status_code == 302
    assert save(client, view_name="Private", stage="5").status_code == 302

    def nav(user) -> str:
        return login(app.test_client(), user).get("/leads/views/nav").get_data(as_text=True)

    assert "Hot north" in nav(manager) and "Private" in nav(manager)
    assert "Hot north" in nav(member) and "Private" not in nav(member)
    assert "Hot north" not in nav(outsider) and "Hot north" not in nav(loner)


def test_w5_g1_a_shared_view_runs_with_the_viewers_own_access_and_only_its_owner_deletes_it(app):
    north = make_team()
    manager, rep, other = make_user("manager", team=north), make_user("rep", team=north), make_user("rep")
    make_lead(stage=5, sales_ready=True, owner=rep, last_name="Own")
    make_lead(stage=5, sales_ready=True, owner=other, last_name="Others")
    manager_client = login(app.test_client(), manager)
    save(manager_client, view_name="Sales", stage="5", share_with=str(north.id))
    view = SavedView.get()
    rep_client = login(app.test_client(), rep)
    shown = rep_client.get("/leads?stage=5", headers=HX).get_data(as_text=True)
    assert "Own" in shown and "Others" not in shown
    token = csrf_token(rep_client)
    assert rep_client.post(f"/leads/views/{view.id}/delete", data={"csrf_token": token}).status_code == 404
    token = csrf_token(manager_client)
    assert (
        manager_client.post(f"/leads/views/{view.id}/delete", data={"csrf_token": token}).status_code == 302
    )
    assert SavedView.select().count() == 0
