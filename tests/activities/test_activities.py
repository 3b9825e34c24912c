"""Activities on the lead (W1): notes, logged calls and tasks added inline on
the lead page (htmx, CSRF) and through the API, shown in one timeline with the
lead's history and interactions, newest first, filtered by kind; a note or a
call is also an interaction that scoring counts (S2, S4); edits and deletions
by the author, a manager or an admin only, and recorded; record access as the
lead's (G1). Both backends."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from auth.models import ADMIN, MANAGER, MARKETER, REP, TELEPROSPECTOR
from auth.sessions import issue_token
from leads.activities.models import Activity
from leads.base.db import utcnow
from leads.core import lifecycle
from leads.intake.interactions import record_interactions
from leads.notify.models import Notification
from leads.records.models import Interaction
from leads.scoring import services as scoring_admin
from leads.scoring.models import LeadScore, PendingScore
from leads.stages.services import perform
from tests.factories import count_queries, csrf_token, login, make_lead, make_user

HX = {"HX-Request": "true"}

CALL_RULES = {
    "attribute_rules": [],
    "behaviour_rules": [
        {
            "id": "calls",
            "label": "Connected calls",
            "type": "call_logged",
            "filters": [{"field": "outcome", "operator": "equals", "value": "connected"}],
            "window_days": 30,
            "per_occurrence": True,
            "cap": None,
            "points": 15,
        },
        {
            "id": "notes",
            "label": "Notes",
            "type": "note_added",
            "filters": [],
            "window_days": 30,
            "per_occurrence": True,
            "cap": None,
            "points": 1,
        },
    ],
    "sales_ready_threshold": None,
    "grades": [],
}


@pytest.fixture
def world(app):
    rep = make_user(REP)
    lead = make_lead(stage=lifecycle.SALES_ACCEPTANCE, sales_ready=True, owner=rep)
    return {"rep": rep, "lead": lead, "manager": make_user(MANAGER)}


def signed_in(app, user):
    client = app.test_client()
    login(client, user)
    return client


def post(client, path, data, htmx=True):
    headers = {"X-CSRFToken": csrf_token(client), **(HX if htmx else {})}
    return client.post(path, data=data, headers=headers)


def add(client, lead, kind, **fields):
    data = {f"{kind}-{name}": value for name, value in fields.items()}
    return post(client, f"/leads/{lead.id}/activities/{kind}", data)


def api(client, user, method, path, body=None):
    token = issue_token(user, "test")
    return client.open(path, method=method, json=body, headers={"Authorization": f"Bearer {token}"})


def text(response) -> str:
    return response.get_data(as_text=True)


def test_w1_a_note_a_call_and_a_task_are_added_inline_on_the_lead_page(app, world):
    rep, lead = world["rep"], world["lead"]
    client = signed_in(app, rep)

    note = add(client, lead, "note", body="Asked for the <b>pricing</b> sheet")
    assert note.status_code == 200, text(note)
    assert text(note).lstrip().startswith('<section class="card lead-timeline" id="lead-timeline"')
    assert "Asked for the &lt;b&gt;pricing&lt;/b&gt; sheet" in text(note)  # autoescaped
    assert "HX-Request" in note.headers["Vary"]

    call = add(client, lead, "call", outcome="left_voicemail", duration_minutes="3", body="Call back Monday")
    assert call.status_code == 200 and "Left voicemail" in text(call) and "3 min" in text(call)

    due = (utcnow() + dt.timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    task = add(client, lead, "task", title="Send the proposal", due_at=due, assignee_id=str(rep.id))
    assert task.status_code == 200 and "Send the proposal" in text(task)

    rows = {row.kind: row for row in Activity.select().where(Activity.lead == lead.id)}
    assert set(rows) == {"note", "call", "task"}
    assert all(row.author_id == rep.id for row in rows.values())
    assert (rows["call"].outcome, rows["call"].duration_minutes) == ("left_voicemail", 3)
    assert rows["task"].assignee_id == rep.id and rows["task"].due_at.strftime("%Y-%m-%dT%H:%M") == due
    assert not rows["task"].done and rows["task"].interaction_id is None

    page = client.get(f"/leads/{lead.id}")
    assert page.status_code == 200 and 'id="lead-timeline"' in text(page)
    assert "Send the proposal" in text(page) and "Call back Monday" in text(page)


def test_w1_without_htmx_an_added_activity_redirects_to_the_lead_page(app, world):
    client = signed_in(app, world["rep"])
    lead = world["lead"]
    answer = post(client, f"/leads/{lead.id}/activities/note", {"note-body": "Plain post"}, htmx=False)
    assert answer.status_code == 302 and answer.headers["Location"].startswith(f"/leads/{lead.id}")
    assert Activity.get().body == "Plain post"
    refused = post(client, f"/leads/{lead.id}/activities/note", {"note-body": ""}, htmx=False)
    assert refused.status_code == 422 and "<html" in text(refused)  # a page of its own, errors inline
    assert "Write the note." in text(refused) and 'id="lead-timeline"' in text(refused)
    assert Activity.select().count() == 1


def test_s2_s4_a_note_and_a_call_are_interactions_counted_once_and_the_lead_is_rescored(app, world, run_jobs):
    marketer = make_user(MARKETER)
    with app.app_context():
        model = scoring_admin.save_model(None, "Calls", "", CALL_RULES, marketer)
        scoring_admin.set_model_status(model, "live", marketer)
    run_jobs()
    lead, rep = world["lead"], world["rep"]
    client = signed_in(app, rep)

    assert add(client, lead, "call", outcome="connected", duration_minutes="12").status_code == 200
    call = Activity.get(kind="call")
    (interaction,) = Interaction.select().where(Interaction.type == "call_logged")
    assert call.interaction_id == interaction.id and interaction.lead_id == lead.id
    assert interaction.properties == {"activity_id": call.id, "outcome": "connected", "duration_minutes": 12}
    assert PendingScore.select().where(PendingScore.lead == lead.id).count() == 1  # re-score pending
    run_jobs()
    assert LeadScore.get(lead=lead.id, model=model.id).score == 15
    assert PendingScore.select().count() == 0

    assert add(client, lead, "note", body="Keen").status_code == 200
    assert Interaction.select().where(Interaction.type == "note_added").count() == 1
    run_jobs()
    assert LeadScore.get(lead=lead.id, model=model.id).score == 16

    # A task is not an interaction; the owner rep is not told their lead "engaged".
    due = (utcnow() + dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    assert add(client, lead, "task", title="Demo", due_at=due, assignee_id=str(rep.id)).status_code == 200
    assert Interaction.select().count() == 2
    assert Notification.select().where(Notification.kind == "engaged").count() == 0

    # A call edited to "no answer" and a deleted note no longer count.
    edit = post(
        client,
        f"/leads/{lead.id}/activities/{call.id}/edit",
        {f"edit{call.id}-outcome": "no_answer", f"edit{call.id}-duration_minutes": "1"},
    )
    assert edit.status_code == 200, text(edit)
    assert Interaction.get_by_id(interaction.id).properties["outcome"] == "no_answer"
    note = Activity.get(kind="note")
    assert post(client, f"/leads/{lead.id}/activities/{note.id}/delete", {}).status_code == 200
    assert Interaction.select().where(Interaction.type == "note_added").count() == 0
    run_jobs()
    assert LeadScore.get(lead=lead.id, model=model.id).score == 0


def _entry_ids(html: str) -> list[str]:
    return re.findall(r'<li class="event (entry-\w+)"', html)


def test_w1_the_timeline_mixes_activities_history_and_interactions_newest_first_and_filters(app, world):
    lead, rep, manager = world["lead"], world["rep"], world["manager"]
    with app.app_context():
        perform(lead, "sales_accept", rep, via="test")  # a history event, now
        record_interactions([{"type": "email_opened", "external_id": "o-1", "lead_id": lead.id}], manager)
    client = signed_in(app, rep)
    add(client, lead, "note", body="Newest note")
    add(client, lead, "call", outcome="no_answer")
    old = utcnow() - dt.timedelta(days=3)
    Activity.update(created_at=old).where(Activity.kind == "call").execute()
    Interaction.update(occurred_at=old - dt.timedelta(hours=1)).where(
        Interaction.external_id == "o-1"
    ).execute()

    everything = client.get(f"/leads/{lead.id}/activities", headers=HX)
    assert everything.status_code == 200
    order = _entry_ids(text(everything))
    assert order[0] == "entry-note" and order.index("entry-history") < order.index("entry-call")
    assert order.index("entry-call") < order.index("entry-interaction")
    assert "call_logged" not in text(everything)  # the call is shown once, as the activity

    wanted = {"notes": {"entry-note"}, "calls": {"entry-call"}, "stages": {"entry-history"}}
    wanted |= {"interactions": {"entry-interaction"}, "tasks": set()}
    for shown, kinds in wanted.items():
        fragment = client.get(f"/leads/{lead.id}/activities?kind={shown}", headers=HX)
        assert set(_entry_ids(text(fragment))) == kinds, shown
        assert 'aria-current="true"' in text(fragment)

    # A plain visit of the filter is the lead page with it; the lead page reads it.
    plain = client.get(f"/leads/{lead.id}/activities?kind=calls")
    assert plain.status_code == 302 and "activity=calls" in plain.headers["Location"]
    page = client.get(f"/leads/{lead.id}?activity=calls")
    assert set(_entry_ids(text(page))) == {"entry-call"}


def test_w1_inline_errors_for_an_empty_note_a_bad_outcome_and_a_bad_due_date(app, world):
    lead, rep = world["lead"], world["rep"]
    client = signed_in(app, rep)

    empty = add(client, lead, "note", body="   ")
    assert empty.status_code == 422 and "Write the note." in text(empty)
    assert 'id="lead-timeline"' in text(empty)

    bad = add(client, lead, "call", outcome="hung_up", duration_minutes="-4")
    assert bad.status_code == 422
    assert "One of: Connected, Left voicemail, No answer, Wrong number." in text(bad)
    assert "A whole number of minutes" in text(bad)

    late = add(client, lead, "task", title="Follow up", due_at="next tuesday", assignee_id=str(rep.id))
    assert late.status_code == 422 and "Give a date and time, e.g. 2026-05-01T09:30." in text(late)
    assert 'value="Follow up"' in text(late)  # what was typed stays

    stranger = make_user(REP)  # may not see the lead: not an assignee
    due = (utcnow() + dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    wrong = add(client, lead, "task", title="Follow up", due_at=due, assignee_id=str(stranger.id))
    assert wrong.status_code == 422 and "Choose an active user who may see this lead." in text(wrong)
    assert Activity.select().count() == 0


def test_w1_the_api_adds_and_lists_activities_with_field_errors(app, world):
    lead, rep = world["lead"], world["rep"]
    client = app.test_client()
    path = f"/api/v1/leads/{lead.id}/activities"

    note = api(client, rep, "POST", path, {"kind": "note", "body": "From the API"})
    assert note.status_code == 201, note.get_json()
    assert note.get_json()["author"] == {"id": rep.id, "name": rep.name}
    call = api(client, rep, "POST", path, {"kind": "call", "outcome": "connected", "duration_minutes": 7})
    assert call.status_code == 201 and call.get_json()["interaction_id"]
    task = api(
        client,
        rep,
        "POST",
        path,
        {"kind": "task", "title": "Quote", "due_at": "2026-12-24T09:30:00+01:00", "assignee_id": rep.id},
    )
    assert task.status_code == 201 and task.get_json()["due_at"] == "2026-12-24T08:30:00Z"
    assert Interaction.select().where(Interaction.type.in_(["note_added", "call_logged"])).count() == 2

    listed = api(client, rep, "GET", path)
    assert listed.status_code == 200
    assert [row["kind"] for row in listed.get_json()["data"]] == ["task", "call", "note"]
    calls = api(client, rep, "GET", path + "?kind=call").get_json()
    assert calls["total"] == 1 and calls["data"][0]["outcome"] == "connected"

    refused = api(client, rep, "POST", path, {"kind": "call", "outcome": "maybe", "title": "x", "colour": 1})
    assert refused.status_code == 422
    fields = {error["field"] for error in refused.get_json()["errors"]}
    assert fields == {"outcome", "title", "colour"}
    for body, field in (
        ({"kind": "note", "body": ""}, "body"),
        ({"kind": "meeting"}, "kind"),
        ({"kind": ["note"]}, "kind"),
        ({"kind": "task", "title": "T", "due_at": "soon", "assignee_id": rep.id}, "due_at"),
        ({"kind": "task", "title": "T", "due_at": "2026-05-01T09:30", "assignee_id": 10**20}, "assignee_id"),
        ({"kind": "note", "body": "a\u0000b"}, "body"),
    ):
        answer = api(client, rep, "POST", path, body)
        assert answer.status_code == 422 and answer.get_json()["errors"][0]["field"] == field, body
    assert api(client, rep, "GET", path + "?kind=meeting").status_code == 422
    assert Activity.select().count() == 3

    document = client.get("/api/v1/openapi.json").get_json()
    operations = document["paths"]["/api/v1/leads/{lead_id}/activities"]
    assert operations["post"]["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ActivityIn"
    }
    assert operations["get"]["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ActivityPage"
    }
    assert {"Activity", "ActivityIn", "ActivityPage"} <= set(document["components"]["schemas"])


def test_g1_another_reps_lead_is_a_404_on_the_page_the_fragment_and_the_api(app, world):
    lead, rep = world["lead"], world["rep"]
    client = signed_in(app, rep)
    add(client, lead, "note", body="Mine")
    note = Activity.get()
    other = make_user(REP)
    theirs = signed_in(app, other)
    assert theirs.get(f"/leads/{lead.id}/activities", headers=HX).status_code == 404
    assert theirs.get(f"/leads/{lead.id}?activity=notes").status_code == 404
    assert add(theirs, lead, "note", body="Not mine").status_code == 404
    assert (
        post(theirs, f"/leads/{lead.id}/activities/{note.id}/edit", {f"edit{note.id}-body": "x"}).status_code
        == 404
    )
    assert post(theirs, f"/leads/{lead.id}/activities/{note.id}/delete", {}).status_code == 404
    path = f"/api/v1/leads/{lead.id}/activities"
    api_client = app.test_client()
    assert api(api_client, other, "GET", path).status_code == 404
    refused = api(api_client, other, "POST", path, {"kind": "note", "body": "x"})
    assert refused.status_code == 404 and refused.get_json()["errors"][0]["field"] == "lead_id"
    assert Activity.select().count() == 1 and Activity.get().body == "Mine"


def test_w1_edit_and_delete_by_the_author_and_a_manager_recorded_others_refused(app):
    rep = make_user(REP)
    teleprospector = make_user(TELEPROSPECTOR)
    manager, admin = make_user(MANAGER), make_user(ADMIN)
    lead = make_lead(stage=lifecycle.TP_QUALIFICATION, owner=rep)  # seen by the rep and teleprospectors
    rep_client = signed_in(app, rep)
    add(rep_client, lead, "note", body="First words")
    note = Activity.get()
    edit_path = f"/leads/{lead.id}/activities/{note.id}/edit"
    delete_path = f"/leads/{lead.id}/activities/{note.id}/delete"

    # A teleprospector who may see the lead reads it, but may not change what the rep wrote.
    tp_client = signed_in(app, teleprospector)
    fragment = tp_client.get(f"/leads/{lead.id}/activities", headers=HX)
    assert "First words" in text(fragment) and edit_path not in text(fragment)
    assert post(tp_client, edit_path, {f"edit{note.id}-body": "Changed"}).status_code == 403
    assert post(tp_client, delete_path, {}).status_code == 403
    assert Activity.get_by_id(note.id).body == "First words"

    # The author edits: who and when are kept, and shown.
    edited = post(rep_client, edit_path, {f"edit{note.id}-body": "Better words"})
    assert edited.status_code == 200 and "Better words" in text(edited)
    row = Activity.get_by_id(note.id)
    assert row.edited_by_id == rep.id and row.edited_at is not None and f"by {rep.name}" in text(edited)
    blank = post(rep_client, edit_path, {f"edit{note.id}-body": ""})
    assert blank.status_code == 422 and "Write the note." in text(blank)

    # A manager edits and an admin deletes someone else's activity; the row is kept, out of the timeline.
    manager_client = signed_in(app, manager)
    assert post(manager_client, edit_path, {f"edit{note.id}-body": "Manager's words"}).status_code == 200
    assert Activity.get_by_id(note.id).edited_by_id == manager.id
    admin_client = signed_in(app, admin)
    gone = post(admin_client, delete_path, {})
    assert gone.status_code == 200 and "Manager&#39;s words" not in text(gone)
    row = Activity.get_by_id(note.id)
    assert row.deleted_by_id == admin.id and row.deleted_at is not None
    assert Interaction.select().where(Interaction.type == "note_added").count() == 0
    assert post(rep_client, delete_path, {}).status_code == 404  # already deleted

    # The teleprospector's own note is theirs to edit.
    add(tp_client, lead, "note", body="TP note")
    own = Activity.get(body="TP note")
    assert (
        post(
            tp_client, f"/leads/{lead.id}/activities/{own.id}/edit", {f"edit{own.id}-body": "TP note 2"}
        ).status_code
        == 200
    )


def test_w1_a_task_goes_to_an_active_user_who_may_see_the_lead_and_can_be_marked_done(app, world):
    lead, rep, manager = world["lead"], world["rep"], world["manager"]
    make_user(REP)  # another rep: not offered
    make_user(MANAGER, is_active=False)  # inactive: not offered
    teleprospector = make_user(TELEPROSPECTOR)  # the lead is at stage 5: not in their view
    client = signed_in(app, manager)
    page = text(client.get(f"/leads/{lead.id}"))
    options = re.search(r'name="task-assignee_id".*?</select>', page, re.S).group(0)
    offered = set(re.findall(r'<option value="(\d+)"', options))
    assert offered == {str(rep.id), str(manager.id)}
    assert str(teleprospector.id) not in offered

    due = "2026-12-01T10:00"
    assert (
        add(client, lead, "task", title="Call back", due_at=due, assignee_id=str(rep.id)).status_code == 200
    )
    task = Activity.get(kind="task")
    done = post(
        client,
        f"/leads/{lead.id}/activities/{task.id}/edit",
        {
            f"edit{task.id}-title": "Call back",
            f"edit{task.id}-due_at": due,
            f"edit{task.id}-assignee_id": str(rep.id),
            f"edit{task.id}-done": "y",
        },
    )
    assert done.status_code == 200 and "Done" in text(done)
    assert Activity.get_by_id(task.id).done


def test_the_timeline_loads_in_a_fixed_number_of_queries(app, world):
    """STYLE 7: each activity's author, assignee and editor come in the one query."""
    lead, rep = world["lead"], world["rep"]
    client = signed_in(app, world["manager"])

    def count() -> int:
        with count_queries() as queries:
            assert client.get(f"/leads/{lead.id}/activities", headers=HX).status_code == 200
        return len(queries)

    due = (utcnow() + dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    add(client, lead, "task", title="One", due_at=due, assignee_id=str(rep.id))
    add(client, lead, "call", outcome="connected")
    few = count()
    for n in range(6):
        add(client, lead, "task", title=f"Task {n}", due_at=due, assignee_id=str(rep.id))
        add(client, lead, "note", body=f"Note {n}")
    assert count() == few


def test_w1_the_api_edits_and_deletes_for_the_author_and_a_manager_only(app):
    rep, manager = make_user(REP), make_user(MANAGER)
    teleprospector = make_user(TELEPROSPECTOR)
    lead = make_lead(stage=lifecycle.TP_ACCEPTANCE, owner=rep)
    client = app.test_client()
    path = f"/api/v1/leads/{lead.id}/activities"
    call = api(client, rep, "POST", path, {"kind": "call", "outcome": "no_answer"}).get_json()
    one = f"{path}/{call['id']}"

    refused = api(client, teleprospector, "PATCH", one, {"outcome": "connected"})
    assert refused.status_code == 403 and refused.get_json()["errors"][0]["reason"].startswith(
        "Only its author"
    )
    assert api(client, teleprospector, "DELETE", one).status_code == 403
    assert api(client, make_user(REP), "PATCH", one, {"outcome": "connected"}).status_code == 404
    assert api(client, rep, "PATCH", f"{path}/999", {"outcome": "connected"}).status_code == 404

    bad = api(client, rep, "PATCH", one, {"outcome": "maybe", "title": "x"})
    assert bad.status_code == 422
    assert {error["field"] for error in bad.get_json()["errors"]} == {"outcome", "title"}
    assert api(client, rep, "PATCH", one, {}).status_code == 400

    edited = api(client, rep, "PATCH", one, {"outcome": "connected", "duration_minutes": 9})
    assert edited.status_code == 200, edited.get_json()
    assert edited.get_json()["edited_by"] == {"id": rep.id, "name": rep.name}
    assert Interaction.get_by_id(call["interaction_id"]).properties["outcome"] == "connected"

    assert api(client, manager, "DELETE", one).status_code == 204
    assert Activity.get_by_id(call["id"]).deleted_by_id == manager.id
    assert api(client, rep, "GET", path).get_json()["total"] == 0
    assert api(client, manager, "DELETE", one).status_code == 404
    document = client.get("/api/v1/openapi.json").get_json()
    item = document["paths"]["/api/v1/leads/{lead_id}/activities/{activity_id}"]
    assert set(item) == {"patch", "delete"} and "204" in item["delete"]["responses"]
