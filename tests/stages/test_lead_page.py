"""The lead page through the test client on SQLite and PostgreSQL (SPEC P1–P8, G1):
stage bar, stage panels, every action end to end with its history, refusals
(409, nothing stored), form errors (422, inline), record access (404) and
htmx fragments against full pages."""

from __future__ import annotations

import re

from leads.core import lifecycle as lc
from leads.records.models import Campaign, Lead, LeadHistory
from leads.stages.models import QualificationField
from tests.factories import (
    count_queries,
    csrf_token,
    login,
    make_contact,
    make_lead,
    make_product_line,
    make_user,
)

HX = {"HX-Request": "true"}
FINDINGS = {
    "q_budget": "10k–50k",
    "q_authority": "Decision maker",
    "q_need": "Replacing spreadsheets",
    "q_timeframe": "This quarter",
    "q_notes": "Call back Tuesday",
}


def post(client, lead_id, action, data=None, htmx=True):
    """POST a stage action as the signed-in client (token in the header, as app.js sends it)."""
    headers = {"X-CSRFToken": csrf_token(client), **(HX if htmx else {})}
    return client.post(f"/leads/{lead_id}/actions/{action}", data=data or {}, headers=headers)


def history(lead_id):
    return list(LeadHistory.select().where(LeadHistory.lead == lead_id).order_by(LeadHistory.id))


def reload(lead):
    return Lead.get_by_id(lead.id)


def text(response):
    return response.get_data(as_text=True)


def as_user(app, role, **kw):
    """A fresh client signed in as a new user with ``role``; returns (client, user)."""
    user = make_user(role, **kw)
    return login(app.test_client(), user), user


def stage_link(html, stage):
    """The class attribute of the stage bar's link to ``stage``."""
    match = re.search(rf'href="/leads/\d+/stages/{stage}"[^>]*class="([^"]+)"', html, re.S)
    return match.group(1).split()


# -- the page --------------------------------------------------------------------


def test_p1_p6_page_shows_summary_and_the_stage_bar_with_the_current_stage(app):
    """P1–P6: summary, the five stages plus the two end states, current and done marked."""
    client, _ = as_user(app, "manager")
    rep = make_user("rep", name="Rita Rep")
    line = make_product_line(name="Analytics Cloud")
    campaign = Campaign.create(name="Spring webinar", product_line=line)
    contact = make_contact(first_name="Ada", last_name="King")
    lead = make_lead(
        stage=5,
        sales_ready=True,
        owner=rep,
        product_line=line,
        campaign=campaign,
        contact=contact,
        job_title="CTO",
        status_reason=lc.REASON_SALES_READY,
    )
    response = client.get(f"/leads/{lead.id}")
    html = text(response)
    assert response.status_code == 200 and "<html" in html
    for name in [*lc.STAGES.values(), "Converted", "Disqualified"]:
        assert name in html
    for expected in ("Rita Rep", "Analytics Cloud", "Spring webinar", "Ada King", "CTO", "Sales ready"):
        assert expected in html
    assert "current" in stage_link(html, 5) and "selected" in stage_link(html, 5)
    assert "done" in stage_link(html, 1) and "skipped" in stage_link(html, 3)
    assert 'aria-current="step"' in html


def test_p1_a_stage_click_returns_the_stages_fragment_for_htmx_and_the_full_page_otherwise(app):
    """P1, STYLE 10: the panel of any stage is a real URL; htmx gets only the region."""
    client, _ = as_user(app, "manager")
    lead = make_lead(stage=2)
    fragment = client.get(f"/leads/{lead.id}/stages/4", headers=HX)
    assert fragment.status_code == 200 and "HX-Request" in fragment.headers["Vary"]
    html = text(fragment)
    assert html.lstrip().startswith('<div id="lead-stages"') and "<html" not in html
    assert "4. Teleprospecting qualification" in html and "selected" in stage_link(html, 4)
    assert "Move the lead to Teleprospecting qualification" in html  # P1 by hand
    page = client.get(f"/leads/{lead.id}/stages/4")
    assert "<html" in text(page) and 'id="lead-timeline"' in text(page)
    assert client.get(f"/leads/{lead.id}/stages/6").status_code == 404


def test_g1_a_rep_gets_404_for_another_reps_lead_everywhere(app):
    """G1/P8: not 403, 404 — the page, a stage panel and an action."""
    client, _ = as_user(app, "rep")
    other = make_user("rep")
    lead = make_lead(stage=5, sales_ready=True, owner=other)
    assert client.get(f"/leads/{lead.id}").status_code == 404
    assert client.get(f"/leads/{lead.id}/stages/5", headers=HX).status_code == 404
    assert post(client, lead.id, "sales_accept").status_code == 404
    assert client.get("/leads/999999").status_code == 404
    assert reload(lead).sales_accepted is False


def test_p8_a_teleprospector_opens_only_leads_in_their_stages(app):
    client, _ = as_user(app, "teleprospector")
    assert client.get(f"/leads/{make_lead(stage=3).id}").status_code == 200
    assert client.get(f"/leads/{make_lead(stage=2).id}").status_code == 404
    assert client.get(f"/leads/{make_lead(stage=5, sales_ready=True).id}").status_code == 404


def test_the_page_requires_sign_in(app):
    client = app.test_client()
    response = client.get(f"/leads/{make_lead().id}")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_buttons_follow_the_role(app):
    """Only the buttons the role may use are shown (the server checks anyway)."""
    lead = make_lead(stage=2)
    marketer, _ = as_user(app, "marketer")
    html = text(marketer.get(f"/leads/{lead.id}"))
    assert "Ready for teleprospecting</button>" in html and "Sales ready</button>" in html
    rep_lead = make_lead(stage=5, sales_ready=True)
    rep_client, rep = as_user(app, "rep")
    Lead.update(owner=rep).where(Lead.id == rep_lead.id).execute()
    html = text(rep_client.get(f"/leads/{rep_lead.id}"))
    assert "Accept</button>" in html and "Decline</button>" in html
    assert (
        "Convert to opportunity" not in html and "Move the lead" not in html and "Assign</button>" not in html
    )


# -- actions end to end ------------------------------------------------------------------


def test_p2_p4_p5_p6_p7_the_whole_process_through_the_lead_page(app):
    """Each action end to end: state stored, history rows with the actor, the
    body fragment answered, and the teleprospector told the lead left their view."""
    marketer_client, marketer = as_user(app, "marketer")
    tp_client, tp = as_user(app, "teleprospector", name="Tess Teleprospector")
    manager_client, manager = as_user(app, "manager")
    rep_client, rep = as_user(app, "rep", name="Rita Rep")
    lead = make_lead(stage=2)

    response = post(marketer_client, lead.id, "ready_for_tp")  # P2
    assert response.status_code == 200 and 'id="lead-body"' in text(response)
    assert "Sent to teleprospecting." in text(response)
    assert reload(lead).stage == lc.TP_ACCEPTANCE

    assert post(tp_client, lead.id, "tp_accept").status_code == 200  # P4
    assert (reload(lead).stage, reload(lead).teleprospector_id) == (lc.TP_QUALIFICATION, tp.id)

    response = post(tp_client, lead.id, "qualify", FINDINGS)  # P5: save only
    assert response.status_code == 200 and "Findings saved." in text(response)
    assert reload(lead).qualification["budget"] == "10k–50k" and reload(lead).stage == 4

    response = post(tp_client, lead.id, "qualify", {**FINDINGS, "mark_sales_ready": "1"})  # P5
    assert response.status_code == 200
    assert "has left your view" in text(response) and 'id="lead-body"' in text(response)
    assert (reload(lead).stage, reload(lead).sales_ready) == (lc.SALES_ACCEPTANCE, True)

    assert post(manager_client, lead.id, "assign", {"owner_id": rep.id}).status_code == 200  # P6
    assert reload(lead).owner_id == rep.id
    assert post(rep_client, lead.id, "sales_accept").status_code == 200
    response = post(rep_client, lead.id, "convert")
    assert response.status_code == 200 and "Converted to an opportunity." in text(response)
    assert (reload(lead).status, reload(lead).status_reason) == (lc.QUALIFIED, lc.REASON_CONVERTED)

    rows = history(lead.id)  # P7: from, to, who, when
    stage_rows = [(r.old_value, r.new_value, r.actor_id) for r in rows if r.kind == "stage"]
    assert stage_rows == [("2", "3", marketer.id), ("3", "4", tp.id), ("4", "5", tp.id)]
    assert ("owner", None, str(rep.id), manager.id) in [
        (r.kind, r.old_value, r.new_value, r.actor_id) for r in rows
    ]
    assert all(r.via == "web" and r.created_at for r in rows)

    html = text(manager_client.get(f"/leads/{lead.id}"))  # P7: a readable timeline
    assert "Stage: Teleprospecting acceptance → Teleprospecting qualification" in html
    assert "Assigned to Rita Rep" in html and "Tess Teleprospector" in html
    assert "Status reason: Sales accepted → Converted to opportunity" in html
    assert "Qualification findings updated: Authority, Budget, Need, Notes, Timeframe" in html
    newest, oldest = (
        "Sales accepted → Converted",
        "Automated marketing qualification → Teleprospecting acceptance",
    )
    assert html.index(newest) < html.index(oldest)  # newest first


def test_p3_a_marketer_marks_a_stage_2_lead_sales_ready_skipping_teleprospecting(app):
    client, marketer = as_user(app, "marketer")
    lead = make_lead(stage=2)
    response = post(client, lead.id, "sales_ready")
    assert response.status_code == 200
    assert "skipped" in stage_link(text(response), 3) and "current" in stage_link(text(response), 5)
    assert (reload(lead).stage, reload(lead).sales_ready) == (5, True)
    assert [(r.kind, r.actor_id) for r in history(lead.id)][0] == ("stage", marketer.id)


def test_p1_a_manager_moves_a_lead_by_hand_and_a_rep_is_refused(app):
    client, manager = as_user(app, "manager")
    lead = make_lead(stage=2)
    response = post(client, lead.id, "move", {"stage": "4", "panel": "4"})
    assert response.status_code == 200 and "Moved to Teleprospecting qualification." in text(response)
    assert reload(lead).stage == 4
    assert [(r.kind, r.old_value, r.new_value, r.actor_id) for r in history(lead.id)] == [
        ("stage", "2", "4", manager.id)
    ]


def test_p6_r6_a_rep_declines_and_the_lead_leaves_their_view(app):
    client, rep = as_user(app, "rep")
    lead = make_lead(stage=5, sales_ready=True, owner=rep)
    response = post(client, lead.id, "decline")
    assert response.status_code == 200 and "has left your view" in text(response)
    assert reload(lead).owner_id is None
    plain = post(client, make_lead(stage=5, sales_ready=True, owner=rep).id, "decline", htmx=False)
    assert plain.status_code == 302 and plain.headers["Location"].endswith("/queues/mine")


def test_p6_disqualify_with_reason_and_note(app):
    client, manager = as_user(app, "manager")
    lead = make_lead(stage=3)
    response = post(client, lead.id, "disqualify", {"reason": "no_budget", "comment": "Frozen until 2026"})
    assert response.status_code == 200 and "Disqualified: No budget." in text(response)
    assert (reload(lead).status, reload(lead).status_reason) == (lc.DISQUALIFIED, "no_budget")
    assert {r.note for r in history(lead.id)} == {"Frozen until 2026"}
    html = text(client.get(f"/leads/{lead.id}"))
    assert "Frozen until 2026" in html and "Status reason: New → No budget" in html
    assert 'class="outcome outcome-disqualified current"' in html


# -- refusals and form errors ----------------------------------------------------------------


def test_p2_an_invalid_move_is_refused_with_409_and_nothing_is_stored(app):
    client, _ = as_user(app, "marketer")
    lead = make_lead(stage=1)
    response = post(client, lead.id, "ready_for_tp")
    assert response.status_code == 409
    html = text(response)
    assert 'id="lead-body"' in html and 'role="alert"' in html
    assert "Only a lead in Automated marketing qualification can be sent to teleprospecting." in html
    assert reload(lead).stage == 1 and history(lead.id) == []


def test_p1_role_refusals_are_409_with_the_reason(app):
    client, rep = as_user(app, "rep")
    lead = make_lead(stage=5, sales_ready=True, owner=rep)
    for action, data, message in [
        ("move", {"stage": "2"}, "Your role may not move leads between stages."),
        ("assign", {"owner_id": str(rep.id)}, "Your role may not assign leads."),
        ("convert", {}, "Accept the lead for sales before converting it."),
    ]:
        response = post(client, lead.id, action, data)
        assert response.status_code == 409 and message in text(response)
    assert reload(lead).stage == 5 and reload(lead).owner_id == rep.id and history(lead.id) == []
    plain = post(client, lead.id, "convert", htmx=False)
    assert plain.status_code == 409 and "<html" in text(plain)


def test_unknown_actions_are_404(app):
    client, _ = as_user(app, "admin")
    assert post(client, make_lead().id, "teleport").status_code == 404


def test_422_form_errors_are_shown_inline_and_nothing_is_stored(app):
    """Disqualify without a reason, assign to nobody: 422 with errors beside the fields."""
    client, _ = as_user(app, "manager")
    lead = make_lead(stage=5, sales_ready=True)
    response = post(client, lead.id, "disqualify", {"reason": ""})
    assert response.status_code == 422
    html = text(response)
    assert (
        '<p class="field-error">Choose a reason.</p>' in html and '<details class="disqualify" open>' in html
    )
    response = post(client, lead.id, "assign", {"owner_id": ""})
    assert response.status_code == 422 and "Choose a sales rep." in text(response)
    assert reload(lead).status == lc.OPEN and history(lead.id) == []


def test_p5_sales_ready_needs_the_required_findings(app):
    client, _ = as_user(app, "teleprospector")
    lead = make_lead(stage=4, tp_accepted=True)
    response = post(client, lead.id, "qualify", {"q_need": "Yes", "mark_sales_ready": "1"})
    assert response.status_code == 422
    html = text(response)
    assert html.count("Needed before the lead is sales-ready.") == 3  # budget, authority, timeframe
    assert "Yes</textarea>" in html  # what was typed stays
    assert reload(lead).stage == 4 and reload(lead).qualification == {} and history(lead.id) == []
    assert post(client, lead.id, "qualify", {"q_need": "Yes"}).status_code == 200  # saving a draft is fine


def test_p5_the_qualification_form_follows_the_configured_fields(app):
    """P5: the field set is configurable; inactive fields go, new ones appear."""
    QualificationField.update(active=False).where(QualificationField.key == "notes").execute()
    QualificationField.create(key="competitor", label="Current vendor", kind="text", position=9)
    client, _ = as_user(app, "teleprospector")
    lead = make_lead(stage=4, tp_accepted=True)
    html = text(client.get(f"/leads/{lead.id}"))
    assert "Current vendor" in html and 'name="q_competitor"' in html and 'name="q_notes"' not in html
    post(client, lead.id, "qualify", {"q_competitor": "Spreadsheets", "q_notes": "ignored"})
    assert reload(lead).qualification["competitor"] == "Spreadsheets"
    assert "notes" not in reload(lead).qualification


def test_p6_only_active_reps_can_be_assigned(app):
    client, _ = as_user(app, "manager")
    lead = make_lead(stage=5, sales_ready=True)
    marketer = make_user("marketer")
    gone = make_user("rep", is_active=False, name="Gone Rep")
    html = text(client.get(f"/leads/{lead.id}"))
    assert "Gone Rep" not in html
    for owner in (marketer, gone):
        response = post(client, lead.id, "assign", {"owner_id": str(owner.id)})
        assert response.status_code == 422 and "Not a valid choice" in text(response)
    assert reload(lead).owner_id is None


# -- plain form posts ------------------------------------------------------------------------------


def test_a_plain_form_post_redirects_back_to_the_page_with_a_message(app):
    """PRG without htmx; the message shows on the next page."""
    client, _ = as_user(app, "teleprospector")
    lead = make_lead(stage=3)
    response = post(client, lead.id, "tp_accept", htmx=False)
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/leads/{lead.id}")
    assert "Accepted for teleprospecting." in text(client.get(f"/leads/{lead.id}"))
    invalid = post(client, lead.id, "disqualify", {"reason": "", "panel": "4"}, htmx=False)
    assert invalid.status_code == 422 and "<html" in text(invalid) and "Choose a reason." in text(invalid)


def test_a_teleprospector_handing_a_lead_to_sales_is_sent_back_to_their_queue(app):
    client, _ = as_user(app, "teleprospector")
    lead = make_lead(stage=3)
    response = post(client, lead.id, "sales_ready", htmx=False)
    assert response.status_code == 302 and response.headers["Location"].endswith("/queues/teleprospecting")
    assert reload(lead).stage == 5


def test_the_lead_page_loads_in_a_fixed_number_of_queries(app):
    """STYLE 7: related records come with the lead, history names in one query."""
    client, manager = as_user(app, "manager")
    rep = make_user("rep")
    lead = make_lead(stage=5, sales_ready=True, product_line=make_product_line())
    post(client, lead.id, "assign", {"owner_id": str(rep.id)})
    for _ in range(3):
        post(client, lead.id, "move", {"stage": "2"})
        post(client, lead.id, "sales_ready")
        post(client, lead.id, "assign", {"owner_id": str(rep.id)})
    with count_queries() as queries:
        assert client.get(f"/leads/{lead.id}").status_code == 200
    # session, lead with its relations, reps for the assign form, labels, history, names,
    # then the scores, the score history and the interactions (S6), and the nav's unread-notification count;
    # the activities timeline (W1) adds its activities and the task form's assignees
    assert len(queries) <= 12, queries
