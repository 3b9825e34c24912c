"""The API refuses numbers the databases cannot hold as it refuses any bad value
(G1): a huge id in a path is a 404; a huge id or number in a body, or an id,
page or size in a query string past its documented maximum, is a 422 naming the
field, never a 500 (SQLite's driver overflows past 64 bits)."""

from __future__ import annotations

import pytest

from leads.api.resources import ACCOUNT, CONTACT, LEAD
from leads.core.numbers import MAX_ID, MAX_INT64
from leads.records.models import Account, Contact, Interaction, Lead
from tests.api.test_api import API, as_role, errors_of, fields_of
from tests.factories import make_account, make_contact, make_lead, make_product_line

# Past the id columns (32-bit on PostgreSQL), past 64 bits, far past.
HUGE_IDS = (MAX_ID + 1, MAX_INT64 + 1, 99999999999999999999999)
REQUIRED = {"Lead": {"topic": "Bounds"}, "Contact": {"first_name": "Ada"}, "Account": {"name": "Acme"}}
PATHS = {"Lead": "/leads", "Contact": "/contacts", "Account": "/accounts"}
REF_FIELDS = [
    (resource.name, field.name)
    for resource in (LEAD, CONTACT, ACCOUNT)
    for field in resource.fields
    if field.kind == "ref"
]


@pytest.mark.parametrize(("resource", "field"), REF_FIELDS)
def test_g1_a_huge_id_in_a_create_or_update_body_is_a_422_naming_the_field(client, resource, field):
    """G1: every reference a lead, contact or account takes (account_id, owner_id…)
    refuses an id past the id columns, on create and on update; nothing is stored."""
    _, headers = as_role("admin")
    record = {"Lead": make_lead, "Contact": make_contact, "Account": make_account}[resource]()
    for number in HUGE_IDS:
        created = client.post(
            API + PATHS[resource], headers=headers, json={**REQUIRED[resource], field: number}
        )
        updated = client.patch(f"{API}{PATHS[resource]}/{record.id}", headers=headers, json={field: number})
        for response in (created, updated):
            assert response.status_code == 422, (number, response.get_json())
            assert fields_of(response) == {field}, number
    model = {"Lead": Lead, "Contact": Contact, "Account": Account}[resource]
    assert model.select().count() == 1 and model.get_by_id(record.id).updated_at == record.updated_at


def test_g1_the_schema_documents_the_largest_id_each_reference_takes(client):
    """The document says what the check does: each reference's maximum is the id columns'."""
    schemas = client.get(f"{API}/openapi.json").get_json()["components"]["schemas"]
    for resource, field in REF_FIELDS:
        assert schemas[f"{resource}Create"]["properties"][field]["maximum"] == MAX_ID, (resource, field)


def test_p6_a_huge_owner_id_in_an_assign_action_is_a_422(client):
    """P6: the assign action's owner_id is an id like any other."""
    _, headers = as_role("manager")
    lead = make_lead(stage=5, sales_ready=True)
    for number in HUGE_IDS:
        response = client.post(
            f"{API}/leads/{lead.id}/actions/assign", headers=headers, json={"owner_id": number}
        )
        assert response.status_code == 422 and fields_of(response) == {"owner_id"}, number
    assert Lead.get_by_id(lead.id).owner_id is None


def test_e3_a_huge_lead_or_contact_id_in_an_interaction_is_refused_by_field(client):
    """E3: a single interaction with a huge lead_id or contact_id is a 422 naming it;
    in a batch the other items are still stored."""
    _, headers = as_role("integration")
    lead = make_lead()
    for field in ("lead_id", "contact_id"):
        for number in HUGE_IDS:
            single = {"type": "web_visit", "external_id": f"{field}-{number}", field: number}
            response = client.post(f"{API}/interactions", headers=headers, json=single)
            assert response.status_code == 422 and fields_of(response) == {field}, (field, number)
    batch = [
        {"type": "web_visit", "external_id": "good", "lead_id": lead.id},
        {"type": "web_visit", "external_id": "bad", "lead_id": MAX_ID + 1},
    ]
    response = client.post(f"{API}/interactions", headers=headers, json=batch)
    assert response.status_code == 200, response.get_json()
    assert [item["status"] for item in response.get_json()["data"]] == ["created", "rejected"]
    assert Interaction.select().count() == 1


def test_g1_a_number_past_64_bits_anywhere_in_a_body_is_a_422_naming_where(client):
    """G1: past 64 bits no column takes it, wherever it sits: a segment's value, an
    interaction's properties, a batch item; the error names its place."""
    _, headers = as_role("admin")
    lead = make_lead()
    huge = 10**22
    cases = [
        (
            f"{API}/interactions",
            {"type": "web_visit", "external_id": "e", "lead_id": lead.id, "properties": {"campaign_id": huge}},
            "properties.campaign_id",
        ),
        (f"{API}/interactions", [{"type": "web_visit", "external_id": "e", "lead_id": huge}], "[0].lead_id"),
        (
            f"{API}/campaigns",
            {"name": "C", "segment": {"op": "and", "conditions": [{"value": huge}]}},
            "segment.conditions[0].value",
        ),
        (f"{API}/accounts", {"name": "A", "annual_revenue": huge}, "annual_revenue"),
    ]
    for url, body, where in cases:
        response = client.post(url, headers=headers, json=body)
        assert response.status_code == 422, (url, response.get_json())
        assert fields_of(response) == {where}, (url, errors_of(response))
    assert Interaction.select().count() == 0


def test_g2_a_huge_product_line_id_for_a_campaign_is_a_422(client):
    """G2: the campaign API's product_line_id is bounded like the other references."""
    _, headers = as_role("marketer")
    make_product_line()
    response = client.post(
        f"{API}/campaigns", headers=headers, json={"name": "C", "product_line_id": MAX_ID + 1}
    )
    assert response.status_code == 422 and fields_of(response) == {"product_line_id"}


LIST_PARAMS = [
    ("/leads", "page"),
    ("/leads", "per_page"),
    ("/leads", "team"),
    ("/leads", "product_line"),
    ("/leads", "owner"),
    ("/contacts", "page"),
    ("/contacts", "per_page"),
    ("/contacts", "owner"),
    ("/contacts", "account"),
    ("/accounts", "page"),
    ("/accounts", "per_page"),
    ("/accounts", "owner"),
    ("/campaigns", "page"),
    ("/campaigns", "per_page"),
]


@pytest.mark.parametrize(("path", "name"), LIST_PARAMS)
def test_g1_a_huge_or_odd_number_in_a_list_query_is_a_422_naming_it(client, path, name):
    """G1: a page, size or id filter past its maximum, in superscript digits or
    thousands of digits long, is a 422 naming the parameter."""
    _, headers = as_role("admin")
    for value in (str(MAX_ID + 1), "99999999999999999999999", "9" * 5000, "²"):
        response = client.get(f"{API}{path}?{name}={value}", headers=headers)
        assert response.status_code == 422, (value[:25], response.status_code)
        assert fields_of(response) == {name}, value[:25]


def test_g1_a_huge_id_in_an_api_path_is_a_json_404(client):
    """G1: /leads/99999999999999999999999 matches no route: the API's JSON 404."""
    _, headers = as_role("admin")
    for path in ("/leads/99999999999999999999999", f"/contacts/{MAX_INT64 + 1}", f"/accounts/{MAX_ID + 1}"):
        response = client.get(API + path, headers=headers)
        assert response.status_code == 404 and fields_of(response) <= {None, "account_id"}, path
