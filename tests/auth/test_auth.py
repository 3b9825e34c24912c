"""Sign-in, sessions and the authorization chokepoint (G1)."""

from auth.models import UserSession
from tests.factories import PASSWORD, csrf_token, login, make_user


def test_login_and_logout_end_the_session_for_real(client):
    """G1: a signed-out session cookie replayed later gets nowhere."""
    user = make_user("manager")
    login(client, user)
    assert client.get("/account/password").status_code == 200
    cookie = client.get_cookie("leadflow_session").value
    token = csrf_token(client)
    assert client.post("/logout", headers={"X-CSRFToken": token}).status_code == 302
    assert UserSession.select().where(UserSession.revoked_at.is_null()).count() == 0
    client.set_cookie("leadflow_session", cookie)
    response = client.get("/account/password")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_unknown_user_and_wrong_password_get_the_same_answer(client):
    make_user("rep", email="known@example.test")
    token = csrf_token(client, "/login")
    wrong = client.post(
        "/login", data={"email": "known@example.test", "password": "nope-nope-nope", "csrf_token": token}
    )
    unknown = client.post(
        "/login", data={"email": "ghost@example.test", "password": PASSWORD, "csrf_token": token}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert b"Wrong email or password." in wrong.data and b"Wrong email or password." in unknown.data


def test_every_route_declares_a_policy(app):
    """G1: the chokepoint covers every route in the URL map."""
    from auth.policy import policy_for

    with app.app_context():
        endpoints = [rule.endpoint for rule in app.url_map.iter_rules()]
        missing = [endpoint for endpoint in endpoints if policy_for(endpoint) is None]
    assert len(endpoints) > 5 and missing == []
