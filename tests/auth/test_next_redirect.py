"""After sign-in, ?next= only ever leads to a path on this site, read the way a
browser reads it (tabs and newlines dropped, backslashes as slashes)."""

from urllib.parse import quote, urlsplit

import pytest
from flask import url_for

from auth.views import local_path
from tests.factories import PASSWORD, csrf_token, make_user

HOSTILE = [
    "/\t/evil.example",
    "/\n/x",
    "//evil.example",
    "/\\evil.example",
    "https://evil.example",
    "/\t/evil",
    " //evil",
    "javascript:alert(1)",
    "\x00//evil.example",
    "/\r\n/evil.example",
    "\\\\evil.example",
    "/\x0b/evil",
]


@pytest.mark.parametrize("target", HOSTILE)
def test_off_site_targets_are_not_local_paths(target):
    assert local_path(target) is None


@pytest.mark.parametrize("target", ["/leads?stage=3", "/leads/12", "/", "/a\\b"])
def test_site_paths_are_kept(target):
    assert local_path(target) == target


def _sign_in(client, query: str):
    user = make_user("manager")
    token = csrf_token(client, "/login")
    return client.post(
        f"/login?next={query}", data={"email": user.email, "password": PASSWORD, "csrf_token": token}
    )


@pytest.mark.parametrize("query", ["/%09/evil.example", "/%0a/x", *(quote(t, safe="") for t in HOSTILE)])
def test_sign_in_never_redirects_off_site(sqlite_app, query):
    response = _sign_in(sqlite_app.test_client(), query)
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert not location.scheme and not location.netloc
    with sqlite_app.test_request_context():
        landing = url_for("lead_list.index")
    assert response.headers["Location"] == landing


def test_sign_in_keeps_a_site_path(sqlite_app):
    response = _sign_in(sqlite_app.test_client(), quote("/leads?stage=3", safe="/"))
    assert response.status_code == 302 and response.headers["Location"] == "/leads?stage=3"
