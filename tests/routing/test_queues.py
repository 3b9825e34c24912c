"""Work queues through the test client on SQLite and PostgreSQL (SPEC P4–P6, P8,
R4, R6, G1): who sees which leads, row actions swapping the row in place,
refusals by policy (403) and by record access (404), errors inline (422)."""

from __future__ import annotations

from leads.core import lifecycle as lc
from leads.records.models import Lead, LeadHistory
from tests.factories import count_queries, csrf_token, login, make_lead, make_product_line, make_user

HX = {"HX-Request": "true"}
REQUIRED = {"budget": "Over 250k", "authority": "Signs the budget", "need": "Two sites", "timeframe": "Later"}


def as_user(app, role, **kw):
    """A fresh client signed in as a new user with ``role``; returns (client, user)."""
    user = make_user(role, **kw)
    return login(app.test_client(), user), user


def row_post(client, queue, lead_id, action, data=None, htmx=True):
    """POST a row action, with the row's field prefix added to ``data``'s names."""
    headers = {"X-CSRFToken": csrf_token(client), **(HX if htmx else {})}
    form = {f"lead-{lead_id}-{name}": value for name, value in (data or {}).items()}
    return client.post(f"/queues/{queue}/{lead_id}/{action}", data=form, headers=headers)


def findings(values):
    return {f"q_{key}": value for key, value in values.items()}


def reload(lead):
    return Lead.get_by_id(lead.id)


def text(response):
    return response.get_data(as_text=True)


def row_id(lead):
    return f'id="queue-row-{lead.id}"'


# -- who may open which queue ---------------------------------------------------------


def test_p8_g1_queue_pages_follow_the_role_policies(app):
    """Teleprospecting: teleprospectors, managers, admins; mine: reps; unassigned: managers, admins."""
    expected = {
        "teleprospector": {"teleprospecting": 200, "mine": 403, "unassigned": 403},
        "rep": {"teleprospecting": 403, "mine": 200, "unassigned": 403},
        "manager": {"teleprospecting": 200, "mine": 403, "unassigned": 200},
        "admin": {"teleprospecting": 200, "mine": 403, "unassigned": 200},
        "marketer": {"teleprospecting": 403, "mine": 403, "unassigned": 403},
    }
    for role, pages in expected.items():
        client, _ = as_user(app, role)
        for queue, status in pages.items():
            assert client.get(f"/queues/{queue}").status_code == status, (role, queue)


def test_g1_row_actions_are_refused_by_policy_403_and_by_record_404(app):
    rep_client, rep = as_user(app, "rep")
    tp_lead = make_lead(stage=3)
    other_reps_lead = make_lead(stage=5, sales_ready=True, owner=make_user("rep"))
    assert row_post(rep_client, "teleprospecting", tp_lead.id, "tp_accept").status_code == 403
    assert row_post(rep_client, "unassigned", other_reps_lead.id, "assign").status_code == 403
    assert row_post(rep_client, "mine", other_reps_lead.id, "sales_accept").status_code == 404
    own = make_lead(stage=5, sales_ready=True, owner=rep)
    assert row_post(rep_client, "mine", own.id, "assign").status_code == 404  # not a row action here
    tp_client, _ = as_user(app, "teleprospector")
    assert row_post(tp_client, "teleprospecting", own.id, "tp_accept").status_code == 404  # stage 5: unseen
    assert reload(tp_lead).stage == 3 and not reload(other_reps_lead).sales_accepted
    assert LeadHistory.select().count() == 0


# -- the teleprospecting queue (P4, P5) ---------------------------------------------------------


def test_p4_p8_the_teleprospecting_tabs_show_stages_3_and_4_only(app):
    client, tp = as_user(app, "teleprospector")
    to_accept = make_lead(stage=3, last_name="Accept")
    in_call = make_lead(stage=4, tp_accepted=True, teleprospector=tp, last_name="Calling")
    hidden = [
        make_lead(stage=2),
        make_lead(stage=5, sales_ready=True),
        make_lead(stage=3, status="disqualified"),
    ]
    unclaimed = text(client.get("/queues/teleprospecting?tab=unclaimed"))
    assert row_id(to_accept) in unclaimed and row_id(in_call) not in unclaimed
    assert f"/queues/teleprospecting/{to_accept.id}/tp_accept" in unclaimed
    mine = text(client.get("/queues/teleprospecting?tab=mine"))
    assert row_id(in_call) in mine and row_id(to_accept) not in mine
    assert f'name="lead-{in_call.id}-q_budget"' in mine and 'class="primary">Sales ready</button>' in mine
    assert not any(row_id(lead) in unclaimed + mine for lead in hidden)


def test_p4_accepting_a_row_swaps_it_for_the_qualification_form(app):
    client, tp = as_user(app, "teleprospector")
    lead = make_lead(stage=3)
    response = row_post(client, "teleprospecting", lead.id, "tp_accept")
    html = text(response)
    assert response.status_code == 200 and html.lstrip().startswith(f'<li class="queue-row" {row_id(lead)}')
    assert "Accepted for teleprospecting." in html and f'name="lead-{lead.id}-q_need"' in html
    assert (reload(lead).stage, reload(lead).teleprospector_id) == (lc.TP_QUALIFICATION, tp.id)
    row = LeadHistory.get((LeadHistory.lead == lead.id) & (LeadHistory.kind == "stage"))
    assert (row.old_value, row.new_value, row.actor_id) == ("3", "4", tp.id)


def test_p5_sales_ready_from_the_queue_needs_the_findings_then_hands_the_lead_on(app):
    client, tp = as_user(app, "teleprospector")
    lead = make_lead(stage=4, tp_accepted=True)
    missing = row_post(
        client, "teleprospecting", lead.id, "qualify", {"q_need": "Yes", "mark_sales_ready": "1"}
    )
    assert missing.status_code == 422 and text(missing).count("Needed before the lead is sales-ready.") == 3
    assert row_id(lead) in text(missing) and reload(lead).stage == 4

    done = row_post(
        client, "teleprospecting", lead.id, "qualify", {**findings(REQUIRED), "mark_sales_ready": "1"}
    )
    html = text(done)
    assert done.status_code == 200 and 'class="queue-row done"' in html
    assert "Findings saved. Marked sales-ready: handed to sales." in html
    assert f'href="/leads/{lead.id}"' not in html  # no link to a lead they can no longer open
    fresh = reload(lead)
    assert (fresh.stage, fresh.sales_ready, fresh.qualification["budget"]) == (5, True, "Over 250k")
    kinds = {row.kind for row in LeadHistory.select().where(LeadHistory.actor == tp.id)}
    assert {"stage", "sales_ready", "qualification"} <= kinds


def test_p4_a_refused_row_action_answers_409_in_the_row(app):
    """Two teleprospectors, one lead: the second Accept is refused, the row says why."""
    first, _ = as_user(app, "teleprospector")
    second, _ = as_user(app, "teleprospector")
    lead = make_lead(stage=3)
    assert row_post(first, "teleprospecting", lead.id, "tp_accept").status_code == 200
    response = row_post(second, "teleprospecting", lead.id, "tp_accept")
    assert response.status_code == 409 and row_id(lead) in text(response)
    assert "Only a lead in Teleprospecting acceptance can be accepted for teleprospecting." in text(response)
    assert LeadHistory.select().where(LeadHistory.kind == "stage").count() == 1


# -- a rep's queue (P6, P8, R6) ------------------------------------------------------------------------


def test_p8_a_reps_queue_shows_only_their_own_open_sales_ready_leads(app):
    client, rep = as_user(app, "rep")
    mine = make_lead(stage=5, sales_ready=True, owner=rep)
    others = make_lead(stage=5, sales_ready=True, owner=make_user("rep"))
    closed = make_lead(stage=5, sales_ready=True, owner=rep, status=lc.QUALIFIED)
    unowned = make_lead(stage=5, sales_ready=True)
    html = text(client.get("/queues/mine"))
    assert row_id(mine) in html
    assert not any(row_id(lead) in html for lead in (others, closed, unowned))
    assert ">1</span>" in html  # the count covers only what they may see


def test_p6_accept_then_convert_from_the_queue(app):
    client, rep = as_user(app, "rep")
    lead = make_lead(stage=5, sales_ready=True, owner=rep)
    accepted = row_post(client, "mine", lead.id, "sales_accept")
    html = text(accepted)
    assert accepted.status_code == 200 and "Sales accepted." in html
    assert "Convert to opportunity" in html and "Decline</button>" not in html
    converted = row_post(client, "mine", lead.id, "convert")
    assert 'class="queue-row done"' in text(converted) and "Converted to an opportunity." in text(converted)
    assert reload(lead).status == lc.QUALIFIED
    assert {r.actor_id for r in LeadHistory.select().where(LeadHistory.lead == lead.id)} == {rep.id}


def test_r6_declining_hands_the_lead_back_to_the_managers(app):
    client, rep = as_user(app, "rep")
    lead = make_lead(stage=5, sales_ready=True, owner=rep)
    response = row_post(client, "mine", lead.id, "decline", {"reason": "Not my territory"})  # R6
    assert response.status_code == 200 and "back in the unassigned queue" in text(response)
    assert reload(lead).owner_id is None
    manager, _ = as_user(app, "manager")
    assert row_id(lead) in text(manager.get("/queues/unassigned"))


def test_p6_disqualify_from_the_queue_needs_a_reason(app):
    client, rep = as_user(app, "rep")
    lead = make_lead(stage=5, sales_ready=True, owner=rep, sales_accepted=True)
    invalid = row_post(client, "mine", lead.id, "disqualify", {"reason": ""})
    assert invalid.status_code == 422 and "Choose a reason." in text(invalid)
    assert f'id="lead-{lead.id}-reason"' in text(invalid)
    done = row_post(client, "mine", lead.id, "disqualify", {"reason": "competitor", "comment": "Went with X"})
    assert done.status_code == 200 and "Disqualified: Went with a competitor." in text(done)
    assert (reload(lead).status, reload(lead).status_reason) == (lc.DISQUALIFIED, "competitor")


def test_a_plain_row_post_redirects_back_to_the_queue(app):
    client, rep = as_user(app, "rep")
    lead = make_lead(stage=5, sales_ready=True, owner=rep)
    response = row_post(client, "mine", lead.id, "sales_accept", htmx=False)
    assert response.status_code == 302 and response.headers["Location"].endswith("/queues/mine")
    assert "Sales accepted." in text(client.get("/queues/mine"))
    refused = row_post(client, "mine", lead.id, "sales_accept", htmx=False)
    assert refused.status_code == 409 and "<html" in text(refused)
    assert "The lead is already sales-accepted." in text(refused)


# -- the unassigned queue (P6, R4) -----------------------------------------------------------------------


def test_p6_r4_a_manager_assigns_from_the_unassigned_queue(app):
    client, manager = as_user(app, "manager")
    rep = make_user("rep", name="Rita Rep")
    make_user("rep", name="Idle Rep", is_active=False)
    lead = make_lead(stage=5, sales_ready=True)
    owned = make_lead(stage=5, sales_ready=True, owner=rep)
    html = text(client.get("/queues/unassigned"))
    assert row_id(lead) in html and row_id(owned) not in html
    assert "Rita Rep" in html and "Idle Rep" not in html
    response = row_post(client, "unassigned", lead.id, "assign", {"owner_id": str(rep.id)})
    assert response.status_code == 200 and "Assigned to Rita Rep." in text(response)
    assert 'class="queue-row done"' in text(response)
    assert reload(lead).owner_id == rep.id and reload(lead).assigned_at is not None
    rep_client = login(app.test_client(), rep)
    assert row_id(lead) in text(rep_client.get("/queues/mine"))


def test_p6_assigning_to_someone_who_is_not_an_active_rep_is_a_form_error(app):
    client, _ = as_user(app, "manager")
    lead = make_lead(stage=5, sales_ready=True)
    marketer = make_user("marketer")
    response = row_post(client, "unassigned", lead.id, "assign", {"owner_id": str(marketer.id)})
    assert response.status_code == 422 and "Not a valid choice" in text(response)
    assert reload(lead).owner_id is None


# -- size and cost -------------------------------------------------------------------------------------


def test_queues_are_capped_with_the_total_shown(app, monkeypatch):
    import routing.queue_views

    monkeypatch.setattr(routing.queue_views, "QUEUE_LIMIT", 3)
    client, _ = as_user(app, "manager")
    leads = [make_lead(stage=5, sales_ready=True) for _ in range(5)]
    html = text(client.get("/queues/unassigned"))
    assert "Showing the 3 oldest of 5" in html
    assert [row_id(lead) in html for lead in leads] == [True, True, True, False, False]


def test_queue_pages_run_a_fixed_number_of_queries(app):
    """STYLE 7: no query per row (product line, owner, teleprospector come joined)."""
    client, _ = as_user(app, "manager")
    line = make_product_line()

    def queries_for(path):
        with count_queries() as queries:
            assert client.get(path).status_code == 200
        return len(queries)

    make_lead(stage=3, product_line=line)
    make_lead(stage=4, product_line=line, teleprospector=make_user("teleprospector"))
    make_lead(stage=5, sales_ready=True, product_line=line)
    few = (queries_for("/queues/teleprospecting"), queries_for("/queues/unassigned"))
    for _ in range(6):
        make_lead(stage=3, product_line=line)
        make_lead(stage=4, product_line=line, teleprospector=make_user("teleprospector"))
        make_lead(stage=5, sales_ready=True, product_line=line)
    many = (queries_for("/queues/teleprospecting"), queries_for("/queues/unassigned"))
    assert few == many
