"""Outgoing webhook pages (Q2 follow-ups): marketers and admins create and edit
webhooks with inline validation; the secret is shown once and masked after,
rotated on demand; a qualified lead is delivered, signed, to a real HTTP server;
"Send test" delivers a ping; "Retry now" re-sends a failed delivery. Everyone
else is refused. Both backends, real Redis and a real RQ worker."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from auth.admin import issue_token
from auth.models import ADMIN, INTEGRATION, MANAGER, MARKETER, REP, TELEPROSPECTOR
from leads.core import lifecycle
from leads.records.models import Lead
from leads.scoring import services as scoring_admin
from leads.webhooks.models import Webhook, WebhookDelivery
from tests.factories import csrf_token, login, make_contact, make_lead, make_user

QUALIFIED = "lead.qualified"


class Receiver:
    """A tiny HTTP server on 127.0.0.1 that records every request it gets and
    answers with ``status`` (change it to make deliveries fail)."""

    def __init__(self):
        self.requests: list[dict] = []
        self.status = 200
        self.location = None  # set with a 3xx status to answer a redirect
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802  (http.server's naming)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.requests.append(
                    {
                        "path": self.path,
                        "headers": {k.lower(): v for k, v in self.headers.items()},
                        "body": body,
                    }
                )
                self.send_response(receiver.status)
                if receiver.location:
                    self.send_header("Location", receiver.location)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver(app):
    """A receiver on 127.0.0.1, which this install is set to allow (a private address)."""
    app.config["WEBHOOK_ALLOW_PRIVATE_TARGETS"] = True
    server = Receiver()
    yield server
    server.close()


def signed_by(secret: str, request: dict) -> bool:
    """The check the page documents: sha256= + hex HMAC-SHA256 of the raw body."""
    expected = "sha256=" + hmac.new(secret.encode(), request["body"], hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, request["headers"].get("x-leadflow-signature", ""))


def signed_in(app, role=MARKETER):
    client = app.test_client()
    login(client, make_user(role))
    return client, csrf_token(client)


def form(token, **values):
    data = {"csrf_token": token, "name": "CRM", "url": "https://crm.example.com/hook", "events": [QUALIFIED]}
    data.update({"active": "y", **values})
    return {k: v for k, v in data.items() if v is not None}


def create(client, token, **values):
    """Add a webhook through the page; returns (webhook, the secret shown once)."""
    answer = client.post("/webhooks", data=form(token, **values))
    assert answer.status_code == 201, answer.get_data(as_text=True)
    html = answer.get_data(as_text=True)
    hook = Webhook.select().order_by(Webhook.id.desc()).get()
    shown = re.search(r'id="webhook-secret-value">([^<]+)<', html).group(1)
    return hook, shown


def test_q2_a_marketer_creates_a_webhook_and_its_secret_is_shown_once_then_masked(app):
    client, token = signed_in(app)
    assert "Webhooks" in client.get("/leads").get_data(as_text=True)
    hook, shown = create(client, token, name="CRM sync", url="https://crm.example.com/in")
    assert shown == hook.secret and len(hook.secret) >= 43
    assert (hook.name, hook.url, hook.events, hook.active) == (
        "CRM sync",
        "https://crm.example.com/in",
        [QUALIFIED],
        True,
    )
    page = client.get(f"/webhooks/{hook.id}").get_data(as_text=True)
    assert hook.secret not in page and "••••••••" + hook.secret[-4:] in page
    assert "X-Leadflow-Signature" in page and "hmac.compare_digest" in page and "<script>" not in page
    listing = client.get("/webhooks").get_data(as_text=True)
    assert "CRM sync" in listing and hook.secret not in listing


def test_q2_the_form_shows_inline_errors_for_a_bad_url_and_no_events(app):
    client, token = signed_in(app, ADMIN)
    for url in ("ftp://crm.example.com/x", "not a url", "https://", "http://host:99999/"):
        answer = client.post(
            "/webhooks", data=form(token, url=url, events=None), headers={"HX-Request": "true"}
        )
        html = answer.get_data(as_text=True)
        assert answer.status_code == 422
        assert 'id="webhook-new"' in html and "<html" not in html  # the form region, for the swap
        assert "Enter a valid http:// or https:// URL." in html, url
        assert "Choose at least one event." in html
    assert Webhook.select().count() == 0


def test_q2_editing_changes_settings_but_not_the_secret_and_validates_inline(app):
    client, token = signed_in(app)
    hook, _ = create(client, token)
    answer = client.post(f"/webhooks/{hook.id}", data=form(token, url="javascript:alert(1)"))
    assert answer.status_code == 422 and "Enter a valid http:// or https:// URL." in answer.get_data(
        as_text=True
    )
    answer = client.post(
        f"/webhooks/{hook.id}",
        data=form(
            token, name="Renamed", url="http://crm.example.org:8080/x", events=["lead.sales_ready"], active=None
        ),
        headers={"HX-Request": "true"},
    )
    assert answer.status_code == 200 and "Changes saved." in answer.get_data(as_text=True)
    again = Webhook.get_by_id(hook.id)
    assert (again.name, again.url, again.events, again.active) == (
        "Renamed",
        "http://crm.example.org:8080/x",
        ["lead.sales_ready"],
        False,
    )
    assert again.secret == hook.secret


def test_q2_rotating_the_secret_changes_it_and_shows_the_new_one_once(app):
    client, token = signed_in(app)
    hook, old = create(client, token)
    answer = client.post(
        f"/webhooks/{hook.id}/rotate", data={"csrf_token": token}, headers={"HX-Request": "true"}
    )
    html = answer.get_data(as_text=True)
    new = Webhook.get_by_id(hook.id).secret
    assert answer.status_code == 200 and new != old and new in html and old not in html
    assert 'id="webhook-secret"' in html and "<html" not in html
    assert new not in client.get(f"/webhooks/{hook.id}").get_data(as_text=True)


def _qualify_on_click(app, marketer):
    """A live model (director 20, clicks 10) and published criteria "score ≥ 25",
    so the director lead qualifies on its first click."""
    with app.app_context():
        model = scoring_admin.save_model(None, "Engagement", "", _engagement(), marketer)
        scoring_admin.set_model_status(model, "live", marketer)
        rule = {"op": "and", "items": [{"kind": "score", "model_id": model.id, "min_score": 25}]}
        criteria = scoring_admin.save_criteria(None, "Engaged", {"rule": rule}, marketer)
        scoring_admin.set_criteria_status(criteria, "published", marketer)


def _engagement():
    from tests.factories import ENGAGEMENT

    return ENGAGEMENT


def test_q2_a_lead_that_qualifies_is_posted_signed_to_the_webhook_end_to_end(app, run_jobs, receiver):
    marketer = make_user(MARKETER)
    client = login(app.test_client(), marketer)
    token = csrf_token(client)
    hook, secret = create(client, token, url=receiver.url)
    lead = make_lead(contact=make_contact(job_title="Sales Director"), stage=lifecycle.INQUIRY)
    _qualify_on_click(app, marketer)
    run_jobs()
    assert receiver.requests == [] and Lead.get_by_id(lead.id).status_reason != "marketing_qualified"

    api_token = issue_token(make_user(INTEGRATION), "site")
    answer = app.test_client().post(
        "/api/v1/interactions",
        json={"type": "email_clicked", "external_id": "click-1", "lead_id": lead.id},
        headers={"Authorization": f"Bearer {api_token}"},
    )
    assert answer.status_code == 201, answer.get_json()
    run_jobs()

    assert len(receiver.requests) == 1
    request = receiver.requests[0]
    assert request["path"] == "/hook" and request["headers"]["x-leadflow-event"] == QUALIFIED
    assert signed_by(secret, request)
    payload = json.loads(request["body"])
    assert payload["event"] == QUALIFIED and payload["lead"]["id"] == lead.id
    assert payload["lead"]["email"] == lead.email
    delivery = WebhookDelivery.get()
    assert (delivery.status, delivery.attempts) == ("delivered", 1) and delivery.delivered_at
    page = client.get(f"/webhooks/{hook.id}").get_data(as_text=True)
    assert f'href="/leads/{lead.id}"' in page and "delivered" in page
    listing = client.get("/webhooks").get_data(as_text=True)
    assert re.search(r'class="count-delivered">1<', listing)


def test_q2_send_test_delivers_a_signed_ping(app, run_jobs, receiver):
    client, token = signed_in(app, ADMIN)
    hook, secret = create(client, token, url=receiver.url)
    answer = client.post(
        f"/webhooks/{hook.id}/test", data={"csrf_token": token}, headers={"HX-Request": "true"}
    )
    assert answer.status_code == 200 and "Test ping" in answer.get_data(as_text=True)
    run_jobs()
    assert len(receiver.requests) == 1 and signed_by(secret, receiver.requests[0])
    assert receiver.requests[0]["headers"]["x-leadflow-event"] == "ping"
    payload = json.loads(receiver.requests[0]["body"])
    assert payload["event"] == "ping" and payload["webhook"]["id"] == hook.id
    delivery = WebhookDelivery.get()
    assert delivery.status == "delivered" and delivery.key.startswith("ping:")


def test_q2_retry_now_resends_a_failed_delivery_once_even_on_a_double_click(app, run_jobs, receiver):
    client, token = signed_in(app)
    hook, secret = create(client, token, url=receiver.url)
    receiver.status = 500
    client.post(f"/webhooks/{hook.id}/test", data={"csrf_token": token})
    run_jobs()
    delivery = WebhookDelivery.get()
    assert (delivery.status, delivery.attempts, delivery.last_error) == ("pending", 1, "HTTP 500")
    # as if the backoff had run out
    WebhookDelivery.update(status="failed", attempts=6).where(WebhookDelivery.id == delivery.id).execute()
    page = client.get(f"/webhooks/{hook.id}").get_data(as_text=True)
    assert "Retry now" in page and "HTTP 500" in page

    receiver.status = 200
    retry = f"/webhooks/{hook.id}/deliveries/{delivery.id}/retry"
    first = client.post(retry, data={"csrf_token": token}, headers={"HX-Request": "true"})
    second = client.post(retry, data={"csrf_token": token}, headers={"HX-Request": "true"})
    assert "will be sent again now" in first.get_data(as_text=True)
    assert "already queued" in second.get_data(as_text=True)
    run_jobs()
    assert len(receiver.requests) == 2 and all(signed_by(secret, r) for r in receiver.requests)
    assert receiver.requests[0]["body"] == receiver.requests[1]["body"]
    again = WebhookDelivery.get_by_id(delivery.id)
    assert (again.status, again.attempts, again.last_error) == ("delivered", 7, None)
    done = client.post(retry, data={"csrf_token": token}, headers={"HX-Request": "true"})
    assert "already delivered" in done.get_data(as_text=True)
    run_jobs()
    assert len(receiver.requests) == 2


def test_q2_retry_now_makes_a_delivery_waiting_for_backoff_due_at_once(app, run_jobs, receiver):
    client, token = signed_in(app)
    hook, _ = create(client, token, url=receiver.url)
    receiver.status = 503
    client.post(f"/webhooks/{hook.id}/test", data={"csrf_token": token})
    run_jobs()
    delivery = WebhookDelivery.get()
    assert delivery.status == "pending" and delivery.attempts == 1
    receiver.status = 204
    client.post(f"/webhooks/{hook.id}/deliveries/{delivery.id}/retry", data={"csrf_token": token})
    run_jobs()
    assert len(receiver.requests) == 2 and WebhookDelivery.get_by_id(delivery.id).status == "delivered"


def _routes(hook_id, delivery_id):
    return [
        ("GET", "/webhooks"),
        ("GET", "/webhooks/new"),
        ("POST", "/webhooks"),
        ("GET", f"/webhooks/{hook_id}"),
        ("POST", f"/webhooks/{hook_id}"),
        ("POST", f"/webhooks/{hook_id}/rotate"),
        ("GET", f"/webhooks/{hook_id}/deliveries"),
        ("POST", f"/webhooks/{hook_id}/deliveries/{delivery_id}/retry"),
        ("POST", f"/webhooks/{hook_id}/test"),
    ]


def test_q2_g1_only_marketers_and_admins_may_manage_webhooks(app):
    hook = Webhook.create(name="CRM", url="https://crm.example.com/hook", secret="s" * 43, events=[QUALIFIED])
    delivery = WebhookDelivery.create(webhook=hook, key="x", event=QUALIFIED, payload={}, status="failed")
    for role in (REP, TELEPROSPECTOR, MANAGER):
        client, token = signed_in(app, role)
        assert "/webhooks" not in client.get("/leads").get_data(as_text=True)
        for method, path in _routes(hook.id, delivery.id):
            for headers in ({}, {"HX-Request": "true"}):
                answer = client.open(path, method=method, data=form(token), headers=headers)
                assert answer.status_code == 403, (role, method, path)
    # an integration user has no web session (API only): its token is refused like a stranger
    anonymous = app.test_client()
    headers = {
        "Authorization": "Bearer " + issue_token(make_user(INTEGRATION), "site"),
        "X-CSRFToken": csrf_token(anonymous, "/login"),
    }
    for method, path in _routes(hook.id, delivery.id):
        answer = anonymous.open(path, method=method, headers=headers)
        assert answer.status_code == 302 and "/login" in answer.headers["Location"], (method, path)
    same = Webhook.get_by_id(hook.id)
    assert (same.name, same.secret) == ("CRM", "s" * 43)
    assert WebhookDelivery.select().count() == 1 and WebhookDelivery.get().status == "failed"


def test_q2_the_list_counts_deliveries_per_status_without_a_query_per_webhook(app):
    from tests.factories import count_queries

    client, _ = signed_in(app)

    def add(n):
        hook = Webhook.create(name=f"Hook {n}", url="https://x.example/h", secret=f"s{n}", events=[QUALIFIED])
        for i, status in enumerate(["pending", "delivered", "delivered", "failed"]):
            WebhookDelivery.create(webhook=hook, key=f"k{i}", event=QUALIFIED, payload={}, status=status)

    def queries():
        with count_queries() as sql:
            html = client.get("/webhooks").get_data(as_text=True)
        return len(sql), html

    add(0)
    one, html = queries()
    assert re.search(r'class="count-pending">1<', html) and re.search(r'class="count-delivered">2<', html)
    for n in range(1, 5):
        add(n)
    five, html = queries()
    assert five == one and html.count('class="count-failed">1<') == 5


def test_q2_browser_a_marketer_adds_a_webhook_rotates_its_secret_and_sends_a_test(browser_page):
    """Real Chromium under the CSP: the htmx form swaps, the confirm dialog, no JS errors."""
    from tests.conftest import screenshot
    from tests.factories import sign_in

    page = browser_page
    sign_in(page, make_user(MARKETER))
    page.click("nav >> text=Webhooks")
    page.click("text=New webhook")
    page.fill("input[name=name]", "CRM")
    page.fill("input[name=url]", "ftp://nope")
    page.click("button:has-text('Add webhook')")
    page.wait_for_selector("text=Enter a valid http:// or https:// URL.")
    page.wait_for_selector("text=Choose at least one event.")
    page.fill("input[name=url]", "https://crm.example.com/hook")
    page.check(f"input[value='{QUALIFIED}']")
    page.click("button:has-text('Add webhook')")
    first = page.text_content("#webhook-secret-value")
    hook = Webhook.get()
    assert first == hook.secret
    screenshot(page, "webhook-created")
    page.click("text=Open the webhook")
    assert hook.secret not in page.content()
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("button:has-text('Rotate secret')")
    page.wait_for_selector("#webhook-secret-value")
    assert page.text_content("#webhook-secret-value") == Webhook.get().secret != first
    page.click("button:has-text('Send test')")
    page.wait_for_selector("text=Test ping")
    page.wait_for_selector("#webhook-deliveries td:has-text('ping')")
    screenshot(page, "webhook-page")
    assert [e for e in page.js_errors if "status of 422" not in e] == []  # the invalid form, on purpose
