"""The JSON API of a contact's and an account's activities (SPEC W1, G1, S2):
``/api/v1/contacts/<id>/activities`` and ``/api/v1/accounts/<id>/activities``
list and add notes, calls and tasks as the record's page does, through the
same service: whoever's token may see the record may read and add, a record it
may not see is a 404, bad input a 422 naming the field and the reason; a call
on a contact is the same activity, interaction and re-score whichever door it
came through. Both backends."""

from __future__ import annotations

import pytest

from auth.models import MANAGER, MARKETER, REP, TELEPROSPECTOR
from auth.sessions import issue_token
from leads.activities.models import Activity
from leads.core import lifecycle
from leads.records.models import Interaction
from leads.scoring import services as scoring_admin
from leads.scoring.models import LeadScore, PendingScore
from tests.activities.test_activities import CALL_RULES
from tests.factories import csrf_token, login, make_account, make_contact, make_lead, make_user

HX = {"HX-Request": "true"}


@pytest.fixture
def world(app):
    rep = make_user(REP)
    account = make_account(name="Analytical Ltd", owner=rep)
    contact = make_contact(first_name="Ada", last_name="Byron", account=account, owner=rep)
    return {"rep": rep, "contact": contact, "account": account}


def api(client, user, method, path, body=None):
    token = issue_token(user, "test")
    return client.open(path, method=method, json=body, headers={"Authorization": f"Bearer {token}"})


def _record(world, records):
    record = world["contact"] if records == "contacts" else world["account"]
    return record, f"/api/v1/{records}/{record.id}/activities"


@pytest.mark.parametrize("records", ["contacts", "accounts"])
def test_w1_the_api_adds_and_lists_a_contacts_and_an_accounts_activities(app, world, records):
    """W1: note, call and task added through the API are the record's own
    activities (no lead), listed newest first, filtered by kind, paginated like
    a lead's; a note or call on a contact is its interaction, none on an account."""
    rep = world["rep"]
    record, path = _record(world, records)
    client = app.test_client()

    note = api(client, rep, "POST", path, {"kind": "note", "body": "From the API"})
    assert note.status_code == 201, note.get_json()
    body = note.get_json()
    assert body["author"] == {"id": rep.id, "name": rep.name} and body["body"] == "From the API"
    assert body["lead_id"] is None
    assert body["contact_id"] == (record.id if records == "contacts" else None)
    assert body["account_id"] == (record.id if records == "accounts" else None)
    call = api(client, rep, "POST", path, {"kind": "call", "outcome": "connected", "duration_minutes": 7})
    assert call.status_code == 201 and call.get_json()["duration_minutes"] == 7
    task = api(
        client,
        rep,
        "POST",
        path,
        {"kind": "task", "title": "Quote", "due_at": "2026-12-24T09:30:00+01:00", "assignee_id": rep.id},
    )
    assert task.status_code == 201 and task.get_json()["due_at"] == "2026-12-24T08:30:00Z"
    assert task.get_json()["assignee"] == {"id": rep.id, "name": rep.name}

    column = Activity.contact if records == "contacts" else Activity.account
    stored = list(Activity.select().where(column == record.id))
    assert len(stored) == 3 and all(row.lead_id is None for row in stored)
    interactions = Interaction.select().where(Interaction.type.in_(["note_added", "call_logged"]))
    if records == "contacts":
        assert {(row.type, row.contact_id, row.lead_id) for row in interactions} == {
            ("note_added", record.id, None),
            ("call_logged", record.id, None),
        }
        assert note.get_json()["interaction_id"] and call.get_json()["interaction_id"]
    else:
        assert interactions.count() == 0 and call.get_json()["interaction_id"] is None

    listed = api(client, rep, "GET", path)
    assert listed.status_code == 200
    assert [row["kind"] for row in listed.get_json()["data"]] == ["task", "call", "note"]
    calls = api(client, rep, "GET", path + "?kind=call").get_json()
    assert calls["total"] == 1 and calls["data"][0]["outcome"] == "connected"
    first = api(client, rep, "GET", path + "?per_page=2").get_json()
    second = api(client, rep, "GET", path + "?per_page=2&page=2").get_json()
    assert (first["total"], first["page"], first["per_page"]) == (3, 1, 2)
    assert [row["kind"] for row in first["data"]] == ["task", "call"]
    assert [row["kind"] for row in second["data"]] == ["note"] and second["page"] == 2

    # What the API added is what the record's page shows, in its one timeline.
    page = login(app.test_client(), rep).get(f"/{records}/{record.id}").get_data(as_text=True)
    assert "From the API" in page and "Quote" in page


@pytest.mark.parametrize("records", ["contacts", "accounts"])
def test_g1_a_contact_or_account_the_token_may_not_see_is_a_404_and_nothing_is_stored(app, world, records):
    """G1: as on the pages, whoever may see the record may read and add; another
    rep (who neither owns it nor has a lead of it) and a teleprospector with no
    lead of it in their stages get a 404 JSON naming the record, on reading and
    on adding; a manager and a marketer may."""
    record, path = _record(world, records)
    name = "contact" if records == "contacts" else "account"
    client = app.test_client()
    assert api(client, world["rep"], "POST", path, {"kind": "note", "body": "Mine"}).status_code == 201

    for outsider in (make_user(REP), make_user(TELEPROSPECTOR)):
        for method, body in (("GET", None), ("POST", {"kind": "note", "body": "Not mine"})):
            refused = api(client, outsider, method, path, body)
            assert refused.status_code == 404, (outsider.role, method)
            assert refused.get_json() == {"errors": [{"field": f"{name}_id", "reason": f"No such {name}."}]}
    missing = api(client, world["rep"], "GET", f"/api/v1/{records}/{record.id + 1000}/activities")
    assert missing.status_code == 404
    assert [row.body for row in Activity.select()] == ["Mine"]

    # A rep sees a contact or account through a lead of it they own: then they may add.
    seeing = make_user(REP)
    make_lead(
        owner=seeing,
        stage=lifecycle.SALES_ACCEPTANCE,
        contact=world["contact"],
        account=world["account"],
    )
    assert api(client, seeing, "POST", path, {"kind": "note", "body": "Through my lead"}).status_code == 201
    for role in (MANAGER, MARKETER):
        listed = api(client, make_user(role), "GET", path)
        assert listed.status_code == 200 and listed.get_json()["total"] == 2


@pytest.mark.parametrize("records", ["contacts", "accounts"])
def test_w1_bad_input_is_a_422_naming_the_field_and_the_reason_and_stores_nothing(app, world, records):
    """W1: every refused body or query says which field and why (never a 500),
    and nothing is stored; a task goes only to a user who may see the record."""
    rep = world["rep"]
    _, path = _record(world, records)
    client = app.test_client()
    stranger = make_user(REP)  # may not see the record: no task for them
    for body, field in (
        ({"kind": "note", "body": ""}, "body"),
        ({"kind": "note", "body": "a\u0000b"}, "body"),
        ({"kind": "meeting"}, "kind"),
        ({"kind": ["note"]}, "kind"),
        ({"body": "no kind"}, "kind"),
        ({"kind": "call", "outcome": "maybe"}, "outcome"),
        ({"kind": "call", "outcome": "connected", "duration_minutes": -3}, "duration_minutes"),
        ({"kind": "note", "body": "x", "colour": 1}, "colour"),
        ({"kind": "note", "body": "x", "title": "Not a note's"}, "title"),
        ({"kind": "task", "title": "T", "due_at": "soon", "assignee_id": rep.id}, "due_at"),
        ({"kind": "task", "title": "T", "due_at": "2026-05-01T09:30", "assignee_id": 10**20}, "assignee_id"),
        (
            {"kind": "task", "title": "T", "due_at": "2026-05-01T09:30", "assignee_id": stranger.id},
            "assignee_id",
        ),
    ):
        answer = api(client, rep, "POST", path, body)
        assert answer.status_code == 422, (body, answer.status_code)
        errors = answer.get_json()["errors"]
        assert field in {error["field"] for error in errors}, (body, errors)
        assert all(error["reason"] for error in errors), errors
    not_json = client.post(
        path,
        data="{",
        headers={"Authorization": f"Bearer {issue_token(rep, 't')}", "Content-Type": "application/json"},
    )
    assert not_json.status_code == 400 and not_json.get_json()["errors"][0]["reason"]
    for query, field in (
        ("?kind=meeting", "kind"),
        ("?page=0", "page"),
        ("?per_page=x", "per_page"),
        ("?sort=id", "sort"),
    ):
        answer = api(client, rep, "GET", path + query)
        assert answer.status_code == 422 and answer.get_json()["errors"][0]["field"] == field, query
    assert Activity.select().count() == 0 and Interaction.select().count() == 0


def test_w1_s2_a_call_on_a_contact_is_the_same_whichever_door_it_came_through(app, run_jobs):
    """W1, S2: a call logged on a contact through its page and one logged
    through the API on a twin contact store the same activity and the same
    call_logged interaction of the contact, and re-score the contact's lead the same."""
    marketer = make_user(MARKETER)
    with app.app_context():
        model = scoring_admin.save_model(None, "Calls", "", CALL_RULES, marketer)
        scoring_admin.set_model_status(model, "live", marketer)
    run_jobs()
    rep = make_user(REP)
    twins = []
    for _ in range(2):
        account = make_account(owner=rep)
        contact = make_contact(account=account, owner=rep)
        lead = make_lead(owner=rep, stage=lifecycle.SALES_ACCEPTANCE, contact=contact, account=account)
        twins.append((contact, lead))
    (by_page, page_lead), (by_api, api_lead) = twins

    client = login(app.test_client(), rep)
    posted = client.post(
        f"/contacts/{by_page.id}/activities/call",
        data={"call-outcome": "connected", "call-duration_minutes": "12", "call-body": "Keen on a demo"},
        headers={"X-CSRFToken": csrf_token(client), **HX},
    )
    assert posted.status_code == 200, posted.get_data(as_text=True)
    sent = api(
        app.test_client(),
        rep,
        "POST",
        f"/api/v1/contacts/{by_api.id}/activities",
        {"kind": "call", "outcome": "connected", "duration_minutes": 12, "body": "Keen on a demo"},
    )
    assert sent.status_code == 201, sent.get_json()

    def stored(contact, lead):
        activity = Activity.get(Activity.contact == contact.id)
        interaction = Interaction.get_by_id(activity.interaction_id)
        pending = PendingScore.select().where(PendingScore.lead == lead.id).count()
        kept = ("kind", "author_id", "body", "outcome", "duration_minutes", "title", "due_at", "lead_id")
        return (
            {name: getattr(activity, name) for name in kept},
            (interaction.type, interaction.source, interaction.contact_id == contact.id, interaction.lead_id),
            {key: value for key, value in interaction.properties.items() if key != "activity_id"},
            interaction.properties["activity_id"] == activity.id,
            pending,
        )

    assert stored(by_page, page_lead) == stored(by_api, api_lead)
    assert stored(by_api, api_lead)[1] == ("call_logged", "activity", True, None)
    assert stored(by_api, api_lead)[-1] == 1  # the lead's re-score is pending
    assert sent.get_json()["interaction_id"] == Activity.get(Activity.contact == by_api.id).interaction_id
    run_jobs()
    scores = [LeadScore.get(lead=lead.id, model=model.id).score for lead in (page_lead, api_lead)]
    assert scores == [15, 15]
    assert PendingScore.select().count() == 0


def test_w1_the_openapi_document_lists_the_contact_and_account_activity_routes(app):
    """W1: the document names both routes with their request and page schemas."""
    document = app.test_client().get("/api/v1/openapi.json").get_json()
    for path in ("/api/v1/contacts/{contact_id}/activities", "/api/v1/accounts/{account_id}/activities"):
        operations = document["paths"][path]
        assert operations["post"]["requestBody"]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/ActivityIn"
        }
        assert operations["get"]["responses"]["200"]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/ActivityPage"
        }
        assert {"404", "422"} <= set(operations["post"]["responses"])
    activity = document["components"]["schemas"]["Activity"]["properties"]
    assert {"lead_id", "contact_id", "account_id"} <= set(activity)
