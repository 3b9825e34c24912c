"""Activities on a contact's and an account's pages (SPEC W1, G1, S2): the same
inline forms as the lead page add a note, a call or a task to the record
itself, shown in its timeline; whoever may see the record may add, only the
author, a manager or an admin may change; a record the user may not see is a
404 on the page, its fragments and its posts; a note or call on a contact is
an interaction of that contact. Both backends."""

from __future__ import annotations

import datetime as dt

import peewee as pw
import pytest

from auth.models import MANAGER, MARKETER, REP
from leads.activities import services
from leads.activities.models import Activity
from leads.base.db import is_sqlite, utcnow
from leads.records.models import Interaction
from tests.factories import csrf_token, login, make_account, make_contact, make_lead, make_user

HX = {"HX-Request": "true"}


def post(client, path, data, htmx=True):
    return client.post(path, data=data, headers={"X-CSRFToken": csrf_token(client), **(HX if htmx else {})})


def text(response) -> str:
    return response.get_data(as_text=True)


@pytest.fixture
def world(app):
    rep = make_user(REP)
    account = make_account(name="Analytical Ltd", owner=rep)
    contact = make_contact(first_name="Ada", last_name="Byron", account=account, owner=rep)
    return {"rep": rep, "contact": contact, "account": account}


def _base(world, records):
    record = world["contact"] if records == "contacts" else world["account"]
    return record, f"/{records}/{record.id}"


@pytest.mark.parametrize("records", ["contacts", "accounts"])
def test_w1_a_note_a_call_and_a_task_are_added_inline_on_a_contact_and_an_account(app, world, records):
    rep = world["rep"]
    record, base = _base(world, records)
    client = login(app.test_client(), rep)
    page = text(client.get(base))
    assert 'id="lead-timeline"' in page and f'hx-post="{base}/activities/note"' in page

    note = post(client, f"{base}/activities/note", {"note-body": "Met at the <b>fair</b>"})
    assert note.status_code == 200, text(note)
    assert text(note).lstrip().startswith('<section class="card lead-timeline" id="lead-timeline"')
    assert "Met at the &lt;b&gt;fair&lt;/b&gt;" in text(note)
    call = post(
        client, f"{base}/activities/call", {"call-outcome": "connected", "call-duration_minutes": "4"}
    )
    assert call.status_code == 200 and "Connected</strong> · 4 min" in text(call)
    due = (utcnow() + dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    task = post(
        client,
        f"{base}/activities/task",
        {"task-title": "Send the brochure", "task-due_at": due, "task-assignee_id": str(rep.id)},
    )
    assert task.status_code == 200 and "Send the brochure" in text(task)
    refused = post(client, f"{base}/activities/note", {"note-body": ""})
    assert refused.status_code == 422 and "Write the note." in text(refused)

    column = Activity.contact if records == "contacts" else Activity.account
    rows = {row.kind: row for row in Activity.select().where(column == record.id)}
    assert set(rows) == {"note", "call", "task"}
    assert all(row.lead_id is None and row.author_id == rep.id for row in rows.values())
    page = text(client.get(base))
    assert "Met at the &lt;b&gt;fair&lt;/b&gt;" in page and "Send the brochure" in page
    shown = text(client.get(f"{base}/activities?kind=tasks", headers=HX))
    assert "Send the brochure" in shown and "Met at the" not in shown and "Stage changes" not in shown
    plain = post(client, f"{base}/activities/note", {"note-body": "Plain"}, htmx=False)
    assert plain.status_code == 302 and plain.headers["Location"].startswith(base)


def test_w1_s2_a_call_or_note_on_a_contact_is_its_interaction_and_one_on_an_account_is_not(app, world):
    rep, contact, account = world["rep"], world["contact"], world["account"]
    lead = make_lead(contact=contact, owner=rep)
    with app.app_context():
        call, errors = services.add_activity(
            contact, rep, "call", {"outcome": "connected", "duration_minutes": "6"}
        )
        assert not errors
        on_account, _ = services.add_activity(account, rep, "note", {"body": "Account note"})
    interaction = Interaction.get_by_id(call.interaction_id)
    assert (interaction.type, interaction.contact_id, interaction.lead_id) == (
        "call_logged",
        contact.id,
        None,
    )
    assert interaction.properties["outcome"] == "connected"
    assert on_account.interaction_id is None
    with app.app_context():
        services.edit_activity(call, rep, {"duration_minutes": "9"})
        assert Interaction.get_by_id(call.interaction_id).properties["duration_minutes"] == 9
        services.delete_activity(call, rep)
    assert not Interaction.select().where(Interaction.id == call.interaction_id).exists()
    # the lead's own timeline is unchanged: the contact's activity is not on it
    assert not services.lead_activities(lead.id).exists()


@pytest.mark.parametrize("records", ["contacts", "accounts"])
def test_g1_a_user_who_cannot_see_the_record_gets_404_everywhere(app, world, records):
    record, base = _base(world, records)
    with app.app_context():
        mine, _ = services.add_activity(record, world["rep"], "note", {"body": "Private"})
    stranger = login(app.test_client(), make_user(REP))
    assert stranger.get(base).status_code == 404
    assert stranger.get(f"{base}/activities", headers=HX).status_code == 404
    assert post(stranger, f"{base}/activities/note", {"note-body": "Sneaky"}).status_code == 404
    assert stranger.get(f"{base}/activities/{mine.id}/edit", headers=HX).status_code == 404
    assert (
        post(stranger, f"{base}/activities/{mine.id}/edit", {f"edit{mine.id}-body": "x"}).status_code == 404
    )
    assert post(stranger, f"{base}/activities/{mine.id}/delete", {}).status_code == 404
    assert Activity.select().count() == 1 and Activity.get().body == "Private"


@pytest.mark.parametrize("records", ["contacts", "accounts"])
def test_w1_only_the_author_a_manager_or_an_admin_edits_or_deletes(app, world, records):
    record, base = _base(world, records)
    with app.app_context():
        mine, _ = services.add_activity(record, world["rep"], "note", {"body": "First words"})
    marketer = login(app.test_client(), make_user(MARKETER))  # sees the record, may add, not change
    assert marketer.get(base).status_code == 200 and f"{base}/activities/{mine.id}/edit" not in text(
        marketer.get(base)
    )
    assert marketer.get(f"{base}/activities/{mine.id}/edit", headers=HX).status_code == 403
    assert post(marketer, f"{base}/activities/{mine.id}/delete", {}).status_code == 403
    assert post(marketer, f"{base}/activities/note", {"note-body": "Marketer note"}).status_code == 200

    manager = login(app.test_client(), make_user(MANAGER))
    form = manager.get(f"{base}/activities/{mine.id}/edit", headers=HX)
    assert form.status_code == 200 and f'action="{base}/activities/{mine.id}/edit"' in text(form)
    edited = post(manager, f"{base}/activities/{mine.id}/edit", {f"edit{mine.id}-body": "Better words"})
    assert edited.status_code == 200 and "Better words" in text(edited)
    author = login(app.test_client(), world["rep"])
    assert post(author, f"{base}/activities/{mine.id}/delete", {}).status_code == 200
    assert Activity.get_by_id(mine.id).deleted_at is not None
    assert "Better words" not in text(author.get(base))


def test_w1_an_activity_belongs_to_exactly_one_record(app, world):
    """The service takes one parent; PostgreSQL also refuses a row with none or two."""
    with pytest.raises(TypeError):
        services.add_activity(world["rep"], world["rep"], "note", {"body": "x"})
    if is_sqlite():
        return
    for parents in ({}, {"contact": world["contact"].id, "account": world["account"].id}):
        with pytest.raises(pw.IntegrityError), Activity._meta.database.atomic():
            Activity.create(kind="note", body="x", created_at=utcnow(), **parents)
