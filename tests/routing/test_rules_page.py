"""The rules page cannot be wrong silently (SPEC R4, R1), on SQLite and
PostgreSQL: a rule that earlier rules make unreachable says which one and is
moved above it in one click; removing a rule asks first and is recorded; the
rule-set test finds a lead by name or email; traces, the tester's and the
stored ones on the lead's timeline, name product lines, teams and reps."""

from __future__ import annotations

import re

import pytest

from leads.records.models import LeadHistory
from routing import assign, manage
from routing.models import AssignmentRule, RuleChange
from tests.factories import csrf_token, login, make_lead, make_product_line, make_team, make_user


def cond(entity, field, operator, value=None):
    return {"entity": entity, "field": field, "operator": operator, "value": value}


def add_rule(name, strategy="round_robin", conditions=None, **more):
    data = {"name": name, "strategy": strategy, "pool": "product_line", "conditions": conditions, **more}
    return manage.save_rule(data, None)


def post(client, path, data=None):
    return client.post(path, data=data or {}, headers={"X-CSRFToken": csrf_token(client)})


@pytest.fixture
def world(app):
    line = make_product_line(name="Analytics Cloud")
    team = make_team(name="West")
    ana = make_user("rep", name="Ana Lopez", team=team)
    manage.save_profile(ana, 20, None, None, [line.id])
    manager = make_user("manager", name="Mia Manager")
    return {"line": line, "team": team, "ana": ana, "manager": manager}


def test_r4_a_shadowed_rule_says_by_which_rule_and_moves_above_it_in_one_click(app, world):
    add_rule("Everyone", "round_robin", None, pool="all")
    narrow = add_rule("Cloud", conditions=cond("lead", "product_line_id", "equals", world["line"].id))
    client = login(app.test_client(), world["manager"])
    page = client.get("/routing/rules").get_data(as_text=True)
    assert "shadowed by rule 1: every lead" in page
    assert "Move above rule 1" in page
    moved = post(client, f"/routing/rules/{narrow.id}/move-above/{AssignmentRule.get(name='Everyone').id}")
    assert moved.status_code == 302
    assert [row.name for row in manage.ordered_rules()] == ["Cloud", "Everyone"]
    assert "shadowed by" not in client.get("/routing/rules").get_data(as_text=True)


def test_r4_a_rule_that_can_fire_is_not_flagged(app, world):
    add_rule("Cloud", conditions=cond("lead", "product_line_id", "equals", world["line"].id))
    add_rule("FR", conditions=cond("lead", "country", "equals", "FR"))
    add_rule("Owners", "relationship_owner")
    add_rule("Rest", "unassigned")
    client = login(app.test_client(), world["manager"])
    assert "shadowed by" not in client.get("/routing/rules").get_data(as_text=True)


def test_r4_the_warning_names_the_shadowing_rules_conditions(app, world):
    add_rule("Cloud", conditions=cond("lead", "product_line_id", "in_list", [world["line"].id]))
    add_rule(
        "Cloud FR",
        conditions={
            "op": "and",
            "items": [
                cond("lead", "product_line_id", "equals", world["line"].id),
                cond("lead", "country", "equals", "FR"),
            ],
        },
    )
    client = login(app.test_client(), world["manager"])
    page = client.get("/routing/rules").get_data(as_text=True)
    assert "shadowed by rule 1: Lead product line is one of Analytics Cloud" in page


def test_r4_removing_a_rule_asks_first_and_is_recorded(app, world):
    rule = add_rule("Cloud", conditions=cond("lead", "product_line_id", "equals", world["line"].id))
    client = login(app.test_client(), world["manager"])
    listing = client.get("/routing/rules").get_data(as_text=True)
    assert f'href="/routing/rules/{rule.id}/delete"' in listing  # a link to the question, not a POST
    question = client.get(f"/routing/rules/{rule.id}/delete")
    assert question.status_code == 200 and "Remove rule 1 “Cloud”?" in question.get_data(as_text=True)
    unconfirmed = post(client, f"/routing/rules/{rule.id}/delete")  # an old form without the answer
    assert unconfirmed.status_code == 200 and AssignmentRule.get_or_none(id=rule.id) is not None
    done = post(client, f"/routing/rules/{rule.id}/delete", {"confirm": "yes"})
    assert done.status_code == 302 and AssignmentRule.get_or_none(id=rule.id) is None
    change = RuleChange.get()
    assert (change.rule_id, change.action, change.name, change.position, change.by_id) == (
        rule.id,
        "removed",
        "Cloud",
        1,
        world["manager"].id,
    )
    assert change.definition["conditions"]["items"][0]["field"] == "product_line_id"
    page = client.get("/routing/rules").get_data(as_text=True)
    assert "“Cloud” (rule 1) removed by Mia Manager" in page
    assert client.get(f"/routing/rules/{rule.id}/delete").status_code == 404


def test_r1_the_rule_set_test_finds_a_lead_by_name_or_email_and_names_everything(app, world):
    add_rule(
        "Cloud West",
        conditions=cond("lead", "product_line_id", "equals", world["line"].id),
        team_id=world["team"].id,
    )
    lead = make_lead(
        first_name="Chloé",
        last_name="Martin",
        email="chloe@example.test",
        product_line=world["line"],
        stage=5,
        sales_ready=True,
    )
    make_lead(first_name="Chloé", last_name="Dubois", email="dubois@example.test")
    client = login(app.test_client(), world["manager"])
    several = client.get("/routing/rules", query_string={"lead": "chloé"}).get_data(as_text=True)
    assert "Several leads match" in several and f"/routing/rules?lead_id={lead.id}" in several
    for query in ("Chloé Martin", "chloe@example.test", str(lead.id)):
        page = client.get("/routing/rules", query_string={"lead": query}).get_data(as_text=True)
        assert f"Lead {lead.id} · Chloé Martin" in page, query
        trace = re.search(r'<pre class="trace">(.*?)</pre>', page, re.S).group(1)
        assert "Lead product line equals Analytics Cloud" in trace
        assert "product line Analytics Cloud, team West" in trace
        assert "Ana Lopez" in trace and "product line id" not in trace
    missing = client.get("/routing/rules", query_string={"lead": "nobody-like-this"}).get_data(as_text=True)
    assert "No lead has this name, email or id." in missing


def test_r1_a_stored_trace_on_the_timeline_names_product_lines_teams_and_reps(app, world):
    add_rule(
        "Cloud West",
        conditions=cond("lead", "product_line_id", "equals", world["line"].id),
        team_id=world["team"].id,
    )
    lead = make_lead(product_line=world["line"], stage=5, sales_ready=True)
    with app.app_context():
        assign.route_lead(lead.id)
    note = LeadHistory.get((LeadHistory.lead == lead.id) & (LeadHistory.kind == "routing")).note
    assert f"product line {world['line'].id}" in note  # stored with ids, named when shown
    client = login(app.test_client(), world["manager"])
    page = client.get(f"/leads/{lead.id}").get_data(as_text=True)
    assert "Lead product line equals Analytics Cloud" in page
    assert "product line Analytics Cloud, team West" in page
    assert f"product line {world['line'].id}" not in page
