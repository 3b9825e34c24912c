"""Validation in one place (SPEC C1, C2, C3, M1, M2, O1): the same bad value
sent through every door that stores a person — the contact form, the JSON API,
a CSV import, the public capture — is refused with the same field and the same
reason, and nothing is stored; a good internationalised address is accepted
by all of them, stored in one normalised form, and matched as the same person.
Real SQLite and PostgreSQL (where a NUL cannot be stored at all)."""

from __future__ import annotations

import csv
import io

import pytest

from auth.sessions import issue_token
from leads.core import csv_io, validation
from leads.imports.models import ImportRowError
from leads.records.models import Contact, Interaction, Lead
from tests.factories import csrf_token, login, make_user
from tests.imports.test_imports import _import
from tests.intake.test_intake import make_source

GOOD = {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com", "country": "FR"}
CSV_HEADERS = {"first_name": "First name", "last_name": "Last name", "email": "Email", "country": "Country"}


def through_form(app, run_jobs, values: dict) -> tuple[int, list[tuple[str | None, str]]]:
    """The contact form, posted as the page's htmx does: 422 and the reason inline."""
    client = login(app.test_client(), make_user("marketer"))
    headers = {"HX-Request": "true", "X-CSRFToken": csrf_token(client)}
    response = client.post("/contacts/new", data=values, headers=headers)
    body = response.get_data(as_text=True)
    shown = [reason for reason in _REASONS if reason in body]
    return response.status_code, [(None, reason) for reason in shown]


def through_api(app, run_jobs, values: dict) -> tuple[int, list[tuple[str | None, str]]]:
    """POST /api/v1/contacts with an integration token: 400 with field and reason."""
    token = issue_token(make_user("integration"), "doors")
    response = app.test_client().post(
        "/api/v1/contacts", json=values, headers={"Authorization": f"Bearer {token}"}
    )
    errors = (response.get_json() or {}).get("errors") or []
    return response.status_code, [(e["field"], e["reason"]) for e in errors]


def through_import(app, run_jobs, values: dict) -> tuple[int, list[tuple[str | None, str]]]:
    """A contacts CSV of one row: the row is refused, its reason in the error report."""
    client = login(app.test_client(), make_user("marketer"))
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([CSV_HEADERS[name] for name in values])
    writer.writerow(list(values.values()))
    upload = _import(app, client, run_jobs, out.getvalue().encode())
    report = client.get(f"/imports/{upload.id}/errors.csv").get_data().decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(report)))[1:]
    stored = [(e.field, e.reason) for e in ImportRowError.select().where(ImportRowError.upload == upload.id)]
    assert [(row[1], row[2]) for row in rows] == [(csv_io.FIELD_LABELS[f], r) for f, r in stored]
    return (200 if upload.failed == 0 else 400), stored


def through_capture(app, run_jobs, values: dict) -> tuple[int, list[tuple[str | None, str]]]:
    """A public capture of a landing-page form (JSON): 400 with field and reason."""
    source = make_source()
    response = app.test_client().post(
        f"/capture/{source.key}", json={**values, "consent": "yes"}, headers={"Accept": "application/json"}
    )
    errors = (response.get_json() or {}).get("errors") or []
    return response.status_code, [(e["field"], e["reason"]) for e in errors]


_REASONS = (validation.EMAIL_REASON, validation.COUNTRY_REASON, validation.NUL_REASON)
DOORS = {"form": through_form, "api": through_api, "import": through_import, "capture": through_capture}
BAD = [
    pytest.param("email", "a@b.c", validation.EMAIL_REASON, id="one-letter-top-level-domain"),
    pytest.param("email", "ada@localhost", validation.EMAIL_REASON, id="no-domain"),
    pytest.param("country", "ZZ", validation.COUNTRY_REASON, id="unknown-country"),
    pytest.param("country", "France", validation.COUNTRY_REASON, id="a-name-not-a-code"),
    pytest.param("first_name", "Ad\x00a", validation.NUL_REASON, id="nul-in-a-name"),
    pytest.param("last_name", "\x00", validation.NUL_REASON, id="only-a-nul"),
]


@pytest.mark.parametrize("door", DOORS)
@pytest.mark.parametrize("field, value, reason", BAD)
def test_every_door_refuses_the_same_bad_value_with_the_same_reason(
    app, run_jobs, door, field, value, reason
):
    """C1, C2, C3, O1: one check, one reason, nothing stored, whatever the door."""
    status, errors = DOORS[door](app, run_jobs, {**GOOD, field: value})
    assert status in (400, 422), errors
    if door == "form":  # inline, next to its field: the page shows the reason
        assert errors == [(None, reason)]
    else:
        assert errors == [(field, reason)]
    assert (Contact.select().count(), Lead.select().count(), Interaction.select().count()) == (0, 0, 0)


@pytest.mark.parametrize("door", DOORS)
def test_every_door_accepts_an_internationalised_address_in_one_normalised_form(app, run_jobs, door):
    """M1: ``José@Bücher.CH`` is stored as ``José@bücher.ch`` (the domain
    lower-cased, the local part as typed) by every door, with its country."""
    status, errors = DOORS[door](app, run_jobs, {**GOOD, "email": "José@Bücher.CH", "country": "ch"})
    assert status < 400 and not errors, errors
    [contact] = Contact.select()
    assert (contact.email, contact.country) == ("José@bücher.ch", "CH")


@pytest.mark.parametrize("door", ["api", "import", "capture"])
def test_the_same_address_written_in_punycode_is_the_same_person(app, run_jobs, door):
    """M1, M2, M4: a contact created with ``josé@bücher.ch`` is matched by a later
    import or capture of ``JOSÉ@XN--BCHER-KVA.CH`` (no second contact); the API
    creates without matching but stores the same normalised form."""
    first = {**GOOD, "email": "josé@bücher.ch"}
    assert through_capture(app, run_jobs, first)[0] == 200
    status, errors = DOORS[door](app, run_jobs, {**GOOD, "email": "josé@XN--BCHER-KVA.CH"})
    assert status < 400 and not errors, errors
    emails = [c.email for c in Contact.select().order_by(Contact.id)]
    assert emails == ["josé@bücher.ch"] * (2 if door == "api" else 1)


def test_a_nul_anywhere_in_an_api_body_names_its_field(client):
    """O1, E3: a NUL nested in an object is refused with its path and the same
    reason (never a 500); in a batch of interactions it refuses its own item only."""
    token = issue_token(make_user("integration"), "doors")
    headers = {"Authorization": f"Bearer {token}"}
    response = client.post(
        "/api/v1/contacts", json={**GOOD, "extra": {"note": ["ok", "b\x00d"]}}, headers=headers
    )
    assert response.status_code == 422
    assert response.get_json()["errors"] == [{"field": "extra.note.1", "reason": validation.NUL_REASON}]
    good = {"type": "web_visit", "external_id": "e1", "email": "ada@example.com"}
    Contact.create(first_name="Ada", email="ada@example.com")
    response = client.post(
        "/api/v1/interactions",
        json=[
            {**good, "source": "w\x00b"},
            {**good, "external_id": "e2", "properties": {"page": "/pri\x00cing"}},
            good,
        ],
        headers=headers,
    )
    assert response.status_code == 200, response.get_json()
    results = response.get_json()["data"]
    assert [r["status"] for r in results] == ["rejected", "rejected", "created"]
    assert results[0]["errors"] == [{"field": "source", "reason": validation.NUL_REASON}]
    assert results[1]["errors"] == [{"field": "properties.page", "reason": validation.NUL_REASON}]
    assert Interaction.select().count() == 1


def test_a_nul_in_a_search_is_a_field_error_not_a_500(client):
    """O1: a NUL in a search: the API names the parameter, the lead list says
    why, the contact and account lists read it as a space; never a 500."""
    contact = Contact.create(first_name="Ada", last_name="Lovelace", email="ada@example.com")
    token = issue_token(make_user("integration"), "doors")
    for path in ("/api/v1/leads?q=a%00b", "/api/v1/contacts?q=a%00b"):
        response = client.get(path, headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 422, path
        assert response.get_json()["errors"] == [{"field": "q", "reason": validation.NUL_REASON}]
    login(client, make_user("marketer"))
    page = client.get("/leads?q=a%00b")
    assert page.status_code in (200, 400) and validation.NUL_REASON in page.get_data(as_text=True)
    contacts = client.get("/contacts?q=Ada%00Lovelace")
    assert contacts.status_code == 200 and f'href="/contacts/{contact.id}"' in contacts.get_data(as_text=True)
    assert client.get("/accounts?q=a%00b").status_code == 200


def test_interactions_find_their_person_by_the_same_email_check(client):
    """E3, M1: an interaction names its person by an address checked like every
    door's: punycode or capitals find the contact stored in the normalised form,
    and an address the check refuses is refused with the same reason."""
    contact = Contact.create(first_name="José", email="josé@bücher.ch")
    token = issue_token(make_user("integration"), "doors")
    headers = {"Authorization": f"Bearer {token}"}
    event = {"type": "web_visit", "external_id": "v1", "email": "JOSÉ@XN--BCHER-KVA.CH"}
    response = client.post("/api/v1/interactions", json=event, headers=headers)
    assert response.status_code == 201, response.get_json()
    assert Interaction.get().contact_id == contact.id
    bad = client.post(
        "/api/v1/interactions", json={**event, "external_id": "v2", "email": "a@b.c"}, headers=headers
    )
    assert bad.status_code == 422
    assert bad.get_json()["errors"] == [{"field": "email", "reason": validation.EMAIL_REASON}]
    assert Interaction.select().count() == 1
