"""Admin pages (users, teams, API tokens, qualification fields) and the marketers'
product-line and campaign pages: who may use them (G1, G2), what they refuse, and
that a deactivated user can do nothing at once (G1). Qualification fields: P5."""

from __future__ import annotations

import hashlib

import pytest

from auth.admin import LAST_ADMIN, leaves_no_admin
from auth.models import ADMIN, INTEGRATION, ApiToken, Team, User, UserSession
from auth.passwords import MIN_LENGTH
from auth.sessions import issue_token, token_user
from leads.core import validation
from leads.records.models import Campaign, ProductLine
from leads.stages.fields import active_fields, ordered_fields
from leads.stages.models import QualificationField
from tests.factories import (
    PASSWORD,
    csrf_token,
    login,
    make_lead,
    make_product_line,
    make_team,
    make_user,
)

WEB_ROLES = ["admin", "marketer", "manager", "teleprospector", "rep"]


# Helpers ------------------------------------------------------------------------


def signed_in(app, role: str = "admin", **overrides):
    """A test client signed in as a new user of ``role``; the user is ``client.user``."""
    user = make_user(role, **overrides)
    client = login(app.test_client(), user)
    client.user = user
    client.token = csrf_token(client)
    return client


def hx_post(client, path: str, data: dict | None = None, target: str | None = None):
    """An htmx form post, as the browser sends it (CSRF header, HX-Request)."""
    headers = {"HX-Request": "true", "X-CSRFToken": client.token}
    if target:
        headers["HX-Target"] = target
    return client.post(path, data=data or {}, headers=headers)


def text(response) -> str:
    return response.get_data(as_text=True)


def token_is_accepted(app, token: str) -> bool:
    """Whether the API chokepoint (``token_user``) accepts ``token`` right now."""
    with app.test_request_context(headers={"Authorization": f"Bearer {token}"}):
        return token_user() is not None


def admin_routes(user_id: int, team_id: int, token_id: int, field_id: int) -> list[tuple[str, str]]:
    """Every admin route, with real ids (the role matrix of this blueprint)."""
    u, f = f"/admin/users/{user_id}", f"/admin/qualification-fields/{field_id}"
    return [
        ("GET", "/admin/users"),
        ("POST", "/admin/users"),
        ("GET", u),
        ("POST", u),
        ("POST", f"{u}/deactivate"),
        ("POST", f"{u}/reactivate"),
        ("POST", f"{u}/password"),
        ("POST", f"{u}/tokens"),
        ("POST", f"{u}/tokens/{token_id}/revoke"),
        ("GET", "/admin/teams"),
        ("POST", "/admin/teams"),
        ("POST", f"/admin/teams/{team_id}"),
        ("GET", "/admin/qualification-fields"),
        ("POST", "/admin/qualification-fields"),
        ("GET", f),
        ("POST", f),
        ("POST", f"{f}/move-up"),
        ("POST", f"{f}/move-down"),
        ("POST", f"{f}/deactivate"),
        ("POST", f"{f}/reactivate"),
    ]


def marketing_routes(line_id: int, campaign_id: int) -> list[tuple[str, str]]:
    return [
        ("GET", "/marketing/product-lines"),
        ("POST", "/marketing/product-lines"),
        ("GET", f"/marketing/product-lines/{line_id}"),
        ("POST", f"/marketing/product-lines/{line_id}"),
        ("GET", "/marketing/campaigns"),
        ("POST", "/marketing/campaigns"),
        ("GET", f"/marketing/campaigns/{campaign_id}"),
        ("POST", f"/marketing/campaigns/{campaign_id}"),
    ]


def _some_records():
    integration = make_user(INTEGRATION, password_hash=None)
    issue_token(integration, "site")
    token = ApiToken.get(ApiToken.user == integration.id)
    field = QualificationField.select().first()
    return admin_routes(integration.id, make_team().id, token.id, field.id)


def _call(client, method: str, path: str):
    if method == "GET":
        return client.get(path)
    return client.post(path, data={"csrf_token": client.token})


# Who may use the pages (G1, G2) -----------------------------------------------------


@pytest.mark.parametrize("role", ["marketer", "manager", "teleprospector", "rep"])
def test_every_admin_page_is_refused_to_other_roles(app, role):
    """G1: users, teams, tokens and qualification fields are for admins only."""
    routes = _some_records()
    client = signed_in(app, role)
    before = {model: model.select().count() for model in (User, Team, ApiToken, QualificationField)}
    for method, path in routes:
        assert _call(client, method, path).status_code == 403, (method, path)
    assert before == {model: model.select().count() for model in before}


def test_every_admin_and_marketing_page_sends_anonymous_visitors_to_sign_in(app):
    """G1: no session, no page: a redirect to sign-in (401 + HX-Redirect for htmx)."""
    routes = _some_records() + marketing_routes(make_product_line().id, Campaign.create(name="C").id)
    client = app.test_client()
    client.token = csrf_token(client, "/login")
    for method, path in routes:
        response = _call(client, method, path)
        assert response.status_code == 302 and "/login" in response.headers["Location"], (method, path)
    htmx = client.get("/admin/users", headers={"HX-Request": "true"})
    assert htmx.status_code == 401 and "/login" in htmx.headers["HX-Redirect"]


def test_every_admin_page_answers_an_admin(app):
    """G1: the admin reaches every page (GET) of the blueprint."""
    client = signed_in(app, "admin")
    for method, path in _some_records():
        if method == "GET":
            assert client.get(path).status_code == 200, path


@pytest.mark.parametrize("role", ["rep", "teleprospector", "manager"])
def test_marketing_pages_are_refused_to_reps_teleprospectors_and_managers(app, role):
    """G2: reps (and other sales roles) cannot create or change campaigns, through any page."""
    routes = marketing_routes(make_product_line().id, Campaign.create(name="Spring").id)
    client = signed_in(app, role)
    for method, path in routes:
        assert _call(client, method, path).status_code == 403, (method, path)
    assert Campaign.select().count() == 1 and ProductLine.select().count() == 1


@pytest.mark.parametrize("role", ["marketer", "admin"])
def test_marketing_pages_answer_marketers_and_admins(app, role):
    client = signed_in(app, role)
    for method, path in marketing_routes(make_product_line().id, Campaign.create(name="Spring").id):
        if method == "GET":
            assert client.get(path).status_code == 200, path


# Users ------------------------------------------------------------------------


def test_users_list_shows_role_team_status_and_last_sign_in(app):
    team = make_team(name="North")
    make_user("rep", name="Never Seen", team=team)
    client = signed_in(app, "admin", name="The Admin")
    page = text(client.get("/admin/users"))
    assert "Never Seen" in page and "Sales rep" in page and "North" in page and "never" in page
    assert "UTC" in page  # the admin's own sign-in
    fragment = client.get("/admin/users", headers={"HX-Request": "true"})
    assert text(fragment).lstrip().startswith('<div id="users">')
    assert "HX-Request" in fragment.headers["Vary"]


def _new_user(**overrides):
    values = {
        "email": "new.person@example.test",
        "name": "New Person",
        "role": "rep",
        "team": "",
        "password": "long-enough-secret",
    }
    return {**values, **overrides}


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"email": "  Taken@Example.test "}, "A user with this email already exists."),
        ({"password": "short"}, f"Use at least {MIN_LENGTH} characters."),
        ({"role": "superuser"}, "Not a valid choice"),
        ({"role": INTEGRATION}, "Integration users have no password"),
        ({"email": "not-an-email"}, validation.EMAIL_REASON),
        ({"name": ""}, "This field is required."),
    ],
)
def test_create_user_refuses_invalid_input_inline(app, overrides, message):
    """G1: duplicate email (normalised), short password, unknown role… answer 422 with
    the form's inline errors, and nothing is stored."""
    make_user("rep", email="taken@example.test")
    client = signed_in(app)
    before = User.select().count()
    response = hx_post(client, "/admin/users", _new_user(**overrides))
    assert response.status_code == 422
    assert message in text(response) and 'id="users"' in text(response)
    assert User.select().count() == before


def test_create_user_adds_the_row_and_the_user_can_sign_in(app):
    team = make_team(name="South")
    client = signed_in(app)
    response = hx_post(client, "/admin/users", _new_user(email=" New.Person@Example.TEST", team=str(team.id)))
    assert response.status_code == 200 and "New Person was added." in text(response)
    user = User.get(User.email == "new.person@example.test")
    assert user.role == "rep" and user.team_id == team.id and user.is_active
    other = app.test_client()
    answer = other.post(
        "/login",
        data={
            "email": user.email,
            "password": "long-enough-secret",
            "csrf_token": csrf_token(other, "/login"),
        },
    )
    assert answer.status_code == 302


def test_create_integration_user_without_password(app):
    client = signed_in(app)
    response = hx_post(client, "/admin/users", _new_user(role=INTEGRATION, password=""))
    assert response.status_code == 200
    assert User.get(User.email == "new.person@example.test").password_hash is None


def test_create_user_without_htmx_redirects_after_saving(app):
    """The page works without JavaScript: post, redirect, flash."""
    client = signed_in(app)
    response = client.post("/admin/users", data={**_new_user(), "csrf_token": client.token})
    assert response.status_code == 302 and response.headers["Location"].endswith("/admin/users")
    assert "New Person was added." in text(client.get("/admin/users"))


def test_edit_user_changes_name_role_and_team(app):
    team = make_team()
    target = make_user("rep")
    client = signed_in(app)
    path = f"/admin/users/{target.id}"
    invalid = hx_post(client, path, {"name": "", "role": "manager", "team": ""})
    assert invalid.status_code == 422 and "This field is required." in text(invalid)
    ok = hx_post(client, path, {"name": "Renamed", "role": "manager", "team": str(team.id)})
    assert ok.status_code == 200 and "Changes saved." in text(ok) and 'id="user-profile"' in text(ok)
    target = User.get_by_id(target.id)
    assert (target.name, target.role, target.team_id) == ("Renamed", "manager", team.id)


def test_deactivation_ends_sessions_and_refuses_api_tokens_at_once(app):
    """G1: a deactivated user can do nothing: their open session and their API token
    stop working on the very next request."""
    rep = signed_in(app, "rep")
    assert rep.get("/account/password").status_code == 200
    integration = make_user(INTEGRATION, password_hash=None)
    token = issue_token(integration, "site")
    assert token_is_accepted(app, token)
    admin = signed_in(app)

    for user in (rep.user, integration):
        response = hx_post(admin, f"/admin/users/{user.id}/deactivate", target=f"user-{user.id}")
        assert response.status_code == 200 and "Inactive" in text(response)
        assert text(response).lstrip().startswith(f'<tr id="user-{user.id}"')

    assert rep.get("/account/password").status_code == 302
    assert not token_is_accepted(app, token)
    assert (
        UserSession.select()
        .where((UserSession.user == rep.user.id) & UserSession.revoked_at.is_null())
        .count()
        == 0
    )
    relogin = app.test_client()
    refused = relogin.post(
        "/login",
        data={"email": rep.user.email, "password": PASSWORD, "csrf_token": csrf_token(relogin, "/login")},
    )
    assert refused.status_code == 401

    # Reactivation lets them sign in again, but the old session stays dead.
    assert hx_post(admin, f"/admin/users/{rep.user.id}/reactivate").status_code == 200
    assert User.get_by_id(rep.user.id).is_active
    assert rep.get("/account/password").status_code == 302


def test_a_deactivated_users_api_tokens_stay_dead_after_reactivation(app):
    """G1: deactivation revokes the user's API tokens, it does not merely pause them:
    once reactivated, the user needs a new token; the old one is refused for good."""
    manager = make_user("manager")
    old = issue_token(manager, "nightly export")
    api = app.test_client()
    bearer = {"Authorization": f"Bearer {old}"}
    assert api.get("/api/v1/leads", headers=bearer).status_code == 200
    admin = signed_in(app)

    assert hx_post(admin, f"/admin/users/{manager.id}/deactivate").status_code == 200
    assert hx_post(admin, f"/admin/users/{manager.id}/reactivate").status_code == 200
    assert User.get_by_id(manager.id).is_active
    assert api.get("/api/v1/leads", headers=bearer).status_code == 401
    assert ApiToken.get(ApiToken.user == manager.id).revoked_at is not None
    new = issue_token(manager, "nightly export, again")
    assert api.get("/api/v1/leads", headers={"Authorization": f"Bearer {new}"}).status_code == 200


def test_the_last_active_admin_cannot_be_deactivated_or_demoted(app):
    """G1: there is always an active admin; the refusal says why."""
    admin = signed_in(app)
    me = admin.user.id
    row = hx_post(admin, f"/admin/users/{me}/deactivate", target=f"user-{me}")
    assert row.status_code == 409 and LAST_ADMIN in text(row)
    profile = hx_post(admin, f"/admin/users/{me}/deactivate", target="user-profile")
    assert profile.status_code == 409 and LAST_ADMIN in text(profile)
    demote = hx_post(admin, f"/admin/users/{me}", {"name": "Me", "role": "rep", "team": ""})
    assert demote.status_code == 409 and LAST_ADMIN in text(demote)
    assert User.get_by_id(me).role == ADMIN and User.get_by_id(me).is_active
    # An inactive admin does not count.
    make_user(ADMIN, is_active=False)
    assert hx_post(admin, f"/admin/users/{me}/deactivate").status_code == 409

    other = make_user(ADMIN)
    demoted = hx_post(admin, f"/admin/users/{other.id}", {"name": "Other", "role": "rep", "team": ""})
    assert demoted.status_code == 200 and User.get_by_id(other.id).role == "rep"


@pytest.mark.parametrize(
    "admins, user_id, role, active, refused",
    [
        ({1}, 1, "rep", True, True),
        ({1}, 1, ADMIN, False, True),
        ({1}, 1, ADMIN, True, False),
        ({1, 2}, 1, "rep", True, False),
        ({1}, 2, "rep", False, False),
        (set(), 3, "rep", True, False),
    ],
)
def test_leaves_no_admin(admins, user_id, role, active, refused):
    """G1: the pure last-admin rule."""
    assert leaves_no_admin(admins, user_id, role, active) is refused


def test_reset_password_ends_the_users_sessions_and_api_tokens(app):
    """G1: a password reset by an admin signs the user out everywhere and revokes
    their API tokens (whoever held the old password may have issued one)."""
    rep = signed_in(app, "rep")
    token = issue_token(rep.user, "script")
    assert token_is_accepted(app, token)
    admin = signed_in(app)
    path = f"/admin/users/{rep.user.id}/password"
    short = hx_post(admin, path, {"password": "short"})
    assert short.status_code == 422 and f"Use at least {MIN_LENGTH} characters." in text(short)
    assert rep.get("/account/password").status_code == 200
    ok = hx_post(admin, path, {"password": "a-new-long-password"})
    assert ok.status_code == 200 and 'id="user-password"' in text(ok)
    assert "sessions and API tokens were ended" in text(ok)
    assert rep.get("/account/password").status_code == 302
    assert not token_is_accepted(app, token)
    fresh = app.test_client()
    answer = fresh.post(
        "/login",
        data={
            "email": rep.user.email,
            "password": "a-new-long-password",
            "csrf_token": csrf_token(fresh, "/login"),
        },
    )
    assert answer.status_code == 302


# API tokens ---------------------------------------------------------------------


def test_token_is_shown_once_and_only_its_hash_is_stored(app):
    """G1: the plain token appears in the issuing answer only; the database holds its hash."""
    integration = make_user(INTEGRATION, password_hash=None)
    admin = signed_in(app)
    path = f"/admin/users/{integration.id}/tokens"
    assert hx_post(admin, path, {"token_name": ""}).status_code == 422
    response = hx_post(admin, path, {"token_name": "Website forms"})
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    body = text(response)
    plain = body.split('<code class="token-value">', 1)[1].split("</code>", 1)[0]
    assert plain.startswith("lf_") and "shown only this once" in body
    stored = ApiToken.get(ApiToken.user == integration.id)
    assert stored.name == "Website forms"
    assert stored.token_hash == hashlib.sha256(plain.encode()).hexdigest() != plain
    assert plain not in text(admin.get(f"/admin/users/{integration.id}"))
    assert token_is_accepted(app, plain)

    revoked = hx_post(admin, f"{path}/{stored.id}/revoke")
    assert revoked.status_code == 200 and "Revoked" in text(revoked)
    assert not token_is_accepted(app, plain)
    other = make_user(INTEGRATION, password_hash=None)
    assert hx_post(admin, f"/admin/users/{other.id}/tokens/{stored.id}/revoke").status_code == 404


# Teams ------------------------------------------------------------------------


def test_teams_are_created_and_renamed_with_unique_names(app):
    make_team(name="North")
    admin = signed_in(app)
    duplicate = hx_post(admin, "/admin/teams", {"name": "North"})
    assert duplicate.status_code == 422 and "already exists" in text(duplicate)
    created = hx_post(admin, "/admin/teams", {"name": "South"})
    assert created.status_code == 200 and "Team South was added." in text(created)
    south = Team.get(Team.name == "South")
    clash = hx_post(admin, f"/admin/teams/{south.id}", {"name": "North"})
    assert clash.status_code == 422 and "already exists" in text(clash)
    renamed = hx_post(admin, f"/admin/teams/{south.id}", {"name": "South-West"})
    assert renamed.status_code == 200 and Team.get_by_id(south.id).name == "South-West"
    assert hx_post(admin, f"/admin/teams/{south.id}", {"name": "South-West"}).status_code == 200


# Qualification fields (P5) ------------------------------------------------------------


def _keys() -> list[str]:
    return [field.key for field in ordered_fields()]


@pytest.mark.parametrize(
    "data, message",
    [
        ({"key": "Bad Key", "label": "Bad", "kind": "text"}, "Use lowercase letters"),
        ({"key": "budget", "label": "Budget again", "kind": "text"}, "already exists"),
        ({"key": "", "label": "No key", "kind": "text"}, "This field is required."),
        ({"key": "size", "label": "Size", "kind": "select", "choices": "\n \n"}, "at least one choice"),
        ({"key": "size", "label": "Size", "kind": "select", "choices": "S\nS"}, "only once"),
        ({"key": "size", "label": "Size", "kind": "colour"}, "Not a valid choice"),
    ],
)
def test_add_qualification_field_refuses_invalid_input_inline(app, data, message):
    """P5: a key is a unique lowercase slug; a choice field needs choices."""
    admin = signed_in(app)
    before = _keys()
    response = hx_post(admin, "/admin/qualification-fields", data)
    assert response.status_code == 422 and message in text(response)
    assert _keys() == before


def test_qualification_fields_add_edit_reorder_and_deactivate(app):
    """P5: the configurable field set: added at the end, edited but for its key,
    moved up and down, hidden from the form while stored values stay."""
    admin = signed_in(app)
    added = hx_post(
        admin,
        "/admin/qualification-fields",
        {
            "key": "competitor",
            "label": "Competitor",
            "kind": "select",
            "choices": " Acme \n\nGlobex\n",
            "required": "y",
        },
    )
    assert added.status_code == 200 and 'id="qualification-fields"' in text(added)
    assert _keys() == ["budget", "authority", "need", "timeframe", "notes", "competitor"]
    field = QualificationField.get(QualificationField.key == "competitor")
    assert field.choices == ["Acme", "Globex"] and field.required and field.active

    path = f"/admin/qualification-fields/{field.id}"
    assert hx_post(admin, path, {"label": "", "kind": "text"}).status_code == 422
    edited = hx_post(
        admin, path, {"key": "rival", "label": "Main competitor", "kind": "text", "choices": "X"}
    )
    assert edited.status_code == 200 and "Changes saved." in text(edited)
    field = QualificationField.get_by_id(field.id)
    assert (field.key, field.label, field.kind, field.choices, field.required) == (
        "competitor",
        "Main competitor",
        "text",
        [],
        False,
    )

    hx_post(admin, f"{path}/move-up")
    assert _keys()[-2:] == ["competitor", "notes"]
    budget = QualificationField.get(QualificationField.key == "budget")
    hx_post(admin, f"/admin/qualification-fields/{budget.id}/move-up")  # already first: stays
    hx_post(admin, f"/admin/qualification-fields/{budget.id}/move-down")
    assert _keys()[:2] == ["authority", "budget"]

    lead = make_lead(qualification={"competitor": "Acme"})
    hidden = hx_post(admin, f"{path}/deactivate")
    assert hidden.status_code == 200 and "Hidden" in text(hidden)
    assert "competitor" not in [f.key for f in active_fields()] and "competitor" in _keys()
    assert lead.__class__.get_by_id(lead.id).qualification == {"competitor": "Acme"}
    hx_post(admin, f"{path}/reactivate")
    assert "competitor" in [f.key for f in active_fields()]


# Marketing records ------------------------------------------------------------------


def test_product_lines_are_created_and_edited_with_unique_name_and_code(app):
    make_product_line(name="Analytics", code="ANA")
    client = signed_in(app, "marketer")
    clash = hx_post(client, "/marketing/product-lines", {"name": "Billing", "code": " ana "})
    assert clash.status_code == 422 and "code already exists" in text(clash)
    bad = hx_post(client, "/marketing/product-lines", {"name": "Billing", "code": "B I"})
    assert bad.status_code == 422 and "letters, digits" in text(bad)
    ok = hx_post(client, "/marketing/product-lines", {"name": "Billing", "code": "bil"})
    assert ok.status_code == 200 and "Billing" in text(ok)
    line = ProductLine.get(ProductLine.name == "Billing")
    assert line.code == "BIL"
    path = f"/marketing/product-lines/{line.id}"
    assert hx_post(client, path, {"name": "Analytics", "code": "BIL"}).status_code == 422
    assert hx_post(client, path, {"name": "Billing & invoicing", "code": "BIL"}).status_code == 200
    assert ProductLine.get_by_id(line.id).name == "Billing & invoicing"


def test_campaigns_are_created_and_edited(app):
    line = make_product_line()
    Campaign.create(name="Spring webinar")
    client = signed_in(app, "marketer")
    clash = hx_post(
        client, "/marketing/campaigns", {"name": "Spring webinar", "product_line": "", "status": "draft"}
    )
    assert clash.status_code == 422 and "already exists" in text(clash)
    bad = hx_post(
        client,
        "/marketing/campaigns",
        {
            "name": "Fair",
            "product_line": "",
            "segment-0-subject": "contact.country",
            "segment-0-operator": "equals",
        },
    )
    assert bad.status_code == 422 and "Enter a value." in text(bad)
    ok = hx_post(
        client, "/marketing/campaigns", {"name": "Fair", "product_line": str(line.id), "status": "draft"}
    )
    assert ok.status_code == 200 and 'id="campaigns"' in text(ok)
    fair = Campaign.get(Campaign.name == "Fair")
    assert fair.product_line_id == line.id and fair.status == "draft"
    edited = hx_post(
        client, f"/marketing/campaigns/{fair.id}", {"name": "Fair", "product_line": "", "subject": "Hi"}
    )
    assert edited.status_code == 200
    fair = Campaign.get_by_id(fair.id)
    assert fair.status == "draft" and fair.product_line_id is None and fair.subject == "Hi"


def _queries_for(client, path: str, caplog) -> int:
    """How many SQL statements one GET of ``path`` runs (peewee logs each one)."""
    caplog.clear()
    with caplog.at_level("DEBUG", logger="peewee"):
        assert client.get(path).status_code == 200
    return sum(1 for record in caplog.records if record.name == "peewee")


@pytest.mark.parametrize(
    "path, add",
    [
        ("/admin/users", lambda: make_user("rep", team=make_team())),
        ("/admin/teams", make_team),
        (
            "/marketing/campaigns",
            lambda: Campaign.create(name=f"C{Campaign.select().count()}", product_line=make_product_line()),
        ),
    ],
)
def test_list_pages_run_the_same_queries_for_few_or_many_rows(app, caplog, path, add):
    """STYLE 7: no N+1 on the settings lists (team, last sign-in, product line come in the list query)."""
    client = signed_in(app)
    add()
    few = _queries_for(client, path, caplog)
    assert few >= 2  # the session lookup and the list itself
    for _ in range(10):
        add()
    assert _queries_for(client, path, caplog) == few


def test_an_internationalised_user_email_is_stored_once_and_signs_in_however_written(client):
    """G1: a user's address goes through the check every door uses; stored
    case-folded in its normalised form, it signs in written in punycode or
    capitals; an address the check refuses is refused here too."""
    from auth.admin import AdminError, create_user
    from auth.service import authenticate

    user = create_user("José@Bücher.CH", "José", "marketer", "long-enough-secret")
    assert user.email == "josé@bücher.ch"
    with client.application.app_context():
        assert authenticate(" JOSÉ@XN--BCHER-KVA.CH ", "long-enough-secret", "127.0.0.1").id == user.id
    with pytest.raises(AdminError, match=validation.EMAIL_REASON):
        create_user("a@b.c", "Bad", "marketer", "long-enough-secret")
    assert User.select().where(User.name == "Bad").count() == 0
