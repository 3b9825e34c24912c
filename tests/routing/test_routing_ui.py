"""The rule editor speaks names, not ids (SPEC R4, R2), on SQLite and PostgreSQL:
a condition on an id field offers a select of names and posts the id, so the
stored rule is unchanged and routes as before (with a real RQ worker); the rules
list and the rule-set test say the names; opening a lead from a notification
marks that notification read, and only the user's own."""

from __future__ import annotations

import re

import pytest

from leads.core import lifecycle as lc
from leads.core import validation
from leads.notify.models import Notification
from leads.records.models import Lead
from leads.scoring.models import ScoringModel
from routing import assign, manage
from routing.models import AssignmentRule
from tests.factories import csrf_token, login, make_lead, make_product_line, make_team, make_user

HX = {"HX-Request": "true"}


def cond(entity, field, operator, value=None):
    return {"entity": entity, "field": field, "operator": operator, "value": value}


def make_rep(lines=(), **user):
    rep = make_user("rep", **user)
    manage.save_profile(rep, 20, None, None, [line.id for line in lines])
    return rep


@pytest.fixture
def world(app):
    line, other = make_product_line(name="Analytics Cloud"), make_product_line(name="Storage")
    return {
        "line": line,
        "other": other,
        "manager": make_user("manager"),
        "ana": make_rep([line], name="Ana"),
        "olga": make_rep([other], name="Olga"),
    }


def manager_client(app, world):
    return login(app.test_client(), world["manager"])


def row_fragment(client, index=0, trigger=None, **values):
    """The condition row the editor asks for when a select changes (htmx)."""
    query = {f"conditions-{index}-{name}": value for name, value in values.items()}
    headers = {**HX, **({"HX-Trigger-Name": f"conditions-{index}-{trigger}"} if trigger else {})}
    return client.get(f"/routing/rules/condition/{index}", query_string=query, headers=headers)


def rule_form(name, strategy, rows=(), **more):
    data = {"name": name, "enabled": "y", "match": "and", "strategy": strategy, "pool": "product_line"}
    for index, (field, operator, value) in enumerate(rows):
        data |= {
            f"conditions-{index}-subject": field,
            f"conditions-{index}-operator": operator,
            f"conditions-{index}-value": value,
        }
    return data | more


def post(client, path, data=None):
    return client.post(path, data=data or {}, headers={"X-CSRFToken": csrf_token(client)})


def options_of(html: str, name: str) -> dict[str, str]:
    """value → label of the options of the select named ``name``."""
    select = re.search(rf'<select[^>]*name="{re.escape(name)}"[^>]*>(.*?)</select>', html, re.S)
    assert select, f"no select {name}"
    return dict(re.findall(r'<option[^>]*value="([^"]*)"[^>]*>([^<]*)</option>', select.group(1)))


# --- The condition row --------------------------------------------------------------------


def test_r4_a_product_line_condition_offers_the_line_names_and_posts_the_id(app, world):
    """R4: choosing "Lead product line" re-renders just that row (an htmx GET) with a
    select of product line names whose values are the ids; the field select asks
    for the row again on change (no inline script); a new field clears the value."""
    client = manager_client(app, world)
    row = row_fragment(client, 2, trigger="subject", subject="lead.product_line_id", operator="equals", value="x")
    html = row.get_data(as_text=True)
    assert row.status_code == 200 and "<html" not in html and 'id="condition-row-2"' in html
    assert 'hx-get="/routing/rules/condition/2"' in html and 'hx-target="closest tr"' in html
    options = options_of(html, "conditions-2-value")
    assert (
        options[str(world["line"].id)] == "Analytics Cloud" and options[str(world["other"].id)] == "Storage"
    )
    assert "selected" not in html.split('name="conditions-2-value"')[1].split("</select>")[0]
    assert "<script" not in html and "style=" not in html

    several = row_fragment(client, 0, subject="lead.product_line_id", operator="in_list", value="")
    assert "multiple" in several.get_data(as_text=True)
    empty = row_fragment(client, 0, subject="lead.product_line_id", operator="is_empty")
    assert "No value needed." in empty.get_data(as_text=True)


def test_r4_other_id_fields_offer_names_country_a_hint_and_scores_live_models_only(app, world):
    """R4: team and owner conditions list team names and active reps; a country
    is chosen from the country list; scores are "Score in <model>" for live models only."""
    team = make_team(name="West")
    make_user("rep", name="Gone", is_active=False)
    ScoringModel.create(name="Fit", status="live")
    ScoringModel.create(name="Draft model", status="draft")
    client = manager_client(app, world)
    teams = options_of(
        row_fragment(client, subject="lead.team_id").get_data(as_text=True), "conditions-0-value"
    )
    assert teams[str(team.id)] == "West"
    owners = row_fragment(client, subject="account.owner_id").get_data(as_text=True)
    names = set(options_of(owners, "conditions-0-value").values())
    assert {"Ana", "Olga"} <= names and "Gone" not in names
    country = row_fragment(client, subject="lead.country", operator="equals").get_data(as_text=True)
    countries = options_of(country, "conditions-0-value")
    assert countries["FR"] == "France (FR)" and "ZZ" not in countries  # the one country list
    assert len(countries) == len(validation.COUNTRIES) + 1  # and "Choose…"
    several = row_fragment(client, subject="lead.country", operator="in_list").get_data(as_text=True)
    assert "multiple" in several
    fields = options_of(client.get("/routing/rules/new").get_data(as_text=True), "conditions-0-subject")
    assert "Score in Fit" in fields.values() and not any("Draft model" in v for v in fields.values())
    assert fields["lead.product_line_id"] == "Lead product line"


def test_r4_a_rule_made_with_the_product_line_select_routes_the_lead(app, world, run_jobs):
    """R4/R3/R1: a rule saved from the select (the id posted) is stored as before,
    and a lead of that line becoming sales-ready is routed to the line's rep by
    the worker; the editor shows the line chosen again."""
    client = manager_client(app, world)
    saved = post(
        client,
        "/routing/rules/new",
        rule_form("Cloud", "round_robin", [("lead.product_line_id", "equals", str(world["line"].id))]),
    )
    assert saved.status_code == 302
    rule = AssignmentRule.get()
    item = rule.definition["conditions"]["items"][0]
    assert (item["field"], str(item["value"])) == ("product_line_id", str(world["line"].id))
    edit = client.get(f"/routing/rules/{rule.id}").get_data(as_text=True)
    chosen = re.search(r'name="conditions-0-value".*?</select>', edit, re.S).group(0)
    assert re.search(rf'<option value="{world["line"].id}" selected>Analytics Cloud<', chosen)

    lead = make_lead(product_line=world["line"], stage=lc.AUTOMATED_QUALIFICATION)
    with app.app_context():
        from leads.scoring.jobs import leads_qualified
        from leads.stages.services import perform

        perform(lead, "sales_ready", None, via="test")
        leads_qualified([], [lead.id])
    run_jobs()
    assert Lead.get_by_id(lead.id).owner_id == world["ana"].id


def test_r4_a_bad_value_shows_its_error_inline_in_its_row(app, world):
    """R4: server-side validation still puts the error next to the row's value."""
    client = manager_client(app, world)
    bad = post(
        client, "/routing/rules/new", rule_form("Bad", "round_robin", [("lead.product_line_id", "gt", "")])
    )
    html = bad.get_data(as_text=True)
    assert bad.status_code == 422 and not AssignmentRule.select().exists()
    row = re.search(r'<tr class="condition-row" id="condition-row-0">.*?</tr>', html, re.S).group(0)
    assert "Enter a value." in row and "Analytics Cloud" in row


def test_r4_a_nul_in_a_name_or_a_rows_value_is_refused_inline(app, world):
    """R4: a NUL (which PostgreSQL cannot store) in the rule's name or in a
    condition row's value is an inline error with the reason every door gives."""
    client = manager_client(app, world)
    bad = post(
        client,
        "/routing/rules/new",
        rule_form("B\x00d", "round_robin", [("lead.source", "equals", "we\x00b")]),
    )
    html = bad.get_data(as_text=True)
    assert bad.status_code == 422 and not AssignmentRule.select().exists()
    row = re.search(r'<tr class="condition-row" id="condition-row-0">.*?</tr>', html, re.S).group(0)
    assert validation.NUL_REASON in row
    assert html.count(validation.NUL_REASON) == 2  # the name's and the row's


# --- Names in the rules list and the rule-set test -------------------------------------------


def test_r4_the_rules_list_and_the_rule_set_test_say_the_names(app, world):
    """R4: the list says "Lead product line equals Analytics Cloud" and the team's
    and the named rep's names; the rule-set test says which rule decided, in names."""
    team = make_team(name="West")
    manage.save_rule(
        {
            "name": "Cloud",
            "strategy": "round_robin",
            "pool": "product_line",
            "team_id": None,
            "conditions": cond("lead", "product_line_id", "in_list", [world["line"].id, world["other"].id]),
        },
        None,
    )
    manage.save_rule({"name": "West", "strategy": "round_robin", "pool": "team", "team_id": team.id}, None)
    manage.save_rule({"name": "Olga", "strategy": "named_user", "user_id": world["olga"].id}, None)
    client = manager_client(app, world)
    listing = client.get("/routing/rules").get_data(as_text=True)
    assert "Lead product line is one of Analytics Cloud, Storage" in listing
    assert "reps of a team (West)" in listing and "A named sales rep (Olga)" in listing
    lead = make_lead(product_line=world["line"], stage=5, sales_ready=True)
    test = client.get(f"/routing/rules?lead_id={lead.id}").get_data(as_text=True)
    assert re.search(
        r"Decided by <strong>Cloud</strong>:\s+Lead product line is one of Analytics Cloud", test
    )


# --- R2: opening a lead from a notification ---------------------------------------------------


def test_r2_opening_a_lead_from_a_notification_marks_it_read_and_only_the_users_own(app, world):
    """R2: the notification links to the lead with ``?n=<id>``; opening it marks
    that notification read (the badge then counts one less); another user's
    notification, or one about another lead, is left alone."""
    lead = make_lead(stage=5, sales_ready=True, owner=world["ana"])
    other_lead = make_lead(stage=5, sales_ready=True, owner=world["ana"])
    assign.notify(world["ana"].id, "assigned", "Lead assigned to you", lead_id=lead.id)
    assign.notify(world["ana"].id, "assigned", "Another one", lead_id=other_lead.id)
    mine = Notification.get(Notification.text == "Lead assigned to you")
    about_other = Notification.get(Notification.text == "Another one")
    theirs = Notification.create(user=world["olga"], kind="engaged", text="Olga's", lead=lead)
    ana = login(app.test_client(), world["ana"])
    listing = ana.get("/notifications").get_data(as_text=True)
    assert f'href="/leads/{lead.id}?n={mine.id}"' in listing
    assert 'notify-count">2<' in ana.get("/notifications/badge", headers=HX).get_data(as_text=True)

    assert ana.get(f"/leads/{lead.id}?n={theirs.id}").status_code == 200  # not hers: untouched
    assert ana.get(f"/leads/{lead.id}?n={about_other.id}").status_code == 200  # another lead's
    assert ana.get(f"/leads/{lead.id}?n=nonsense").status_code == 200
    assert Notification.select().where(Notification.read_at.is_null(False)).count() == 0

    assert ana.get(f"/leads/{lead.id}?n={mine.id}").status_code == 200
    assert Notification.get_by_id(mine.id).read_at is not None
    assert Notification.get_by_id(theirs.id).read_at is None
    assert Notification.get_by_id(about_other.id).read_at is None
    assert 'notify-count">1<' in ana.get("/notifications/badge", headers=HX).get_data(as_text=True)
    assert f'href="/leads/{lead.id}"' in ana.get("/notifications").get_data(as_text=True)  # read: no ?n


def test_r2_g1_a_lead_the_user_cannot_see_marks_nothing(app, world):
    """R2/G1: a rep opening another rep's lead gets 404 and nothing is marked read."""
    lead = make_lead(stage=5, sales_ready=True, owner=world["olga"])
    note = Notification.create(user=world["ana"], kind="engaged", text="x", lead=lead)
    ana = login(app.test_client(), world["ana"])
    assert ana.get(f"/leads/{lead.id}?n={note.id}").status_code == 404
    assert Notification.get_by_id(note.id).read_at is None


def test_g1_reps_cannot_ask_for_a_condition_row(app, world):
    """G1: the row endpoint is for managers, like the rules pages."""
    rep = login(app.test_client(), world["ana"])
    assert row_fragment(rep, subject="lead.product_line_id").status_code == 403
