"""JSON API v1: token auth, roles and record-level access (G1, P8), leads with
their stage actions and history (E1, P1–P7), contacts and accounts, validation,
and the OpenAPI document matching the URL map."""

from __future__ import annotations

import dataclasses
import re

from auth.models import ApiToken, User
from auth.sessions import issue_token
from leads.base.db import db, utcnow
from leads.core import lifecycle
from leads.records.models import Campaign, Lead, LeadHistory
from tests.factories import (
    make_account,
    make_contact,
    make_lead,
    make_product_line,
    make_team,
    make_user,
)

API = "/api/v1"


def bearer(user: User) -> dict:
    """Headers carrying a fresh API token of ``user``."""
    return {"Authorization": f"Bearer {issue_token(user, 'test')}"}


def as_role(role: str, **overrides) -> tuple[User, dict]:
    """A new user of ``role`` and headers with a token of theirs."""
    user = make_user(role, **overrides)
    return user, bearer(user)


def errors_of(response) -> list[tuple[str | None, str]]:
    """The ``(field, reason)`` pairs of an error answer (each must have both keys)."""
    body = response.get_json()
    assert set(body) == {"errors"}, body
    pairs = []
    for error in body["errors"]:
        assert set(error) == {"field", "reason"} and error["reason"], error
        pairs.append((error["field"], error["reason"]))
    return pairs


def fields_of(response) -> set[str | None]:
    return {name for name, _ in errors_of(response)}


def act(client, headers, lead_id: int, action: str, **body):
    """POST a stage action; returns the response."""
    return client.post(f"{API}/leads/{lead_id}/actions/{action}", headers=headers, json=body)


# --------------------------------------------------------------------------- authentication and roles


def test_g1_missing_wrong_revoked_token_and_deactivated_user_get_401_json(client):
    """G1: only a live token of an active user opens the API; every refusal is a JSON 401."""
    user = make_user("integration")
    token = issue_token(user, "site")
    revoked = issue_token(user, "old")
    ApiToken.update(revoked_at=utcnow()).where(ApiToken.name == "old").execute()
    inactive = make_user("integration", is_active=False)
    attempts = [
        {},
        {"Authorization": "Bearer lf_not-a-real-token"},
        {"Authorization": f"Basic {token}"},
        {"Authorization": f"Bearer {revoked}"},
        {"Authorization": f"Bearer {issue_token(inactive, 'site')}"},
    ]
    for headers in attempts:
        response = client.get(f"{API}/leads", headers=headers)
        assert response.status_code == 401, headers
        assert response.is_json and errors_of(response)[0][0] is None
    assert client.get(f"{API}/leads", headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_g1_token_stops_working_once_its_user_is_deactivated(client):
    """G1: deactivating a user ends their existing tokens at once."""
    user, headers = as_role("integration")
    assert client.get(f"{API}/contacts", headers=headers).status_code == 200
    User.update(is_active=False).where(User.id == user.id).execute()
    assert client.get(f"{API}/contacts", headers=headers).status_code == 401


def test_g1_a_web_session_is_not_an_api_credential(client):
    """G1: the API authenticates tokens only; a signed-in browser gets a 401."""
    from tests.factories import login

    login(client, make_user("manager"))
    assert client.get(f"{API}/leads").status_code == 401


ROLE_REFUSALS = [
    ("rep", "post", "/leads"),
    ("teleprospector", "post", "/leads"),
    ("teleprospector", "patch", "/leads/{lead}"),
    ("rep", "post", "/contacts"),
    ("rep", "patch", "/contacts/{contact}"),
    ("teleprospector", "post", "/accounts"),
    ("rep", "patch", "/accounts/{account}"),
]


def test_g1_roles_outside_a_route_get_403_json(client):
    """G1/G2: reps and teleprospectors create nothing and edit no contact or account
    through the API; the refusal is JSON and nothing changes."""
    ids = {"lead": make_lead().id, "contact": make_contact().id, "account": make_account().id}
    tokens = {role: as_role(role)[1] for role in ("rep", "teleprospector")}
    for role, method, path in ROLE_REFUSALS:
        url = API + path.format(**ids)
        response = getattr(client, method)(url, headers=tokens[role], json={"topic": "x", "name": "x"})
        assert response.status_code == 403, (role, method, path)
        assert errors_of(response)[0][0] is None
    assert Lead.select().count() == 1 and Lead.get_by_id(ids["lead"]).topic != "x"


def test_api_errors_for_unknown_paths_and_methods_are_json(client):
    """Unknown routes and methods answer with the API's error shape too."""
    _, headers = as_role("integration")
    missing = client.get(f"{API}/nothing-here", headers=headers)
    wrong_method = client.delete(f"{API}/leads", headers=headers)
    assert missing.status_code == 404 and errors_of(missing)
    assert wrong_method.status_code == 405 and errors_of(wrong_method)


# --------------------------------------------------------------------------- record-level access


def test_g1_rep_token_sees_only_the_reps_own_leads_and_others_are_404(client):
    """G1: a rep's token lists, counts and opens only the rep's leads; another rep's
    lead is a 404 everywhere (read, update, history, actions)."""
    rep, headers = as_role("rep")
    other = make_user("rep")
    mine = make_lead(owner=rep, stage=lifecycle.SALES_ACCEPTANCE, sales_ready=True)
    theirs = make_lead(owner=other, stage=lifecycle.SALES_ACCEPTANCE, sales_ready=True)
    make_lead()

    listed = client.get(f"{API}/leads", headers=headers).get_json()
    assert [row["id"] for row in listed["data"]] == [mine.id] and listed["total"] == 1
    assert client.get(f"{API}/leads?q=Grace", headers=headers).get_json()["total"] == 1
    assert client.get(f"{API}/leads/{mine.id}", headers=headers).status_code == 200
    refusals = [
        client.get(f"{API}/leads/{theirs.id}", headers=headers),
        client.get(f"{API}/leads/{theirs.id}/history", headers=headers),
        client.patch(f"{API}/leads/{theirs.id}", headers=headers, json={"phone": "+33 1"}),
        act(client, headers, theirs.id, "sales_accept"),
    ]
    assert [r.status_code for r in refusals] == [404] * 4
    assert all(fields_of(r) == {"lead_id"} for r in refusals)
    assert Lead.get_by_id(theirs.id).sales_accepted is False


def test_p8_teleprospector_token_sees_open_stage_3_and_4_leads_only(client):
    """P8/G1: a teleprospector's token sees the teleprospecting stages, nothing else."""
    _, headers = as_role("teleprospector")
    stage3 = make_lead(stage=lifecycle.TP_ACCEPTANCE)
    stage4 = make_lead(stage=lifecycle.TP_QUALIFICATION)
    stage2 = make_lead(stage=lifecycle.AUTOMATED_QUALIFICATION)
    listed = client.get(f"{API}/leads?sort=created_at", headers=headers).get_json()
    assert [row["id"] for row in listed["data"]] == [stage3.id, stage4.id]
    assert client.get(f"{API}/leads/{stage2.id}", headers=headers).status_code == 404


def test_g1_rep_token_sees_only_related_contacts_and_accounts(client):
    """G1: a rep reads the contacts and accounts they own or hold a lead of; others are 404."""
    rep, headers = as_role("rep")
    own_account = make_account(owner=rep)
    lead_account = make_account()
    hidden_account = make_account()
    own_contact = make_contact(owner=rep)
    lead_contact = make_contact()
    hidden_contact = make_contact(account=hidden_account)
    make_lead(owner=rep, contact=lead_contact, account=lead_account)

    contacts = client.get(f"{API}/contacts", headers=headers).get_json()
    accounts = client.get(f"{API}/accounts", headers=headers).get_json()
    assert {row["id"] for row in contacts["data"]} == {own_contact.id, lead_contact.id}
    assert contacts["total"] == 2
    assert {row["id"] for row in accounts["data"]} == {own_account.id, lead_account.id}
    assert client.get(f"{API}/contacts/{hidden_contact.id}", headers=headers).status_code == 404
    assert client.get(f"{API}/accounts/{hidden_account.id}", headers=headers).status_code == 404
    assert client.get(f"{API}/accounts/{lead_account.id}", headers=headers).status_code == 200


def test_g1_teleprospector_token_sees_only_contacts_and_accounts_of_stage_3_and_4_leads(client):
    """G1/P8: a teleprospector's token reads the contacts of the open stage 3–4 leads
    and their accounts (the lead's, or its contact's); the rest are 404 and absent,
    filters included."""
    _, headers = as_role("teleprospector")
    called_account, hidden_account = make_account(), make_account()
    called = make_contact(account=called_account)
    qualifying = make_contact()
    hidden = make_contact(account=hidden_account)
    make_lead(stage=lifecycle.TP_ACCEPTANCE, contact=called)
    make_lead(stage=lifecycle.TP_QUALIFICATION, contact=qualifying)
    make_lead(stage=lifecycle.SALES_ACCEPTANCE, sales_ready=True, contact=hidden, account=hidden_account)

    contacts = client.get(f"{API}/contacts", headers=headers).get_json()
    accounts = client.get(f"{API}/accounts", headers=headers).get_json()
    assert {row["id"] for row in contacts["data"]} == {called.id, qualifying.id}
    assert contacts["total"] == 2
    assert [row["id"] for row in accounts["data"]] == [called_account.id] and accounts["total"] == 1
    filtered = client.get(f"{API}/contacts?account={hidden_account.id}", headers=headers).get_json()
    assert filtered["data"] == [] and filtered["total"] == 0
    assert client.get(f"{API}/contacts/{hidden.id}", headers=headers).status_code == 404
    assert client.get(f"{API}/accounts/{hidden_account.id}", headers=headers).status_code == 404
    assert client.get(f"{API}/accounts/{called_account.id}", headers=headers).status_code == 200


# --------------------------------------------------------------------------- leads: create, read, update


def test_e1_p7_create_a_lead_with_neither_contact_nor_account_records_its_first_history_row(client):
    """E1: a lead may exist with no contact and no account; P7: its creation is the
    first history row (stage 1, by the token's user, via the API)."""
    user, headers = as_role("integration")
    response = client.post(f"{API}/leads", headers=headers, json={"topic": "Pricing", "email": "a@b.example"})
    assert response.status_code == 201
    lead = response.get_json()
    assert lead["stage"] == 1 and lead["stage_label"] == "Inquiry"
    assert lead["status"] == "open" and lead["status_reason"] == "new"
    assert lead["contact"] is None and lead["account"] is None and lead["source"] == "api"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", lead["created_at"])
    history = client.get(f"{API}/leads/{lead['id']}/history", headers=headers).get_json()["data"]
    assert [(h["kind"], h["old_value"], h["new_value"]) for h in history] == [("stage", None, "1")]
    assert history[0]["actor"] == {"id": user.id, "name": user.name} and history[0]["via"] == "API"


def test_create_a_lead_with_every_field_and_read_it_back_with_names(client):
    """C3-style API capture: every writable field stored, related rows named; a
    contact's account becomes the lead's account when none is given (E1)."""
    _, headers = as_role("marketer")
    line = make_product_line()
    team = make_team()
    campaign = Campaign.create(name="Spring webinar", product_line=line)
    account = make_account()
    contact = make_contact(account=account)
    body = {
        "topic": "  Demo request ",
        "first_name": "Ada",
        "last_name": "Byron",
        "email": "ada@example.test",
        "phone": "+33 1 23 45 67 89",
        "company": "Analytical Engines",
        "job_title": "CTO",
        "country": "fr",
        "source": "webinar",
        "contact_id": contact.id,
        "campaign_id": campaign.id,
        "product_line_id": line.id,
        "team_id": team.id,
    }
    created = client.post(f"{API}/leads", headers=headers, json=body)
    assert created.status_code == 201, created.get_json()
    lead = client.get(f"{API}/leads/{created.get_json()['id']}", headers=headers).get_json()
    assert lead["topic"] == "Demo request" and lead["country"] == "FR" and lead["source"] == "webinar"
    assert lead["contact"] == {"id": contact.id, "name": contact.name}
    assert lead["account_id"] == account.id and lead["account"]["name"] == account.name
    assert lead["campaign"]["name"] == "Spring webinar" and lead["product_line"]["name"] == line.name
    assert lead["team"] == {"id": team.id, "name": team.name}


def test_patch_changes_only_the_fields_sent_and_never_owner_stage_or_status(client):
    """P6/P7: owner, stage and status change only through actions; a PATCH that
    tries is refused field by field and changes nothing."""
    _, headers = as_role("manager")
    lead = make_lead(phone="+1 555")
    response = client.patch(f"{API}/leads/{lead.id}", headers=headers, json={"job_title": "CEO"})
    assert response.status_code == 200
    assert response.get_json()["job_title"] == "CEO" and response.get_json()["phone"] == "+1 555"

    refused = client.patch(
        f"{API}/leads/{lead.id}",
        headers=headers,
        json={"company": "New", "stage": 5, "status": "qualified", "owner_id": make_user("rep").id},
    )
    assert refused.status_code == 422
    assert fields_of(refused) == {"stage", "status", "owner_id"}
    assert all("actions" in reason for _, reason in errors_of(refused))
    stored = Lead.get_by_id(lead.id)
    assert stored.company == lead.company and stored.stage == 1 and stored.owner_id is None


def test_g1_owner_rep_may_patch_only_the_person_fields_of_own_leads(client):
    """G1: a rep corrects the person on their own lead, nothing else."""
    rep, headers = as_role("rep")
    lead = make_lead(owner=rep, stage=lifecycle.SALES_ACCEPTANCE, sales_ready=True)
    ok = client.patch(f"{API}/leads/{lead.id}", headers=headers, json={"phone": "+44 20 7946 0000"})
    assert ok.status_code == 200 and ok.get_json()["phone"] == "+44 20 7946 0000"
    refused = client.patch(f"{API}/leads/{lead.id}", headers=headers, json={"topic": "Mine now"})
    assert refused.status_code == 422
    assert errors_of(refused) == [("topic", "Your role may not change this field.")]


# --------------------------------------------------------------------------- leads: list


def test_lead_list_filters_sorts_and_paginates_like_the_web_list(client):
    """R7/P8: the API list takes the web list's filters (search, stage, status,
    owner, product line, team), sort and pages; bad filters are 422s by field."""
    _, headers = as_role("manager")
    rep = make_user("rep")
    line = make_product_line()
    team = make_team()
    target = make_lead(
        last_name="Zuse",
        product_line=line,
        team=team,
        owner=rep,
        stage=lifecycle.SALES_ACCEPTANCE,
        sales_ready=True,
    )
    converted = make_lead(status=lifecycle.QUALIFIED, stage=lifecycle.SALES_ACCEPTANCE)
    others = [make_lead() for _ in range(5)]

    def ids(query: str) -> list[int]:
        response = client.get(f"{API}/leads?{query}", headers=headers)
        assert response.status_code == 200, response.get_json()
        return [row["id"] for row in response.get_json()["data"]]

    assert ids("q=zus") == [target.id]
    assert ids("stage=5") == [target.id]
    assert ids("stage=converted") == [converted.id]
    assert ids("status=qualified") == [converted.id]
    assert ids(f"owner={rep.id}") == [target.id]
    assert len(ids("owner=none")) == 6
    assert ids(f"product_line={line.id}") == [target.id]
    assert ids(f"team={team.id}") == [target.id]
    assert ids("sort=-name&per_page=1") == [target.id]

    page = client.get(f"{API}/leads?sort=created_at&per_page=3&page=2", headers=headers).get_json()
    assert (page["page"], page["per_page"], page["total"]) == (2, 3, 7)
    assert [row["id"] for row in page["data"]] == [o.id for o in others[1:4]]

    bad = client.get(f"{API}/leads?stage=9&per_page=500&owner=x&sort=hacker", headers=headers)
    assert bad.status_code == 422
    assert fields_of(bad) == {"stage", "per_page", "owner", "sort"}


def test_lead_list_query_count_does_not_grow_with_the_page(client, monkeypatch):
    """STYLE 7 (no N+1): a page of 30 leads with related rows costs the same
    number of queries as a page of 3."""
    _, headers = as_role("integration")
    line = make_product_line()
    team = make_team()

    def lead_with_relations():
        rep = make_user("rep")
        make_lead(
            product_line=line,
            team=team,
            contact=make_contact(),
            account=make_account(),
            owner=rep,
            teleprospector=make_user("teleprospector"),
        )

    def queries_for(per_page: int) -> int:
        count = 0
        original = db.obj.execute_sql

        def counting(sql, *args, **kwargs):
            nonlocal count
            count += 1
            return original(sql, *args, **kwargs)

        monkeypatch.setattr(db.obj, "execute_sql", counting)
        response = client.get(f"{API}/leads?per_page={per_page}", headers=headers)
        monkeypatch.undo()
        assert len(response.get_json()["data"]) == per_page
        return count

    for _ in range(30):
        lead_with_relations()
    client.get(f"{API}/leads", headers=headers)  # the token's first use is recorded once
    assert queries_for(3) == queries_for(30)


# --------------------------------------------------------------------------- validation


LEAD_FAILURES = [
    ({}, "topic"),
    ({"topic": "   "}, "topic"),
    ({"topic": "x" * 201}, "topic"),
    ({"topic": None}, "topic"),
    ({"topic": 42}, "topic"),
    ({"topic": "ok", "email": "not-an-email"}, "email"),
    ({"topic": "ok", "email": "a" * 250 + "@b.test"}, "email"),
    ({"topic": "ok", "first_name": None}, "first_name"),
    ({"topic": "ok", "last_name": "y" * 101}, "last_name"),
    ({"topic": "ok", "phone": "1" * 41}, "phone"),
    ({"topic": "ok", "country": "France"}, "country"),
    ({"topic": "ok", "contact_id": 999}, "contact_id"),
    ({"topic": "ok", "account_id": 999}, "account_id"),
    ({"topic": "ok", "campaign_id": 999}, "campaign_id"),
    ({"topic": "ok", "product_line_id": "1"}, "product_line_id"),
    ({"topic": "ok", "team_id": True}, "team_id"),
    ({"topic": "ok", "colour": "blue"}, "colour"),
    ({"topic": "ok", "stage": 5}, "stage"),
    ({"topic": "ok", "sales_ready": True}, "sales_ready"),
]


def test_lead_create_validation_names_the_field_and_the_reason(client):
    """E1/C3: every refused lead field answers 422 with that field and a reason; nothing is stored."""
    _, headers = as_role("integration")
    for body, field in LEAD_FAILURES:
        response = client.post(f"{API}/leads", headers=headers, json=body)
        assert response.status_code == 422, body
        assert fields_of(response) == {field}, body
    assert Lead.select().count() == 0


CONTACT_FAILURES = [
    ({}, None),
    ({"email": "  "}, "email"),
    ({"email": "nope"}, "email"),
    ({"first_name": "A", "owner_id": "rep"}, "owner_id"),
    ({"first_name": "A", "account_id": 999}, "account_id"),
    ({"first_name": "A", "country": "F1"}, "country"),
    ({"first_name": "A", "job_title": "t" * 151}, "job_title"),
    ({"first_name": "A", "id": 5}, "id"),
]


def test_contact_create_validation_names_the_field_and_the_reason(client):
    """Contacts: shapes, lengths, references; a contact needs an email or a name."""
    _, headers = as_role("integration")
    for body, field in CONTACT_FAILURES:
        response = client.post(f"{API}/contacts", headers=headers, json=body)
        assert response.status_code == (400 if field is None else 422), body
        assert fields_of(response) == {field}, body


ACCOUNT_FAILURES = [
    ({}, "name"),
    ({"name": "n" * 201}, "name"),
    ({"name": "A", "employee_count": -1}, "employee_count"),
    ({"name": "A", "employee_count": 2**31}, "employee_count"),
    ({"name": "A", "annual_revenue": "1M"}, "annual_revenue"),
    ({"name": "A", "annual_revenue": 1.5}, "annual_revenue"),
    ({"name": "A", "industry": ["x"]}, "industry"),
]


def test_account_create_validation_names_the_field_and_the_reason(client):
    """Accounts: required name, integer ranges, types."""
    _, headers = as_role("marketer")
    for body, field in ACCOUNT_FAILURES:
        response = client.post(f"{API}/accounts", headers=headers, json=body)
        assert response.status_code == 422, body
        assert fields_of(response) == {field}, body


def test_owner_must_be_an_active_sales_rep(client):
    """R2: a contact's or account's owner is an active rep, never another role or a former rep."""
    _, headers = as_role("manager")
    for owner in (make_user("manager"), make_user("rep", is_active=False)):
        for path, body in (("/contacts", {"first_name": "A"}), ("/accounts", {"name": "A"})):
            response = client.post(API + path, headers=headers, json={**body, "owner_id": owner.id})
            assert errors_of(response) == [("owner_id", "Must be the id of an active sales rep.")]


MALFORMED_BODIES = [
    ("{not json", "application/json"),
    ("[1, 2]", "application/json"),
    ('"text"', "application/json"),
    ('{"topic": "x"}', "text/plain"),
    ("", "application/json"),
    (b"\xff\xfe", "application/json"),
]


def test_malformed_bodies_are_400_with_a_null_field(client):
    """A body that is not a JSON object is a 400 about the body as a whole (field null)."""
    _, headers = as_role("integration")
    lead = make_lead()
    for data, content_type in MALFORMED_BODIES:
        for method, path in (("post", "/leads"), ("patch", f"/leads/{lead.id}"), ("post", "/accounts")):
            response = getattr(client, method)(
                API + path, headers=headers, data=data, content_type=content_type
            )
            assert response.status_code == 400, (data, path)
            assert fields_of(response) == {None}, (data, path)


def test_every_failing_field_is_reported_at_once(client):
    """All faulty fields come back in one answer, not one per round-trip."""
    _, headers = as_role("integration")
    response = client.post(
        f"{API}/leads", headers=headers, json={"email": "x", "country": "123", "owner_id": 1}
    )
    assert fields_of(response) == {"topic", "email", "country", "owner_id"}


# --------------------------------------------------------------------------- contacts and accounts


def test_contacts_create_read_update_search_filter_and_paginate(client):
    """Contacts through the API: create, read, update, search q, owner and account filters, pages."""
    _, headers = as_role("integration")
    rep = make_user("rep")
    account = make_account(name="Globex")
    created = client.post(
        f"{API}/contacts",
        headers=headers,
        json={
            "first_name": "Hedy",
            "last_name": "Lamarr",
            "email": "hedy@example.test",
            "account_id": account.id,
        },
    )
    assert created.status_code == 201
    contact = created.get_json()
    assert contact["name"] == "Hedy Lamarr" and contact["account"] == {"id": account.id, "name": "Globex"}

    updated = client.patch(f"{API}/contacts/{contact['id']}", headers=headers, json={"owner_id": rep.id})
    assert updated.status_code == 200 and updated.get_json()["owner"] == {"id": rep.id, "name": rep.name}
    assert updated.get_json()["email"] == "hedy@example.test"
    for n in range(4):
        make_contact(last_name=f"Other{n}")

    def ids(query: str) -> list[int]:
        response = client.get(f"{API}/contacts?{query}", headers=headers)
        assert response.status_code == 200, response.get_json()
        return [row["id"] for row in response.get_json()["data"]]

    assert ids("q=hedy") == ids("q=LAM hed") == [contact["id"]]
    assert ids(f"owner={rep.id}") == ids(f"account={account.id}") == [contact["id"]]
    page = client.get(f"{API}/contacts?per_page=2&page=3", headers=headers).get_json()
    assert (len(page["data"]), page["page"], page["per_page"], page["total"]) == (1, 3, 2, 5)
    bad = client.get(f"{API}/contacts?owner=me&page=0&per_page=201", headers=headers)
    assert bad.status_code == 422 and fields_of(bad) == {"owner", "page", "per_page"}
    assert client.get(f"{API}/contacts/999", headers=headers).status_code == 404


def test_accounts_create_read_update_search_and_paginate(client):
    """Accounts through the API: create, read, update, search by name or domain, owner filter, pages."""
    _, headers = as_role("marketer")
    rep = make_user("rep")
    created = client.post(
        f"{API}/accounts",
        headers=headers,
        json={
            "name": "Initech",
            "domain": "initech.test",
            "employee_count": 250,
            "annual_revenue": 12_000_000_000,
        },
    )
    assert created.status_code == 201
    account = created.get_json()
    assert account["annual_revenue"] == 12_000_000_000 and account["owner"] is None
    updated = client.patch(
        f"{API}/accounts/{account['id']}", headers=headers, json={"owner_id": rep.id, "industry": "Software"}
    )
    assert updated.get_json()["industry"] == "Software" and updated.get_json()["owner_id"] == rep.id
    assert (
        client.patch(f"{API}/accounts/{account['id']}", headers=headers, json={"name": ""}).status_code == 422
    )
    for _ in range(3):
        make_account()

    def ids(query: str) -> list[int]:
        return [
            row["id"] for row in client.get(f"{API}/accounts?{query}", headers=headers).get_json()["data"]
        ]

    assert ids("q=initech.t") == ids("q=INI") == ids(f"owner={rep.id}") == [account["id"]]
    page = client.get(f"{API}/accounts?per_page=3&page=2", headers=headers).get_json()
    assert (len(page["data"]), page["total"]) == (1, 4)
    assert client.get(f"{API}/accounts?q=" + "w " * 6, headers=headers).status_code == 422


# --------------------------------------------------------------------------- stage actions


def test_p1_to_p6_walk_a_lead_from_inquiry_to_converted_through_the_api(client):
    """P1 move by hand 1→2, P2 ready for teleprospecting 2→3, P4 accepted 3→4,
    P5 findings then sales-ready 4→5, P6 assigned, sales-accepted, converted; P7
    every stage change in the history with who and how. Invalid moves are 409s."""
    integration, headers = as_role("integration")
    tp, tp_headers = as_role("teleprospector")
    manager, manager_headers = as_role("manager")
    rep, rep_headers = as_role("rep")
    lead_id = client.post(f"{API}/leads", headers=headers, json={"topic": "Walk"}).get_json()["id"]

    refused = act(client, headers, lead_id, "ready_for_tp")
    assert refused.status_code == 409 and "Automated marketing qualification" in errors_of(refused)[0][1]

    steps = [
        (headers, "move", {"stage": 2}, 2),
        (headers, "ready_for_tp", {}, 3),
        (tp_headers, "tp_accept", {}, 4),
        (
            tp_headers,
            "qualify",
            {"values": {"budget": "Over 250k", "authority": "Decision maker", "need": "Scale"}},
            4,
        ),
        (tp_headers, "sales_ready", {"note": "Ready to talk"}, 5),
        (manager_headers, "assign", {"owner_id": rep.id}, 5),
    ]
    for step_headers, action, body, stage in steps:
        response = act(client, step_headers, lead_id, action, **body)
        assert response.status_code == 200, (action, response.get_json())
        assert response.get_json()["stage"] == stage, action

    early = act(client, rep_headers, lead_id, "convert")
    assert early.status_code == 409
    assert errors_of(early) == [(None, "Accept the lead for sales before converting it.")]
    assert act(client, rep_headers, lead_id, "sales_accept").get_json()["status_reason"] == "sales_accepted"
    converted = act(client, rep_headers, lead_id, "convert").get_json()
    assert (converted["status"], converted["status_reason"], converted["stage_label"]) == (
        "qualified",
        "converted",
        "Converted",
    )
    assert converted["owner"] == {"id": rep.id, "name": rep.name}
    assert converted["qualification"]["budget"] == "Over 250k"
    again = act(client, rep_headers, lead_id, "convert")
    assert again.status_code == 409 and "already converted" in errors_of(again)[0][1]

    history = client.get(f"{API}/leads/{lead_id}/history", headers=headers).get_json()["data"]
    stages = [(h["old_value"], h["new_value"], h["actor_id"]) for h in history if h["kind"] == "stage"]
    assert stages == [
        (None, "1", integration.id),
        ("1", "2", integration.id),
        ("2", "3", integration.id),
        ("3", "4", tp.id),
        ("4", "5", tp.id),
    ]
    moves = [h for h in history if h["kind"] == "stage"]
    assert moves[1]["via"] == "API: move" and moves[1]["new_label"] == "Automated marketing qualification"
    assert any(h["note"] == "Ready to talk" for h in history)
    assert ("owner", None, str(rep.id)) in [(h["kind"], h["old_value"], h["new_value"]) for h in history]
    assert ("status", "open", "qualified") in [(h["kind"], h["old_value"], h["new_value"]) for h in history]


def test_p3_sales_ready_from_stage_2_skips_teleprospecting(client):
    """P3: a lead marked sales-ready goes straight to stage 5."""
    _, headers = as_role("marketer")
    lead = make_lead(stage=lifecycle.AUTOMATED_QUALIFICATION)
    response = act(client, headers, lead.id, "sales_ready")
    assert response.status_code == 200
    assert (response.get_json()["stage"], response.get_json()["sales_ready"]) == (5, True)


def test_p6_disqualify_closes_the_lead_with_a_reason(client):
    """P6: disqualifying takes a known reason and ends the process; later actions are 409s."""
    _, headers = as_role("integration")
    lead = make_lead(stage=lifecycle.AUTOMATED_QUALIFICATION)
    bad = act(client, headers, lead.id, "disqualify", reason="bored")
    assert bad.status_code == 422 and fields_of(bad) == {"reason"}
    done = act(client, headers, lead.id, "disqualify", reason="no_budget").get_json()
    assert (done["status"], done["status_reason"], done["stage_label"]) == (
        "disqualified",
        "no_budget",
        "Disqualified",
    )
    assert act(client, headers, lead.id, "move", stage=3).status_code == 409


def test_action_role_refusals_are_409_with_the_reason(client):
    """P6: the process decides who may do what on a lead they can see (an
    integration may not assign, a teleprospector may not move stages)."""
    _, headers = as_role("integration")
    _, tp_headers = as_role("teleprospector")
    lead = make_lead(stage=lifecycle.SALES_ACCEPTANCE, sales_ready=True)
    tp_lead = make_lead(stage=lifecycle.TP_ACCEPTANCE)
    assign = act(client, headers, lead.id, "assign", owner_id=make_user("rep").id)
    assert assign.status_code == 409 and errors_of(assign) == [(None, "Your role may not assign leads.")]
    move = act(client, tp_headers, tp_lead.id, "move", stage=5)
    assert move.status_code == 409 and "may not move" in errors_of(move)[0][1]


ACTION_FAILURES = [
    ("move", {}, "stage"),
    ("move", {"stage": "2"}, "stage"),
    ("move", {"stage": 9}, "stage"),
    ("assign", {"owner_id": None}, "owner_id"),
    ("qualify", {"values": ["Over 250k"]}, "values"),
    ("qualify", {"values": {"budget": "A lot"}}, "values.budget"),
    ("qualify", {"values": {"shoe_size": "44"}}, "values.shoe_size"),
    ("qualify", {"values": {"need": 3}}, "values.need"),
    ("sales_ready", {"stage": 5}, "stage"),
    ("sales_ready", {"note": "n" * 2001}, "note"),
]


def test_action_arguments_are_validated_by_field(client):
    """P1/P5/P6: action arguments are checked before the process runs; nothing changes."""
    _, headers = as_role("admin")
    lead = make_lead(stage=lifecycle.TP_QUALIFICATION, tp_accepted=True)
    for action, body, field in ACTION_FAILURES:
        response = act(client, headers, lead.id, action, **body)
        assert response.status_code == 422, (action, body)
        assert fields_of(response) == {field}, (action, body)
    assert LeadHistory.select().count() == 0 and Lead.get_by_id(lead.id).stage == lifecycle.TP_QUALIFICATION


def test_assign_to_someone_who_is_not_an_active_rep_is_refused(client):
    """P6: only an active sales rep can be given a lead."""
    _, headers = as_role("manager")
    lead = make_lead(stage=lifecycle.SALES_ACCEPTANCE, sales_ready=True)
    for owner in (make_user("manager"), make_user("rep", is_active=False)):
        response = act(client, headers, lead.id, "assign", owner_id=owner.id)
        assert errors_of(response) == [("owner_id", "Must be the id of an active sales rep.")]


def test_unknown_action_is_a_404_naming_the_action(client):
    _, headers = as_role("admin")
    lead = make_lead()
    response = act(client, headers, lead.id, "promote")
    assert response.status_code == 404 and fields_of(response) == {"action"}


# --------------------------------------------------------------------------- OpenAPI


def _api_routes(app) -> set[tuple[str, str]]:
    routes = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(API + "/"):
            path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
            routes |= {(path, method.lower()) for method in rule.methods - {"HEAD", "OPTIONS"}}
    return routes


def test_openapi_document_lists_exactly_the_api_routes(app, client):
    """The public OpenAPI 3.1 document lists every /api/v1 rule and method, and
    documents nothing that is not served."""
    response = client.get(f"{API}/openapi.json")
    assert response.status_code == 200
    document = response.get_json()
    assert document["openapi"].startswith("3.1")
    documented = {(path, method) for path, item in document["paths"].items() for method in item}
    served = _api_routes(app)
    assert len(served) >= 15
    assert documented == served
    action = document["paths"][f"{API}/leads/{{lead_id}}/actions/{{action}}"]["post"]
    enum = next(p for p in action["parameters"] if p["name"] == "action")["schema"]["enum"]
    assert set(enum) == set(lifecycle.ACTIONS)
    assert all(f"`{name}`" in action["description"] for name in lifecycle.ACTIONS)


def test_openapi_operations_declare_parameters_bodies_responses_and_security(app, client):
    """Each operation names its path parameters, request body and responses, the
    error schema and the bearerAuth scheme; only the document itself is public."""
    document = client.get(f"{API}/openapi.json").get_json()
    components = document["components"]
    assert components["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": components["securitySchemes"]["bearerAuth"]["description"],
    }
    assert document["security"] == [{"bearerAuth": []}]
    assert components["schemas"]["Error"]["properties"]["errors"]["items"]["required"] == ["field", "reason"]

    def resolve(ref: str) -> dict:
        node = document
        for part in ref.removeprefix("#/").split("/"):
            node = node[part]
        return node

    for path, item in document["paths"].items():
        for method, op in item.items():
            names = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
            assert names == set(re.findall(r"{(\w+)}", path)), (path, method)
            assert op["responses"] and op["summary"]
            for response in op["responses"].values():
                if "$ref" in response:
                    assert resolve(response["$ref"])["content"]["application/json"]["schema"] == {
                        "$ref": "#/components/schemas/Error"
                    }
            if path == f"{API}/openapi.json":
                assert op["security"] == []
                continue
            assert "security" not in op and {"401"} <= set(op["responses"])
            if method in ("post", "patch"):
                assert "400" in op["responses"] and "requestBody" in op, (path, method)
                schema_ref = op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
                body = resolve(schema_ref)  # an object, or one of an object and a batch of them
                assert body.get("type") == "object" or "oneOf" in body, (path, method)
            for response in op["responses"].values():
                for content in response.get("content", {}).values():
                    resolve(content["schema"]["$ref"])


def test_openapi_schemas_match_the_serialisers_the_models_and_the_list_filters(app, client):
    """The documented fields are the served ones: response schemas have the
    serialisers' keys, request schemas the models' lengths, the lead list the
    web list's parameters."""
    from leads.records.listing import ListParams
    from leads.records.models import Account, Contact

    _, headers = as_role("admin")
    lead = make_lead(contact=make_contact(), account=make_account(owner=make_user("rep")))
    schemas = client.get(f"{API}/openapi.json").get_json()["components"]["schemas"]
    served = {
        "Lead": client.get(f"{API}/leads/{lead.id}", headers=headers).get_json(),
        "Contact": client.get(f"{API}/contacts/{lead.contact_id}", headers=headers).get_json(),
        "Account": client.get(f"{API}/accounts/{lead.account_id}", headers=headers).get_json(),
    }
    for name, body in served.items():
        assert set(body) == set(schemas[name]["properties"]), name
    history = client.get(f"{API}/leads/{lead.id}/history", headers=headers).get_json()["data"]
    assert history == [] or set(history[0]) == set(schemas["HistoryEntry"]["properties"])

    for name, model in (("Lead", Lead), ("Contact", Contact), ("Account", Account)):
        for key, prop in schemas[f"{name}Create"]["properties"].items():
            column = getattr(model, key.removesuffix("_id"))
            if getattr(column, "max_length", None):
                assert prop["maxLength"] == column.max_length, (name, key)

    document = client.get(f"{API}/openapi.json").get_json()
    params = {p["name"] for p in document["paths"][f"{API}/leads"]["get"]["parameters"]}
    # ``columns`` chooses the web table's columns (W5); the API answers every field, and refuses it
    assert params == {f.name for f in dataclasses.fields(ListParams)} - {"columns"}
