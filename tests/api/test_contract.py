"""The API keeps its published contract (G1): schemathesis reads the OpenAPI
document and sends every operation its examples, boundary cases (blank and
over-long strings, unknown parameters, missing credentials, methods the path
does not take) and bounded random requests, derandomized so that a run
repeats, with an admin's token, on an app holding a few leads, contacts and
accounts. It fails on any 5xx, any status, header or body the document does
not declare, and any request outside the document that is accepted."""

from __future__ import annotations

import secrets

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from auth.models import ApiToken
from auth.sessions import _hash
from leads.api.openapi import openapi_document
from tests.factories import make_account, make_contact, make_lead, make_product_line, make_user
from web.converters import BoundedIntConverter

API = "/api/v1"
OPENAPI = f"{API}/openapi.json"
TOKEN = "lf_contract-" + secrets.token_urlsafe(24)  # given to the seeded admin in each app


def _document() -> dict:
    """The document of the app's routes, read at collection time from its own
    blueprint list (no database bound); ``seeded_app`` checks it is the one served."""
    from app import _blueprints

    probe = Flask(__name__)
    probe.url_map.converters["int"] = BoundedIntConverter
    for blueprint in _blueprints():
        probe.register_blueprint(blueprint)
    return openapi_document(probe.url_map, probe.view_functions)


DOCUMENT = _document()
schema = schemathesis.openapi.from_dict(
    DOCUMENT,
    config=schemathesis.Config.from_dict(
        {
            "seed": 12,
            "generation": {"mode": "all"},  # valid requests and invalid ones
            # Paths name seeded records (ids restart at 1 in every test), so the
            # bodies of real leads, contacts and accounts are checked too.
            "parameters": {"lead_id": 1, "contact_id": 2, "account_id": 3},
            "auth": {"openapi": {"bearerAuth": {"bearer": TOKEN}}},
        }
    ),
)
schema.config.update(base_url="http://localhost")


@pytest.fixture
def seeded_app(app):
    """``app`` serving ``DOCUMENT``, with an admin holding ``TOKEN`` and three
    leads, each with its contact and account."""
    assert app.test_client().get(OPENAPI).get_json() == DOCUMENT
    ApiToken.create(token_hash=_hash(TOKEN), user=make_user("admin"), name="contract")
    line = make_product_line()
    for _ in range(3):
        account = make_account()
        make_lead(contact=make_contact(account=account), account=account, product_line=line)
    return app


@schema.parametrize()
@settings(
    max_examples=10, derandomize=True, deadline=None, database=None, suppress_health_check=list(HealthCheck)
)
def test_g1_every_operation_keeps_the_published_contract(case, seeded_app):
    """G1: no 5xx; every status, header and body as documented; what the
    document refuses is refused. (A valid request may still be refused: an id
    naming no record is a 404, or a 400 the schema cannot foresee.)"""
    case.operation.schema.app = seeded_app  # the checks' own probes (no token…) go here too
    case.call_and_validate(app=seeded_app, excluded_checks=[positive_data_acceptance])


# --------------------------------------------------------------------------- what the run found, each pinned


def _headers(role: str = "admin") -> dict:
    from auth.sessions import issue_token

    return {"Authorization": f"Bearer {issue_token(make_user(role), 'plain')}"}


def _documented(client, path: str, method: str) -> dict:
    return client.get(OPENAPI).get_json()["paths"][path][method]


def test_e3_a_single_new_interaction_answers_the_documented_201_and_a_batch_200(client):
    """E3: one interaction stored answers 201, a batch 200, and the document lists
    both; every result carries ``errors``, empty when there are none."""
    headers = _headers("integration")
    lead = make_lead()
    single = client.post(
        f"{API}/interactions",
        headers=headers,
        json={"type": "web_visit", "external_id": "a", "lead_id": lead.id},
    )
    batch = client.post(
        f"{API}/interactions",
        headers=headers,
        json=[{"type": "web_visit", "external_id": "b", "lead_id": lead.id}],
    )
    assert (single.status_code, batch.status_code) == (201, 200)
    assert single.get_json()["data"] == [{"index": 0, "status": "created", "id": 1, "errors": []}]
    responses = _documented(client, f"{API}/interactions", "post")["responses"]
    assert {"200", "201"} <= set(responses)
    assert responses["201"]["content"] == responses["200"]["content"]


def test_the_email_format_the_document_declares_is_the_one_the_api_takes(client):
    """The document says idn-email wherever an email goes, and the API takes an
    international address as that format allows."""
    document = client.get(OPENAPI).get_json()["components"]["schemas"]
    for name in ("LeadCreate", "ContactUpdate", "Lead", "Contact", "InteractionIn"):
        assert document[name]["properties"]["email"]["format"] == "idn-email", name
    created = client.post(f"{API}/contacts", headers=_headers(), json={"email": "josé@exämple.de"})
    assert created.status_code == 201 and created.get_json()["email"] == "josé@exämple.de"


@pytest.mark.parametrize("field", ["email", "country"])
def test_a_blank_email_or_country_is_a_422_and_null_clears_it(client, field):
    """A blank is no address and no country code: refused by field and reason
    on create and update; null is how a client clears the value."""
    headers = _headers()
    contact = make_contact(country="FR")
    for blank in ("", "   "):
        for response in (
            client.post(f"{API}/leads", headers=headers, json={"topic": "T", field: blank}),
            client.patch(f"{API}/contacts/{contact.id}", headers=headers, json={field: blank}),
        ):
            assert response.status_code == 422, response.get_json()
            assert response.get_json()["errors"] == [
                {"field": field, "reason": "Must not be blank; send null to clear it."}
            ]
    cleared = client.patch(f"{API}/contacts/{contact.id}", headers=headers, json={field: None})
    assert cleared.status_code == 200 and cleared.get_json()[field] is None


def test_an_unknown_query_parameter_is_a_422_naming_it(client):
    """A misspelt or unknown query parameter is refused, named, on every list
    (leads, contacts, accounts, campaigns) and record route; the public document takes any."""
    headers = _headers()
    lead = make_lead()
    cases = [
        ("/leads?pgae=2&q=x", {"pgae"}),
        ("/contacts?colour=red&limit=5", {"colour", "limit"}),
        ("/accounts?page=1&sort=name", {"sort"}),
        ("/campaigns?x=1", {"x"}),
        (f"/leads/{lead.id}?expand=all", {"expand"}),
    ]
    for path, unknown in cases:
        response = client.get(API + path, headers=headers)
        assert response.status_code == 422, path
        assert response.get_json()["errors"] == [
            {"field": name, "reason": "Unknown query parameter."} for name in sorted(unknown)
        ], path
    assert client.get(f"{API}/leads?page=1&q=x", headers=headers).status_code == 200
    assert client.get(f"{OPENAPI}?v=2").status_code == 200


def test_a_405_says_which_methods_the_path_takes(client):
    """A method a path does not take is a 405 with ``Allow`` (RFC 9110), in the
    API and on pages alike."""
    headers = _headers()
    lead = make_lead()
    api = client.delete(f"{API}/leads/{lead.id}", headers=headers)
    assert api.status_code == 405 and api.get_json()["errors"][0]["reason"]
    assert {m.strip() for m in api.headers["Allow"].split(",")} >= {"GET", "PATCH"}
    page = client.put("/login")
    assert page.status_code == 405 and "POST" in page.headers["Allow"]


def test_a_401_says_to_use_a_bearer_token(client):
    """No valid token is a 401 with ``WWW-Authenticate: Bearer`` (RFC 6750), as documented."""
    for headers in ({}, {"Authorization": "Bearer lf_nope"}):
        response = client.get(f"{API}/leads", headers=headers)
        assert response.status_code == 401 and response.headers["WWW-Authenticate"] == "Bearer"
    unauthorized = client.get(OPENAPI).get_json()["components"]["responses"]["Unauthorized"]
    assert "WWW-Authenticate" in unauthorized["headers"]
