"""O3 behind a reverse proxy: ``TRUSTED_PROXIES`` says how many proxies'
X-Forwarded-* to believe (ProxyFix), so the sign-in limits see the real
client and forged headers change nothing; ``PUBLIC_URL`` is the address in
every absolute link the app shows (capture snippets, emails); HSTS on https only.
SQLite only: none of it depends on the database."""

from __future__ import annotations

import pytest

from leads.base.urls import check_public_url
from leads.notify.models import Outbox
from leads.records.models import Lead
from routing.assign import record_manual
from tests.conftest import make_app
from tests.factories import csrf_token, login, make_lead, make_user
from tests.intake.test_intake import make_source

PROXY = {"REMOTE_ADDR": "10.0.0.2"}  # every request arrives from the proxy's address


@pytest.fixture
def app_with(database_urls, redis_url, tmp_root):
    """Build the app with these settings (SQLite, empty tables)."""

    def build(**config):
        return make_app(
            database_urls["sqlite"], redis_url, tmp_root, LOGIN_LIMIT_PER_CLIENT="3 per minute", **config
        )

    return build


def sign_in_failures(client, forwarded_for: str, times: int) -> list[int]:
    """The answers to ``times`` failed sign-ins, each for another account (the
    per-account limit stays out of it), sent through the proxy for ``forwarded_for``."""
    token = csrf_token(client, "/login")
    return [
        client.post(
            "/login",
            data={
                "email": f"nobody{n}-{forwarded_for}@example.test",
                "password": "x" * 12,
                "csrf_token": token,
            },
            headers={"X-Forwarded-For": forwarded_for},
            environ_base=PROXY,
        ).status_code
        for n in range(times)
    ]


def test_with_one_trusted_proxy_two_clients_behind_it_have_separate_sign_in_limits(app_with):
    client = app_with(TRUSTED_PROXIES=1).test_client()
    assert sign_in_failures(client, "203.0.113.7", 4) == [401, 401, 401, 429]
    assert sign_in_failures(client, "198.51.100.9", 3) == [401, 401, 401]  # not the first client's count
    # A client cannot step out of its limit by prepending an address: only the proxy's own entry counts.
    assert sign_in_failures(client, "192.0.2.1, 203.0.113.7", 1) == [429]


def test_without_trusted_proxies_a_forged_forwarded_for_is_ignored(app_with):
    client = app_with().test_client()  # TRUSTED_PROXIES defaults to 0
    answers = [sign_in_failures(client, f"203.0.113.{n}", 1)[0] for n in range(1, 5)]
    assert answers == [401, 401, 401, 429]  # one client (the connecting address), whatever the header says


def test_public_url_is_the_address_of_the_capture_snippet(app_with):
    app = app_with(PUBLIC_URL="https://crm.example.com/leadflow/")
    with app.app_context():
        source = make_source()
        marketer = login(app.test_client(), make_user("marketer"))
    page = marketer.get(f"/intake/sources/{source.id}").get_data(as_text=True)
    address = f"https://crm.example.com/leadflow/capture/{source.key}"
    assert page.count(address) == 2  # the address to post to, and the example form's action
    assert "http://localhost" not in page


def test_without_public_url_the_snippet_uses_the_host_and_scheme_the_proxy_forwarded(app_with):
    app = app_with(TRUSTED_PROXIES=1)
    with app.app_context():
        source = make_source()
        marketer = login(app.test_client(), make_user("marketer"))
    forwarded = {
        "X-Forwarded-For": "203.0.113.7",
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "crm.example.org",
    }
    page = marketer.get(f"/intake/sources/{source.id}", headers=forwarded, environ_base=PROXY)
    assert f"https://crm.example.org/capture/{source.key}" in page.get_data(as_text=True)


def test_the_assignment_email_links_to_the_lead_under_public_url(app_with):
    app = app_with(PUBLIC_URL="https://crm.example.com")
    with app.app_context():
        rep, manager = make_user("rep"), make_user("manager")
        lead = make_lead(owner=rep)
        record_manual(
            Lead.get_by_id(lead.id), manager
        )  # in a job or a command: no request to take a host from
        assert f"Open it: https://crm.example.com/leads/{lead.id}\n" in Outbox.get().body


def test_without_public_url_an_email_made_outside_a_request_has_no_link(app_with):
    app = app_with()
    with app.app_context():
        rep, manager = make_user("rep"), make_user("manager")
        lead = make_lead(owner=rep)
        record_manual(Lead.get_by_id(lead.id), manager)
        body = Outbox.get().body
    assert "is now yours" in body and "Open it" not in body and "http" not in body


@pytest.mark.parametrize(
    "value", ["crm.example.com", "ftp://crm.example.com", "https://", "https://x.test/?a=1"]
)
def test_a_public_url_that_is_not_an_http_address_stops_the_start(value):
    with pytest.raises(ValueError, match="PUBLIC_URL"):
        check_public_url(value)


HSTS = "max-age=31536000; includeSubDomains"


def test_hsts_is_sent_over_https_only(app_with):
    client = app_with().test_client()
    assert client.get("/healthz", base_url="https://localhost").headers["Strict-Transport-Security"] == HSTS
    assert "Strict-Transport-Security" not in client.get("/healthz").headers  # plain http
    # A forged X-Forwarded-Proto from a client with no trusted proxy in front changes nothing.
    forged = client.get("/healthz", headers={"X-Forwarded-Proto": "https"})
    assert "Strict-Transport-Security" not in forged.headers


def test_hsts_is_sent_when_the_trusted_proxy_says_the_request_was_https(app_with):
    client = app_with(TRUSTED_PROXIES=1).test_client()
    https = client.get("/healthz", headers={"X-Forwarded-Proto": "https"}, environ_base=PROXY)
    assert https.headers["Strict-Transport-Security"] == HSTS
    plain = client.get("/healthz", headers={"X-Forwarded-Proto": "http"}, environ_base=PROXY)
    assert "Strict-Transport-Security" not in plain.headers
