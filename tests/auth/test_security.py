"""G1 hardening: headers on every answer, CSRF, sign-in limits, sessions that end for real."""

import time

import pytest

from auth.models import ApiToken, User, UserSession
from auth.passwords import check_password
from auth.sessions import issue_token
from tests.factories import PASSWORD, csrf_token, login, make_user

HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def _assert_hardened(response):
    csp = response.headers.get("Content-Security-Policy", "")
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    for name, value in HEADERS.items():
        assert response.headers.get(name) == value, name


@pytest.mark.parametrize(
    "path, headers, status",
    [
        ("/login", {}, 200),
        ("/healthz", {}, 200),
        ("/no-such-page", {}, 404),
        ("/no-such-page", {"HX-Request": "true"}, 404),
        ("/api/v1/openapi.json", {}, 200),
        ("/api/v1/leads", {}, 401),
        ("/leads", {}, 302),
        ("/leads", {"HX-Request": "true"}, 401),
    ],
)
def test_security_headers_on_pages_fragments_errors_and_api(client, path, headers, status):
    """G1: the CSP (no inline script, frame-ancestors none), nosniff and Referrer-Policy
    are on every response, fragments and errors included."""
    response = client.get(path, headers=headers)
    assert response.status_code == status
    _assert_hardened(response)


def test_session_cookie_is_httponly_samesite_and_secure_by_default(
    backend, database_urls, redis_url, tmp_root
):
    """G1: secure cookies (HttpOnly, Secure, SameSite) unless explicitly turned off for plain-http dev."""
    from tests.conftest import make_app

    app = make_app(database_urls[backend], redis_url, tmp_root, SESSION_COOKIE_SECURE=True)
    user = make_user("manager")
    client = app.test_client()
    token = csrf_token(client, "/login")
    response = client.post("/login", data={"email": user.email, "password": PASSWORD, "csrf_token": token})
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "Secure" in cookie and "SameSite=Lax" in cookie


def test_a_form_post_without_csrf_token_is_refused(client):
    """G1: CSRF on every form: a sign-out without the token is refused with a clear message."""
    login(client, make_user("rep"))
    response = client.post("/logout")
    assert response.status_code == 400
    assert b"Reload the page and try again" in response.data
    assert UserSession.select().where(UserSession.revoked_at.is_null()).count() == 1


def test_an_htmx_post_without_csrf_header_is_refused(client):
    """G1: CSRF on every htmx request (the token travels in the X-CSRFToken header)."""
    login(client, make_user("rep"))
    response = client.post("/logout", headers={"HX-Request": "true"})
    assert response.status_code == 400
    ok = client.post("/logout", headers={"HX-Request": "true", "X-CSRFToken": csrf_token(client)})
    assert ok.status_code == 302


def _sign_in(client, email: str, password: str, address: str = "127.0.0.1"):
    """A sign-in form post from the client at ``address``."""
    return client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": csrf_token(client, "/login")},
        environ_base={"REMOTE_ADDR": address},
    )


def test_sign_in_failures_block_that_client_for_that_account(client):
    """G1: after 5 failures a minute on one account from one client, even the right
    password waits, told so on the form; other accounts from that client still get in."""
    user = make_user("rep")
    for _ in range(5):
        assert _sign_in(client, user.email, "wrong-wrong-wrong").status_code == 401
    blocked = _sign_in(client, user.email, PASSWORD)
    assert blocked.status_code == 429
    assert "Too many attempts, try again in 1 minute." in blocked.get_data(as_text=True)
    assert 1 <= int(blocked.headers["Retry-After"]) <= 60
    assert '<form method="post"' in blocked.get_data(as_text=True)
    assert _sign_in(client, make_user("rep").email, PASSWORD).status_code == 302


def test_an_attacker_cannot_lock_the_owner_out(client):
    """G1: failures count per account and client: an attacker's client is blocked on
    the account it guesses, while its owner, on a client with no failures, signs in."""
    user = make_user("rep")
    attacker, owner = "203.0.113.7", "198.51.100.20"
    answers = [
        _sign_in(client, user.email.upper(), f"guess-{i}-guess", attacker).status_code for i in range(8)
    ]
    assert answers == [401] * 5 + [429] * 3
    assert _sign_in(client, user.email, PASSWORD, owner).status_code == 302
    assert _sign_in(client, user.email, PASSWORD, attacker).status_code == 429


def test_an_account_guessed_from_many_clients_is_slowed_down(backend, database_urls, redis_url, tmp_root):
    """G1: the account's own limit (much looser than one client's: 30 a minute by
    default) caps guessing spread over many clients; each client's own is 5."""
    from tests.conftest import make_app

    app = make_app(database_urls[backend], redis_url, tmp_root, LOGIN_LIMIT_PER_ACCOUNT="8 per minute")
    client = app.test_client()
    user = make_user("rep")
    for i in range(8):
        assert _sign_in(client, user.email, "wrong-wrong-wrong", f"203.0.113.{i // 4}").status_code == 401
    assert _sign_in(client, user.email, PASSWORD, "198.51.100.20").status_code == 429
    assert _sign_in(client, make_user("rep").email, PASSWORD, "198.51.100.20").status_code == 302


def test_the_refusal_says_how_many_minutes_to_wait():
    """G1: the wait is told in whole minutes, rounded up."""
    from auth.attempts import TooManyAttempts

    assert str(TooManyAttempts(1)) == "Too many attempts, try again in 1 minute."
    assert str(TooManyAttempts(60)) == "Too many attempts, try again in 1 minute."
    assert str(TooManyAttempts(61)) == "Too many attempts, try again in 2 minutes."
    assert str(TooManyAttempts(900)) == "Too many attempts, try again in 15 minutes."


def test_sign_in_attempts_are_limited_per_client(client):
    """G1: one client spraying many accounts is limited too (20 failures a minute by default)."""
    token = csrf_token(client, "/login")
    answers = [
        client.post(
            "/login", data={"email": f"nobody{i}@example.test", "password": "x" * 12, "csrf_token": token}
        ).status_code
        for i in range(21)
    ]
    assert answers == [401] * 20 + [429]


def test_password_change_ends_every_other_session(app):
    """G1: a password change signs out the user's other browsers."""
    user = make_user("manager")
    first, second = login(app.test_client(), user), login(app.test_client(), user)
    token = csrf_token(first)
    response = first.post(
        "/account/password",
        data={
            "current_password": PASSWORD,
            "new_password": "a-brand-new-secret",
            "confirm": "a-brand-new-secret",
            "csrf_token": token,
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    assert first.get("/account/password").status_code == 200
    assert second.get("/account/password").status_code == 302


def _change_password(client, current: str, new: str = "a-brand-new-secret"):
    return client.post(
        "/account/password",
        data={
            "current_password": current,
            "new_password": new,
            "confirm": new,
            "csrf_token": csrf_token(client),
        },
    )


def test_wrong_current_passwords_are_limited(backend, database_urls, redis_url, tmp_root):
    """G1: the current-password check of the password page is limited per user (5 in
    15 minutes by default): then even the right one waits, told so inline (429, not a
    500), and nothing changes; after the wait the right password works."""
    from tests.conftest import make_app

    app = make_app(database_urls[backend], redis_url, tmp_root, PASSWORD_CHECK_LIMIT="3 per 5 seconds")
    user = make_user("manager")
    client = login(app.test_client(), user)
    for _ in range(3):
        wrong = _change_password(client, "not-my-password")
        assert wrong.status_code == 200
        assert "That is not your current password." in wrong.get_data(as_text=True)
    blocked = _change_password(client, PASSWORD)
    assert blocked.status_code == 429
    page = blocked.get_data(as_text=True)
    assert "Too many attempts, try again in 1 minute." in page and 'name="current_password"' in page
    assert check_password(User.get_by_id(user.id).password_hash, PASSWORD)

    time.sleep(int(blocked.headers["Retry-After"]))
    assert _change_password(client, PASSWORD).status_code == 302
    assert check_password(User.get_by_id(user.id).password_hash, "a-brand-new-secret")


def test_password_change_revokes_the_users_api_tokens(client):
    """G1: whoever knew the old password may have issued a token: changing it on the
    password page revokes every API token of the user, and the page says so."""
    user = make_user("manager")
    login(client, user)
    bearer = {"Authorization": f"Bearer {issue_token(user, 'script')}"}
    assert client.get("/api/v1/leads", headers=bearer).status_code == 200
    response = client.post(
        "/account/password",
        data={
            "current_password": PASSWORD,
            "new_password": "a-brand-new-secret",
            "confirm": "a-brand-new-secret",
            "csrf_token": csrf_token(client),
        },
        follow_redirects=True,
    )
    assert "any API tokens revoked" in response.get_data(as_text=True)
    assert client.get("/api/v1/leads", headers=bearer).status_code == 401
    assert ApiToken.select().where(ApiToken.revoked_at.is_null()).count() == 0


def test_integration_users_cannot_sign_in_to_the_web_ui(client):
    """G1: API-only users have no web session, even with a valid token elsewhere."""
    user = make_user("integration")
    issue_token(user, "site")
    token = csrf_token(client, "/login")
    response = client.post("/login", data={"email": user.email, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 401


def test_login_redirects_only_to_local_paths(client):
    """A crafted ?next= never sends a user off-site after sign-in."""
    user = make_user("manager")
    token = csrf_token(client, "/login")
    response = client.post(
        "/login?next=//evil.example/x", data={"email": user.email, "password": PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 302 and "evil.example" not in response.headers["Location"]


def test_sign_in_limits_are_kept_in_redis_outside_the_tests(tmp_path):
    """G1: the app's limiter counts in Redis (the configured server, else the embedded one),
    so every web worker process shares the counts, under the install's QUEUE_PREFIX."""
    from app import create_app

    app = create_app(
        {
            "REDIS_URL": "redis://127.0.0.1:6379/0",
            "DATABASE_URL": f"sqlite:///{tmp_path}/x.db",
            "QUEUE_PREFIX": "install-a",
        }
    )
    assert app.config["RATELIMIT_STORAGE_URI"].startswith(("redis://", "redis+unix://"))
    assert app.config["RATELIMIT_KEY_PREFIX"] == "install-a"


def test_installs_sharing_one_redis_keep_their_own_sign_in_counts(
    backend, database_urls, redis_url, tmp_root
):
    """G1: the limiter's keys carry the install's prefix: five wrong passwords on one
    install block that client there, and nothing on another install on the same Redis."""
    import redis as redis_lib

    from tests.conftest import make_app
    from web.extensions import limiter

    first = make_app(database_urls[backend], redis_url, tmp_root)
    second = make_app(database_urls[backend], redis_url, tmp_root)
    # make_app counts in memory (it says why); the limiter is one per process, so this
    # points both apps at the real Redis, as two installs' processes would be.
    second.config["RATELIMIT_STORAGE_URI"] = redis_url.replace("unix://", "redis+unix://", 1)
    limiter.init_app(second)
    prefixes = [app.config["RATELIMIT_KEY_PREFIX"] for app in (first, second)]
    redis = redis_lib.Redis.from_url(redis_url)
    user = make_user("rep")
    try:
        one, other = first.test_client(), second.test_client()
        for _ in range(5):
            assert _sign_in(one, user.email, "wrong-wrong-wrong").status_code == 401
        assert _sign_in(one, user.email, PASSWORD).status_code == 429
        assert _sign_in(other, user.email, PASSWORD).status_code == 302
        assert redis.keys(f"LIMITS:LIMITER/{prefixes[0]}/sign-in/*")
        assert not redis.keys(f"*{prefixes[1]}*")
    finally:
        for prefix in prefixes:
            for key in redis.scan_iter(f"LIMITS:LIMITER/{prefix}/*"):
                redis.delete(key)


def test_pages_fragments_exports_and_api_answers_are_never_cached(client):
    """G1: whatever carries personal data or a secret (a page, a fragment, a CSV
    export, an API answer) says Cache-Control: no-store, so no shared proxy or
    back button keeps a copy after sign-out; the static files stay cacheable."""
    user = make_user("manager")
    login(client, user)
    token = issue_token(user, "test")
    answers = {
        "page": client.get("/leads"),
        "fragment": client.get("/leads", headers={"HX-Request": "true"}),
        "export": client.get("/leads/export.csv"),
        "api": client.get("/api/v1/leads", headers={"Authorization": f"Bearer {token}"}),
        "sign-in page": client.get("/login"),
    }
    for door, response in answers.items():
        assert response.status_code == 200, door
        assert response.headers.get("Cache-Control") == "no-store", door
    static = client.get("/static/htmx.min.js")
    assert static.status_code == 200
    assert "no-store" not in static.headers.get("Cache-Control", "")
    static.close()
