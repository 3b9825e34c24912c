"""Routing stored leads end to end on SQLite and PostgreSQL, with real Redis and
RQ workers (SPEC R1–R6, G1): the sales-ready hook → the routing job → the
right rep owns the lead, the trace is on the timeline, the rep is notified;
relationship owners first (R2), fair round robin and least loaded (R3), no
match → unassigned with a reason and re-run (R4), decline and time-outs
re-routed (R6), manual assignments count, the managers' pages and their policy."""

from __future__ import annotations

import datetime as dt
import re

import peewee as pw
import pytest

from auth.models import User
from leads.base.db import utcnow
from leads.base.sweep import sweep
from leads.core import lifecycle as lc
from leads.notify.models import Notification, Outbox
from leads.records.models import Lead, LeadHistory
from leads.scoring.jobs import leads_qualified
from leads.stages.services import perform
from routing import assign, manage
from routing.models import Assignment, AssignmentRule, PoolPointer, RepProductLine
from tests.factories import (
    csrf_token,
    login,
    make_account,
    make_contact,
    make_lead,
    make_product_line,
    make_user,
)

HX = {"HX-Request": "true"}


def cond(entity, field, operator, value=None):
    return {"entity": entity, "field": field, "operator": operator, "value": value}


def add_rule(name, strategy, conditions=None, hours=None, **more):
    """Store a rule through the same code as the rules page."""
    data = {"name": name, "strategy": strategy, "conditions": conditions, **more}
    return manage.save_rule(data, hours)


def make_rep(lines=(), capacity=20, **user):
    rep = make_user("rep", **user)
    manage.save_profile(rep, capacity, None, None, [line.id for line in lines])
    return rep


def become_sales_ready(app, *leads):
    """As scoring does: the system marks the leads sales-ready, then the hook
    enqueues the configured jobs (routing)."""
    with app.app_context():
        for lead in leads:
            perform(lead, "sales_ready", None, via="test")
        leads_qualified([], [lead.id for lead in leads])


def reload(lead):
    return Lead.get_by_id(lead.id)


def client_for(app, user):
    return login(app.test_client(), user)


def post(client, path, data=None, htmx=False):
    headers = {"X-CSRFToken": csrf_token(client), **(HX if htmx else {})}
    return client.post(path, data=data or {}, headers=headers)


@pytest.fixture
def world(app):
    line, other_line = make_product_line(name="Analytics"), make_product_line(name="Storage")
    return {
        "line": line,
        "other_line": other_line,
        "manager": make_user("manager"),
        "ana": make_rep([line], name="Ana"),
        "ben": make_rep([line], name="Ben"),
        "olga": make_rep([other_line], name="Olga"),
    }


# --- R1: the hook routes a sales-ready lead ----------------------------------------------


def test_r1_r3_a_sales_ready_lead_is_routed_by_the_hook_to_a_rep_of_its_product_line(app, world, run_jobs):
    """R1/R3: sales-ready (system) → SALES_READY_JOBS → run_jobs → owned by a rep of
    the lead's product line; the trace is on the timeline; the rep is notified
    in the app and by an outbox email."""
    add_rule("Analytics", "round_robin", cond("lead", "product_line_id", "equals", world["line"].id))
    lead = make_lead(product_line=world["line"], stage=lc.AUTOMATED_QUALIFICATION)
    become_sales_ready(app, lead)
    run_jobs()
    fresh = reload(lead)
    assert fresh.owner_id in (world["ana"].id, world["ben"].id)
    assert fresh.assigned_at is not None and not fresh.sales_accepted
    live = Assignment.get((Assignment.lead == lead.id) & Assignment.ended_at.is_null())
    assert live.rep_id == fresh.owner_id and live.reason == "assigned"
    routing = LeadHistory.get((LeadHistory.lead == lead.id) & (LeadHistory.kind == "routing"))
    assert "Rule 1 'Analytics' matched" in routing.note and "round robin" in routing.note
    owner = LeadHistory.get((LeadHistory.lead == lead.id) & (LeadHistory.kind == "owner"))
    assert owner.actor_id is None and owner.new_value == str(fresh.owner_id)  # by the system
    note = Notification.get(Notification.user == fresh.owner_id)
    assert note.kind == "assigned" and note.lead_id == lead.id
    assert Outbox.get().to == User.get_by_id(fresh.owner_id).email
    page = client_for(app, world["manager"]).get(f"/leads/{lead.id}").get_data(as_text=True)
    assert "Routing: assigned to" in page and "Analytics" in page
    run_jobs()  # a second run of the same job changes nothing
    assert Assignment.select().where(Assignment.lead == lead.id).count() == 1


def test_r1_exactly_one_live_assignment_per_lead_is_a_database_constraint(app, world):
    """R1: the partial unique index refuses a second live assignment of a lead."""
    lead = make_lead(stage=5, sales_ready=True)
    Assignment.create(lead=lead, rep=world["ana"], decision={}, reason="assigned")
    with pytest.raises(pw.IntegrityError):
        with app.app_context(), assign.transaction():
            Assignment.create(lead=lead, rep=world["ben"], decision={}, reason="assigned")
    Assignment.update(ended_at=utcnow()).execute()  # ended rows do not count
    Assignment.create(lead=lead, rep=world["ben"], decision={}, reason="assigned")


# --- R2: relationship owner -----------------------------------------------------------


def test_r2_the_relationship_owner_gets_the_lead_first_and_hears_it_became_sales_ready(app, world, run_jobs):
    """R2: owner first, else the pool (one rule): the contact's owner (who sells
    another line) gets the lead and is told it became sales-ready; a lead with
    no owner goes to the pool."""
    add_rule("Owners, else the line", "relationship_owner", fallback="round_robin", pool="product_line")
    contact = make_contact(owner=world["olga"])
    owned = make_lead(product_line=world["line"], contact=contact, stage=2)
    orphan = make_lead(product_line=world["line"], stage=2)
    become_sales_ready(app, owned, orphan)
    run_jobs()
    assert reload(owned).owner_id == world["olga"].id
    assert reload(orphan).owner_id in (world["ana"].id, world["ben"].id)
    kinds = {n.kind for n in Notification.select().where(Notification.user == world["olga"].id)}
    assert kinds == {"sales_ready", "assigned"}


def test_r2_an_away_owner_falls_back_to_the_pool_with_the_reason_in_the_trace(app, world, run_jobs):
    """R2/R3: the account's owner is away → the pool; the trace says why."""
    add_rule("Owners, else the line", "relationship_owner", fallback="least_loaded", pool="product_line")
    now = utcnow()
    manage.save_profile(world["olga"], 20, now - dt.timedelta(days=1), now + dt.timedelta(days=1), [])
    lead = make_lead(product_line=world["line"], account=make_account(owner=world["olga"]), stage=2)
    become_sales_ready(app, lead)
    run_jobs()
    assert reload(lead).owner_id in (world["ana"].id, world["ben"].id)
    trace = LeadHistory.get((LeadHistory.lead == lead.id) & (LeadHistory.kind == "routing")).note
    assert "Olga skipped: away until" in trace


def test_r2_the_owner_rep_is_notified_when_their_lead_or_contact_engages(app, world):
    """R2: an interaction on a rep's lead or contact notifies that rep."""
    from leads.intake.interactions import record_interactions

    integration = make_user("integration")
    contact = make_contact(owner=world["olga"])
    lead = make_lead(stage=5, sales_ready=True, owner=world["ana"])
    with app.app_context():
        record_interactions(
            [
                {"type": "email_opened", "external_id": "e1", "contact_id": contact.id},
                {"type": "web_visit", "external_id": "e2", "lead_id": lead.id},
            ],
            integration,
        )
    assert Notification.get(Notification.user == world["olga"].id).kind == "engaged"
    ana = Notification.get(Notification.user == world["ana"].id)
    assert ana.kind == "engaged" and ana.lead_id == lead.id and "engaged" in ana.text


# --- R3: fair round robin, least loaded, capacity, deactivated ------------------------------


def test_r3_round_robin_is_fair_and_skips_full_and_deactivated_reps(app, world, run_jobs):
    """R3: 9 leads over 3 eligible reps → 3 each (the pointer is in the database);
    a full rep and a deactivated rep get none."""
    line = world["line"]
    carl = make_rep([line], name="Carl")
    full = make_rep([line], capacity=1, name="Full")
    make_lead(stage=5, sales_ready=True, owner=full)
    gone = make_rep([line], name="Gone", is_active=False)
    add_rule("Line", "round_robin", cond("lead", "product_line_id", "equals", line.id))
    leads = [make_lead(product_line=line, stage=2) for _ in range(9)]
    become_sales_ready(app, *leads)
    run_jobs()
    owners = [reload(lead).owner_id for lead in leads]
    assert sorted(owners.count(rep.id) for rep in (world["ana"], world["ben"], carl)) == [3, 3, 3]
    assert full.id not in owners and gone.id not in owners
    assert PoolPointer.select().where(PoolPointer.pool_key == f"product_line:{line.id}").count() == 3


def test_r3_least_loaded_gives_the_lead_to_the_rep_with_most_room(app, world, run_jobs):
    """R3: capacity − open leads decides."""
    for _ in range(3):
        make_lead(stage=5, sales_ready=True, owner=world["ana"])
    add_rule("Line", "least_loaded", cond("lead", "product_line_id", "equals", world["line"].id))
    lead = make_lead(product_line=world["line"], stage=2)
    become_sales_ready(app, lead)
    run_jobs()
    assert reload(lead).owner_id == world["ben"].id


def test_r3_a_manual_assignment_counts_in_the_round_robin(app, world, run_jobs):
    """R3: a manager's assignment from the unassigned queue records an assignment
    and moves the rep to the back of the line of the lead's product line."""
    add_rule("Line", "round_robin", cond("lead", "product_line_id", "equals", world["line"].id))
    waiting = make_lead(product_line=world["line"], stage=5, sales_ready=True)
    manager = client_for(app, world["manager"])
    prefix = f"lead-{waiting.id}-"
    done = post(
        manager, f"/queues/unassigned/{waiting.id}/assign", {prefix + "owner_id": world["ana"].id}, True
    )
    assert done.status_code == 200
    manual = Assignment.get(Assignment.lead == waiting.id)
    assert (manual.rep_id, manual.reason, manual.assigned_by_id) == (
        world["ana"].id,
        "manual",
        world["manager"].id,
    )
    assert (
        PoolPointer.get(PoolPointer.pool_key == f"product_line:{world['line'].id}").rep_id == world["ana"].id
    )
    lead = make_lead(product_line=world["line"], stage=2)
    become_sales_ready(app, lead)
    run_jobs()
    assert reload(lead).owner_id == world["ben"].id  # Ana just had one
    # a reassignment from the lead page ends the live assignment and starts a manual one
    reassigned = post(manager, f"/leads/{lead.id}/actions/assign", {"owner_id": world["ana"].id}, True)
    assert reassigned.status_code == 200 and reload(lead).owner_id == world["ana"].id
    live = Assignment.select().where((Assignment.lead == lead.id) & Assignment.ended_at.is_null())
    assert [(row.rep_id, row.reason) for row in live] == [(world["ana"].id, "manual")]
    assert Assignment.get((Assignment.lead == lead.id) & (Assignment.rep == world["ben"].id)).end_reason == (
        assign.END_REASSIGNED
    )


# --- R4: no match → unassigned with a reason, re-run ------------------------------------------


def test_r4_no_matching_rule_leaves_the_lead_unassigned_with_a_reason_and_managers_rerun(
    app, world, run_jobs
):
    """R4: no rule matches → the managers' unassigned queue, reason on the row and the
    timeline; after a rule is added, "Re-run routing" assigns it."""
    add_rule("Storage only", "round_robin", cond("lead", "product_line_id", "equals", world["other_line"].id))
    lead = make_lead(product_line=world["line"], stage=2)
    become_sales_ready(app, lead)
    run_jobs()
    run_jobs()
    assert reload(lead).owner_id is None
    decision = Assignment.get(Assignment.lead == lead.id)  # one decision, though the job ran twice
    assert (decision.rep_id, decision.reason, decision.ended_at is not None) == (
        None,
        "no_rule_matched",
        True,
    )
    manager = client_for(app, world["manager"])
    queue = manager.get("/queues/unassigned").get_data(as_text=True)
    assert "No assignment rule matched" in queue and "Re-run routing" in queue
    add_rule("Analytics", "round_robin", cond("lead", "product_line_id", "equals", world["line"].id))
    response = post(manager, f"/routing/rerun/{lead.id}")
    assert response.status_code == 302
    assert reload(lead).owner_id in (world["ana"].id, world["ben"].id)


def test_r4_a_pool_with_nobody_eligible_gives_no_eligible_rep(app, world, run_jobs):
    """R4: the matched rule decides even when its pool is all away."""
    now = utcnow()
    for rep in (world["ana"], world["ben"]):
        manage.save_profile(rep, 20, now - dt.timedelta(hours=1), None, [world["line"].id])
    add_rule("Line", "round_robin", cond("lead", "product_line_id", "equals", world["line"].id))
    lead = make_lead(product_line=world["line"], stage=2)
    become_sales_ready(app, lead)
    run_jobs()
    assert reload(lead).owner_id is None
    assert Assignment.get(Assignment.lead == lead.id).reason == "no_eligible_rep"


# --- R6: accept, decline, time-out ---------------------------------------------------------


def routed_lead(app, run_jobs, world, hours=None):
    add_rule("Line", "round_robin", cond("lead", "product_line_id", "equals", world["line"].id), hours)
    lead = make_lead(product_line=world["line"], stage=2)
    become_sales_ready(app, lead)
    run_jobs()
    return reload(lead)


def test_r6_accept_from_the_queue_marks_the_assignment_accepted(app, world, run_jobs):
    """R6: Accept sets Sales accepted and the assignment's acceptance time."""
    lead = routed_lead(app, run_jobs, world)
    rep = User.get_by_id(lead.owner_id)
    client = client_for(app, rep)
    assert "Decline…" in client.get("/queues/mine").get_data(as_text=True)
    response = post(client, f"/queues/mine/{lead.id}/sales_accept", htmx=True)
    assert response.status_code == 200 and reload(lead).sales_accepted
    assert Assignment.get(Assignment.lead == lead.id).accepted_at is not None
    load = client_for(app, world["manager"]).get("/routing/load").get_data(as_text=True)
    assert 'id="median-acceptance">0.0 h' in load


def test_r6_decline_needs_a_reason_and_reroutes_to_another_rep(app, world, run_jobs):
    """R6: a decline without a reason is refused inline; with one, the lead is
    routed again excluding that rep, who stays excluded."""
    lead = routed_lead(app, run_jobs, world)
    first = User.get_by_id(lead.owner_id)
    client = client_for(app, first)
    prefix = f"lead-{lead.id}-"
    missing = post(client, f"/queues/mine/{lead.id}/decline", {prefix + "reason": ""}, True)
    assert missing.status_code == 422 and "Say why you decline it." in missing.get_data(as_text=True)
    done = post(client, f"/queues/mine/{lead.id}/decline", {prefix + "reason": "Not my territory"}, True)
    assert done.status_code == 200 and reload(lead).owner_id is None
    run_jobs()
    second = reload(lead).owner_id
    assert second is not None and second != first.id
    declined = Assignment.get((Assignment.lead == lead.id) & Assignment.declined_at.is_null(False))
    assert declined.rep_id == first.id and "Not my territory" in declined.end_reason
    history = LeadHistory.select().where(
        (LeadHistory.lead == lead.id) & (LeadHistory.note == "Not my territory")
    )
    assert history.exists()
    # the second rep declines too: nobody is left in the line → unassigned, with the reason
    post(
        client_for(app, User.get_by_id(second)),
        f"/queues/mine/{lead.id}/decline",
        {prefix + "reason": "Busy"},
        True,
    )
    run_jobs()
    assert reload(lead).owner_id is None
    assert assign.last_reasons([lead.id]) == {lead.id: "no_eligible_rep"}


def test_r6_a_lead_not_accepted_in_time_is_rerouted_by_the_sweeper(app, world, run_jobs):
    """R6: the rule's time limit passes → the sweeper takes the lead back and routes it
    to another rep; an accepted lead is left alone."""
    lead = routed_lead(app, run_jobs, world, hours=4)
    first = lead.owner_id
    live = Assignment.get(Assignment.lead == lead.id)
    assert live.due_at is not None
    with app.app_context():
        assert sweep(now=utcnow() + dt.timedelta(hours=1))  # not yet
    assert reload(lead).owner_id == first
    with app.app_context():
        sweep(now=utcnow() + dt.timedelta(hours=5))
    run_jobs()
    fresh = reload(lead)
    assert fresh.owner_id not in (None, first)
    assert Assignment.get_by_id(live.id).end_reason == assign.END_OVERDUE
    timeline = [row.via for row in LeadHistory.select().where(LeadHistory.lead == lead.id)]
    assert any("not accepted in time" in (via or "") for via in timeline)


# --- The managers' pages --------------------------------------------------------------------


def test_g1_reps_cannot_reach_the_routing_pages(app, world):
    """G1: rule, profile, load and re-run pages refuse reps (403)."""
    rep = client_for(app, world["ana"])
    rule = add_rule("Any", "round_robin")
    for path in (
        "/routing/rules",
        "/routing/rules/new",
        f"/routing/rules/{rule.id}",
        "/routing/reps",
        f"/routing/reps/{world['ben'].id}",
        "/routing/load",
    ):
        assert rep.get(path).status_code == 403, path
    for path in (
        f"/routing/rules/{rule.id}/move/up",
        f"/routing/rules/{rule.id}/switch/off",
        "/routing/rerun/1",
        f"/routing/rules/{rule.id}/delete",
    ):
        assert post(rep, path).status_code == 403, path
    assert rep.get("/notifications").status_code == 200  # their own notifications


def rule_form(name, strategy, rows=(), **more):
    data = {"name": name, "enabled": "y", "match": "and", "strategy": strategy, "pool": "product_line"}
    for index, (field, operator, value) in enumerate(rows):
        data |= {
            f"conditions-{index}-subject": field,
            f"conditions-{index}-operator": operator,
            f"conditions-{index}-value": value,
        }
    return data | more


def test_r4_managers_add_edit_reorder_and_switch_rules_with_errors_inline(app, world):
    """R4: the rules page: add with conditions (errors next to the field), edit,
    move up, switch off; the router then uses that order."""
    client = client_for(app, world["manager"])
    bad = post(client, "/routing/rules/new", rule_form("Named", "named_user", [("lead.country", "gt", "")]))
    page = bad.get_data(as_text=True)
    assert bad.status_code == 422 and "Choose an active sales rep." in page and "Enter a value." in page
    ok = post(
        client,
        "/routing/rules/new",
        rule_form("Analytics", "round_robin", [("lead.product_line_id", "equals", str(world["line"].id))]),
    )
    assert ok.status_code == 302
    post(
        client,
        "/routing/rules/new",
        rule_form(
            "Ben for FR",
            "named_user",
            [("lead.country", "in_list", "FR, BE")],
            user_id=str(world["ben"].id),
            accept_within_hours="8",
        ),
    )
    first, second = manage.ordered_rules()
    assert (first.name, second.name, second.accept_within_hours) == ("Analytics", "Ben for FR", 8)
    assert second.definition["conditions"]["items"][0]["value"] == ["FR", "BE"]
    post(client, f"/routing/rules/{second.id}/move/up")
    assert [row.name for row in manage.ordered_rules()] == ["Ben for FR", "Analytics"]
    post(client, f"/routing/rules/{second.id}/switch/off")
    assert not AssignmentRule.get_by_id(second.id).enabled
    edit = client.get(f"/routing/rules/{second.id}").get_data(as_text=True)
    assert (
        '<option value="FR" selected>' in edit and '<option value="BE" selected>' in edit
    )  # the country select
    renamed = post(
        client,
        f"/routing/rules/{second.id}",
        rule_form(
            "Ben for FR and BE",
            "named_user",
            [("lead.country", "in_list", "FR, BE")],
            user_id=str(world["ben"].id),
        ),
    )
    assert renamed.status_code == 302 and AssignmentRule.get_by_id(second.id).name == "Ben for FR and BE"
    listing = client.get("/routing/rules").get_data(as_text=True)
    assert "Lead country is one of FR, BE" in listing and "Turn off" in listing  # saved as on again


def test_r1_test_the_rule_set_on_a_lead_shows_the_trace_and_stores_nothing(app, world):
    """R1: "test this rule set on a lead" shows the decision trace; nothing is stored."""
    add_rule("Analytics", "round_robin", cond("lead", "product_line_id", "equals", world["line"].id))
    lead = make_lead(product_line=world["line"], stage=5, sales_ready=True)
    client = client_for(app, world["manager"])
    page = client.get(f"/routing/rules?lead_id={lead.id}").get_data(as_text=True)
    assert "Rule 1 &#39;Analytics&#39; matched" in page and "nothing was stored" in page
    assert reload(lead).owner_id is None and not Assignment.select().exists()
    missing = client.get("/routing/rules?lead_id=999999").get_data(as_text=True)
    assert "No such lead." in missing


def test_r3_managers_edit_rep_profiles_and_see_the_load_chart(app, world):
    """R3: capacity, time away and product lines are saved; the load page draws one
    bar per active rep (SVG, no inline style) with the unassigned count."""
    client = client_for(app, world["manager"])
    bad = post(
        client,
        f"/routing/reps/{world['ana'].id}",
        {"capacity": "5", "away_from": "2030-01-02T00:00", "away_until": "2030-01-01T00:00"},
    )
    assert bad.status_code == 422 and "Must be after" in bad.get_data(as_text=True)
    ok = post(
        client,
        f"/routing/reps/{world['ana'].id}",
        {"capacity": "5", "product_lines": [str(world["other_line"].id), str(world["line"].id)]},
    )
    assert ok.status_code == 302
    lines = {r.product_line_id for r in RepProductLine.select().where(RepProductLine.rep == world["ana"].id)}
    assert lines == {world["line"].id, world["other_line"].id}
    make_lead(stage=5, sales_ready=True, owner=world["ana"])
    make_lead(stage=5, sales_ready=True)
    load = client.get("/routing/load").get_data(as_text=True)
    assert load.count('class="load-bar"') == 3 and "1/5" in load and "style=" not in load
    assert 'id="unassigned-count">1<' in load
    assert "Analytics, Storage" in client.get("/routing/reps").get_data(as_text=True)


def test_r2_notifications_badge_polls_and_marks_read(app, world):
    """R2: the header badge shows the unread count and polls a fragment every 5 s;
    notifications are marked read one by one or all; another user's are 404."""
    assign.notify(world["ana"].id, "assigned", "Lead assigned to you: X")
    assign.notify(world["ana"].id, "engaged", "Y engaged")
    other = Notification.create(user=world["ben"], kind="engaged", text="Z")
    client = client_for(app, world["ana"])
    page = client.get("/queues/mine").get_data(as_text=True)
    assert 'hx-trigger="every 5s"' in page and re.search(r'notify-count">2<', page)
    badge = client.get("/notifications/badge", headers=HX).get_data(as_text=True)
    assert 'notify-count">2<' in badge and "<html" not in badge
    first = Notification.get(Notification.text == "Y engaged")
    assert post(client, f"/notifications/{first.id}/read").status_code == 302
    assert 'notify-count">1<' in client.get("/notifications/badge", headers=HX).get_data(as_text=True)
    assert post(client, f"/notifications/{other.id}/read").status_code == 404
    post(client, "/notifications/read-all")
    assert "notify-count" not in client.get("/notifications/badge", headers=HX).get_data(as_text=True)
    assert "Lead assigned to you: X" in client.get("/notifications").get_data(as_text=True)


def test_r1_a_lead_marked_sales_ready_by_hand_is_routed_too(app, world, run_jobs):
    """R1: a teleprospector's Sales ready (P5, from the lead page) routes the lead as well."""
    add_rule("Line", "round_robin", cond("lead", "product_line_id", "equals", world["line"].id))
    lead = make_lead(product_line=world["line"], stage=lc.TP_QUALIFICATION, tp_accepted=True)
    client = client_for(app, make_user("teleprospector"))
    done = post(client, f"/leads/{lead.id}/actions/sales_ready", htmx=True)
    assert done.status_code == 200 and reload(lead).sales_ready
    run_jobs()
    assert reload(lead).owner_id in (world["ana"].id, world["ben"].id)


# --- R1 at scale: one job per product line, batches written together (issue 16) ---------


def _waiting_leads(line, count):
    return [make_lead(product_line=line, stage=lc.SALES_ACCEPTANCE, sales_ready=True) for _ in range(count)]


def test_r1_a_burst_of_sales_ready_leads_is_one_routing_job_per_product_line(app, world, run_jobs):
    """R1 (issue 16): leads of one product line handed to routing while its job
    waits in the queue add no job; the job routes them all (a batch, one lock
    take), and a lead arriving after the job started gets a new one."""
    from leads.base.queue import get_queue

    add_rule("Analytics", "round_robin", cond("lead", "product_line_id", "equals", world["line"].id))
    add_rule("Storage", "round_robin", cond("lead", "product_line_id", "equals", world["other_line"].id))
    first, other = _waiting_leads(world["line"], 5), _waiting_leads(world["other_line"], 2)
    with app.app_context(), assign.transaction():
        for lead in first + other:
            assign.route_later(lead)
    with app.app_context():
        queue = get_queue("routing")
        assert queue.count == 2  # one per product line, not one per lead
    run_jobs()
    owners = {lead.id: reload(lead).owner_id for lead in first + other}
    assert {owners[lead.id] for lead in first} == {world["ana"].id, world["ben"].id}
    assert {owners[lead.id] for lead in other} == {world["olga"].id}
    assert Assignment.select().count() == 7
    late = _waiting_leads(world["line"], 1)[0]
    with app.app_context():
        assign.route_later(late)
        assert queue.count == 1
    run_jobs()
    assert reload(late).owner_id in (world["ana"].id, world["ben"].id)


def test_o2_r1_a_routing_job_lost_before_it_started_holds_its_line_only_briefly(
    app, world, run_jobs, monkeypatch
):
    """O2/R1 (issue 16): "a job of this line is queued" lapses by itself, so a
    job lost with a killed worker before it started does not keep the line's
    later leads (or the sweeper's re-enqueue) from getting a job."""
    import time

    from leads.base.queue import get_queue

    monkeypatch.setattr(assign, "WANTED_SECONDS", 1)
    add_rule("Analytics", "round_robin", cond("lead", "product_line_id", "equals", world["line"].id))
    lead = _waiting_leads(world["line"], 1)[0]
    with app.app_context():
        queue = get_queue("routing")
        assert assign.want_routing(world["line"].id)
        queue.empty()  # the job is gone; its key is still there
        assign.route_later(lead)
        assert queue.count == 0
        deadline = time.monotonic() + 10
        while not assign.want_routing(world["line"].id) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert queue.count == 1
    run_jobs()
    assert reload(lead).owner_id in (world["ana"].id, world["ben"].id)


def test_o2_r1_the_sweeper_routes_leads_of_every_product_line_whose_jobs_were_lost(app, world, run_jobs):
    """O2/R1: leads left waiting with no decision (their line's job lost with
    Redis) are found by the sweeper, which enqueues the job of each one's own
    product line (and of no line): every lead is routed once."""
    from leads.base.queue import get_queue
    from routing.jobs import sweep_overdue

    add_rule("Analytics", "round_robin", cond("lead", "product_line_id", "equals", world["line"].id))
    add_rule("Storage", "round_robin", cond("lead", "product_line_id", "equals", world["other_line"].id))
    leads = (
        _waiting_leads(world["line"], 3) + _waiting_leads(world["other_line"], 2) + _waiting_leads(None, 1)
    )
    with app.app_context():
        assert get_queue("routing").count == 0  # nothing was ever enqueued for them: as if lost
        done = sweep_overdue(now=utcnow() + dt.timedelta(minutes=1))
        assert done["unrouted"] == 6
        assert get_queue("routing").count == 3  # one job per product line, and one for no line
    run_jobs()
    owners = {lead.id: reload(lead).owner_id for lead in leads}
    assert {owners[lead.id] for lead in leads[:3]} <= {world["ana"].id, world["ben"].id}
    assert {owners[lead.id] for lead in leads[3:5]} == {world["olga"].id}
    assert owners[leads[5].id] is None  # no rule for leads of no line: decided, left unassigned
    decisions = [lead_id for (lead_id,) in Assignment.select(Assignment.lead).tuples()]
    assert sorted(decisions) == sorted(lead.id for lead in leads)  # one decision each


def test_r1_a_conflict_in_a_batch_stores_the_other_leads_one_by_one(app, world):
    """R1 (issue 16): a batch's decisions are written together; when one lead
    conflicts (a live assignment appeared for it meanwhile), that lead alone is
    left out and the others are stored, each once, round robin still fair."""
    add_rule("Analytics", "round_robin", cond("lead", "product_line_id", "equals", world["line"].id))
    leads = _waiting_leads(world["line"], 4)
    stale = leads[2]
    earlier = utcnow() - dt.timedelta(hours=1)  # before the lead's last change: no decision since
    Assignment.create(lead=stale, rep=None, decision={}, reason="assigned", created_at=earlier)  # live
    with app.app_context():
        outcomes = assign.route_batch(leads[0].id, batch=4)
    assert {lead_id: outcome.status for lead_id, outcome in outcomes.items()} == {
        leads[0].id: "assigned",
        leads[1].id: "assigned",
        stale.id: "conflict",
        leads[3].id: "assigned",
    }
    owners = [reload(lead).owner_id for lead in leads]
    assert owners[2] is None
    assert sorted(owner for owner in owners if owner) == sorted([world["ana"].id, world["ben"].id, owners[0]])
    assert Assignment.select().where(Assignment.ended_at.is_null()).count() == 4
    assert LeadHistory.select().where(LeadHistory.kind == "routing").count() == 3
