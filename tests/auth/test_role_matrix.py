"""The role matrix (G1): every role × every route in the URL map, pages,
fragments and API calls, allowed or refused by the one chokepoint, plus the
record-level rules: a rep's view of another rep's lead is a 404, and a
teleprospector sees only the contacts and accounts of the leads they may see.

The expectations come from each route's declared policy, so a route added
without thinking about roles fails here (no policy: 403 for everyone and the
policy test fails; a policy that the server does not enforce: this test fails).
"""

from __future__ import annotations

import re

import pytest
from werkzeug.routing import IntegerConverter

from auth.models import ADMIN, INTEGRATION, MANAGER, MARKETER, REP, TELEPROSPECTOR
from auth.sessions import issue_token
from leads.core import lifecycle
from tests.factories import (
    csrf_token,
    login,
    make_account,
    make_contact,
    make_lead,
    make_product_line,
    make_user,
)

WEB_ROLES = [ADMIN, MARKETER, MANAGER, TELEPROSPECTOR, REP]
ANONYMOUS = "anonymous"
SKIP_ENDPOINTS = {"static"}


def _world():
    """One of everything a route might take as an id."""
    rep = make_user(REP)
    other_rep = make_user(REP)
    line = make_product_line()
    account = make_account(owner=rep)
    contact = make_contact(account=account, owner=rep)
    own = make_lead(
        stage=lifecycle.SALES_ACCEPTANCE, sales_ready=True, owner=rep, product_line=line, contact=contact
    )
    others = make_lead(stage=lifecycle.SALES_ACCEPTANCE, sales_ready=True, owner=other_rep, product_line=line)
    return {
        "rep": rep,
        "other_rep": other_rep,
        "own": own,
        "others": others,
        "contact": contact,
        "account": account,
    }


def _sample_url(rule, world) -> str:
    """Fill a URL rule's arguments with ids of records that exist."""
    values = {}
    for name in rule.arguments:
        converter = rule._converters.get(name)
        is_int = isinstance(converter, IntegerConverter)  # the app's bounded one included
        if name in ("lead_id", "id") and is_int:
            values[name] = world["own"].id
        elif name == "contact_id":
            values[name] = world["contact"].id
        elif name == "account_id":
            values[name] = world["account"].id
        elif name == "user_id":
            values[name] = world["rep"].id
        elif is_int:
            values[name] = 1
        elif name == "action":
            values[name] = "sales_accept"
        elif name == "records":  # /<any(contacts, accounts):records>/<record_id>/…
            values[name] = "contacts"
        elif name == "record_id":
            values[name] = world["contact"].id
        else:
            values[name] = "x"
    path = rule.rule
    for name, value in values.items():
        path = re.sub(rf"<(?:[^:<>]+:)?{name}>", str(value), path)
    return path


def _routes(app):
    """Every (rule, method); signing out comes last so it cannot end the session mid-walk."""
    rules = sorted(app.url_map.iter_rules(), key=lambda rule: (rule.endpoint == "auth.logout", rule.rule))
    for rule in rules:
        if rule.endpoint in SKIP_ENDPOINTS:
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule, method


def _policy(app, endpoint):
    from auth.policy import policy_for

    with app.app_context():
        return policy_for(endpoint)


@pytest.mark.parametrize("role", [*WEB_ROLES, INTEGRATION, ANONYMOUS])
def test_every_route_allows_exactly_its_declared_roles(app, role):
    """G1: each (role, route, method, page-or-fragment) is allowed or refused as declared."""
    world = _world()
    client = app.test_client()
    api_headers = {}
    if role in WEB_ROLES:
        user = world["rep"] if role == REP else make_user(role)
        login(client, user)
        web_headers = {"X-CSRFToken": csrf_token(client)}
    else:
        web_headers = {"X-CSRFToken": csrf_token(client, "/login")}
        if role == INTEGRATION:
            api_headers = {"Authorization": "Bearer " + issue_token(make_user(INTEGRATION), "matrix")}
    if role in WEB_ROLES:
        api_headers = {"Authorization": "Bearer " + issue_token(user, "matrix")}

    wrong, checked = [], 0
    for rule, method in _routes(app):
        policy = _policy(app, rule.endpoint)
        path = _sample_url(rule, world)
        variants = [{}] if policy.api else [{}, {"HX-Request": "true"}]
        for extra in variants:
            headers = {**(api_headers if policy.api else web_headers), **extra}
            response = client.open(path, method=method, headers=headers)
            checked += 1
            expected = _expected(policy, role)
            if not expected(response):
                wrong.append(
                    f"{role} {method} {path} {extra or ''} → {response.status_code} (policy {policy})"
                )
    assert checked > 20
    assert wrong == []


def _expected(policy, role):
    """A predicate over the response for ``role`` on a route with ``policy``."""
    if policy.public:
        return lambda r: r.status_code not in (401, 403)
    if role == ANONYMOUS or (role == INTEGRATION and not policy.api):
        if policy.api:
            return lambda r: r.status_code == 401 and r.is_json
        return lambda r: (
            (r.status_code == 302 and "/login" in r.headers["Location"])
            or (r.status_code == 401 and "/login" in r.headers.get("HX-Redirect", ""))
        )
    if role in policy.roles:
        return lambda r: r.status_code not in (401, 403) and r.status_code < 500
    return lambda r: r.status_code == 403


@pytest.mark.parametrize("method_path", ["GET /leads/{id}", "GET /api/v1/leads/{id}"])
def test_a_rep_gets_404_for_another_reps_lead(app, method_path):
    """G1: others' leads do not exist for a rep: 404 on the page and the API."""
    world = _world()
    method, template = method_path.split()
    client = app.test_client()
    headers = {}
    if template.startswith("/api/"):
        headers = {"Authorization": "Bearer " + issue_token(world["rep"], "t")}
    else:
        login(client, world["rep"])
    own = client.open(template.format(id=world["own"].id), method=method, headers=headers)
    others = client.open(template.format(id=world["others"].id), method=method, headers=headers)
    assert own.status_code == 200
    assert others.status_code == 404


def test_a_rep_never_sees_another_reps_lead_in_lists_counts_or_search(app):
    """G1: absent from every list, count and search (web list and API list)."""
    world = _world()
    client = login(app.test_client(), world["rep"])
    name = world["others"].last_name
    # the fragment, not the page: the page echoes the search term in its search box
    found = client.get(f"/leads?q={name}", headers={"HX-Request": "true"}).get_data(as_text=True)
    # the list's forms and refresh address carry the search term in attributes (W5): not the lead
    found = re.sub(r'="[^"]*"', '=""', found)
    assert name not in found and "No leads match" in found
    everything = client.get("/leads").get_data(as_text=True)
    assert world["own"].last_name in everything and name not in everything
    token = issue_token(world["rep"], "t")
    listed = client.get("/api/v1/leads", headers={"Authorization": f"Bearer {token}"}).get_json()
    assert listed["total"] == 1 and [row["id"] for row in listed["data"]] == [world["own"].id]


def _records_of_lead(stage: int, tag: str):
    """A contact and its account, both the records of one lead in ``stage``."""
    account = make_account(name=f"{tag} Account")
    contact = make_contact(first_name=tag, last_name="Person", account=account)
    make_lead(stage=stage, contact=contact, account=account)
    return {"contacts": contact, "accounts": account}


RECORD_KINDS = ["contacts", "accounts"]
HX = {"HX-Request": "true"}


@pytest.mark.parametrize("kind", RECORD_KINDS)
def test_a_teleprospector_sees_only_the_contacts_and_accounts_of_their_leads(app, kind):
    """G1, P8: a teleprospector sees the contact and account of a stage-3 lead and
    not those of a stage-1 lead: 404 on the page, its htmx fragment and the API
    detail; absent from the list page, its fragment, its search and the API list."""
    seen = _records_of_lead(lifecycle.TP_ACCEPTANCE, "Called")[kind]
    hidden = _records_of_lead(lifecycle.INQUIRY, "Uncalled")[kind]
    teleprospector = make_user(TELEPROSPECTOR)
    client = login(app.test_client(), teleprospector)
    token = {"Authorization": "Bearer " + issue_token(teleprospector, "t")}
    noun = kind[:-1]

    page = client.get(f"/{kind}").get_data(as_text=True)
    assert "Called" in page and "Uncalled" not in page and f"<strong>1</strong> {noun}<" in page
    for query in ("", "?q=called", "?q=uncalled"):
        fragment = client.get(f"/{kind}{query}", headers=HX).get_data(as_text=True)
        assert "<html" not in fragment and "Uncalled" not in fragment
        assert ("Called" in fragment) == (query != "?q=uncalled")
    for headers in ({}, HX):
        assert client.get(f"/{kind}/{seen.id}", headers=headers).status_code == 200
        assert client.get(f"/{kind}/{hidden.id}", headers=headers).status_code == 404

    listed = client.get(f"/api/v1/{kind}", headers=token).get_json()
    assert [row["id"] for row in listed["data"]] == [seen.id] and listed["total"] == 1
    searched = client.get(f"/api/v1/{kind}?q=uncalled", headers=token).get_json()
    assert searched["data"] == [] and searched["total"] == 0
    assert client.get(f"/api/v1/{kind}/{seen.id}", headers=token).status_code == 200
    missing = client.get(f"/api/v1/{kind}/{hidden.id}", headers=token)
    assert missing.status_code == 404
    assert missing.get_json() == {"errors": [{"field": f"{noun}_id", "reason": f"No such {noun}."}]}


@pytest.mark.parametrize("role", [ADMIN, MARKETER, MANAGER, INTEGRATION])
def test_other_roles_still_see_every_contact_and_account(app, role):
    """G1: admins, marketers, managers and integrations see the contacts and
    accounts of leads in every stage (only teleprospectors and reps are limited)."""
    seen = _records_of_lead(lifecycle.TP_ACCEPTANCE, "Called")
    other = _records_of_lead(lifecycle.INQUIRY, "Uncalled")
    user = make_user(role)
    client = app.test_client()
    token = {"Authorization": "Bearer " + issue_token(user, "t")}
    if role != INTEGRATION:
        login(client, user)
    for kind in RECORD_KINDS:
        ids = {seen[kind].id, other[kind].id}
        listed = client.get(f"/api/v1/{kind}", headers=token).get_json()
        assert {row["id"] for row in listed["data"]} == ids
        assert all(client.get(f"/api/v1/{kind}/{i}", headers=token).status_code == 200 for i in ids)
        if role != INTEGRATION:
            page = client.get(f"/{kind}").get_data(as_text=True)
            assert "Called" in page and "Uncalled" in page
            assert all(client.get(f"/{kind}/{i}").status_code == 200 for i in ids)
