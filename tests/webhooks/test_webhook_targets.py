"""G1 and Q2 follow-ups: a webhook posts only to public addresses. A marketer
cannot save, and the worker never posts to, loopback, private, link-local,
multicast, reserved or unspecified addresses in any spelling; redirects are not
followed; the delivery page shows a generic error (no port scanner). The
WEBHOOK_ALLOW_PRIVATE_TARGETS setting lifts the address check. Both backends,
a real HTTP receiver and a real RQ worker."""

from __future__ import annotations

import pytest

from auth.models import MARKETER
from leads.webhooks import targets
from leads.webhooks.delivery import UNREACHABLE
from leads.webhooks.models import Webhook, WebhookDelivery
from tests.factories import csrf_token, login, make_user
from tests.webhooks.test_webhooks import Receiver

FORBIDDEN = [
    "http://127.0.0.1/hook",
    "http://localhost:8080/hook",
    "http://0x7f000001/hook",
    "http://2130706433/hook",
    "http://0177.0.0.1/hook",
    "http://127.1/hook",
    "http://[::1]/hook",
    "http://[::ffff:127.0.0.1]/hook",
    "http://[::ffff:a9fe:a9fe]/latest",
    "http://169.254.169.254/latest/meta-data/",
    "http://10.0.0.5/hook",
    "http://172.16.3.4/hook",
    "http://192.168.1.10/hook",
    "http://100.64.0.1/hook",
    "http://[fd00::1]/hook",
    "http://[fe80::1]/hook",
    "http://224.0.0.1/hook",
    "http://240.0.0.1/hook",
    "http://0.0.0.0/hook",
    "http://[::]/hook",
    "http://127.0.0.1:6379/",
    "https://[2002:7f00:1::]/hook",
]


def _form(client, url):
    data = {"csrf_token": csrf_token(client), "name": "CRM", "url": url, "events": ["lead.qualified"], "active": "y"}
    return client.post("/webhooks", data=data, headers={"HX-Request": "true"})


@pytest.mark.parametrize("url", FORBIDDEN)
def test_g1_a_webhook_to_a_private_address_in_any_spelling_is_refused_when_saved(app, url):
    client = login(app.test_client(), make_user(MARKETER))
    answer = _form(client, url)
    assert answer.status_code == 422, url
    assert "private network; webhooks go only to public addresses" in answer.get_data(as_text=True)
    assert Webhook.select().count() == 0


@pytest.mark.parametrize(
    "address, public",
    [
        ("93.184.215.14", True),
        ("2606:2800:21f:cb07:6820:80da:af6b:8b2c", True),
        ("8.8.8.8", True),
        ("::ffff:8.8.8.8", True),
        ("127.0.0.1", False),
        ("::ffff:127.0.0.1", False),
        ("169.254.169.254", False),
        ("fe80::1%eth0", False),
        ("198.18.0.1", False),
        ("255.255.255.255", False),
    ],
)
def test_g1_only_public_unicast_addresses_are_public(address, public):
    assert targets.is_public(address) is public


def test_g1_the_worker_checks_again_when_it_sends_and_never_connects_to_a_private_address(app, run_jobs):
    """A webhook stored before the check (or whose name now resolves to a private
    address) is refused at the send: the receiver on 127.0.0.1 gets nothing, and
    the delivery says why, in words."""
    receiver = Receiver()
    try:
        hook = Webhook.create(name="Old", url=receiver.url, secret="s" * 43, events=["lead.qualified"], active=True)
        client = login(app.test_client(), make_user(MARKETER))
        client.post(f"/webhooks/{hook.id}/test", data={"csrf_token": csrf_token(client)})
        run_jobs()
        assert receiver.requests == []
        delivery = WebhookDelivery.get()
        assert delivery.status == "pending" and delivery.attempts == 1
        assert delivery.last_error == targets.PRIVATE
    finally:
        receiver.close()


def test_g1_the_setting_allows_private_targets_for_installs_that_need_them(app, run_jobs):
    app.config["WEBHOOK_ALLOW_PRIVATE_TARGETS"] = True
    receiver = Receiver()
    try:
        client = login(app.test_client(), make_user(MARKETER))
        assert _form(client, receiver.url).status_code == 201
        hook = Webhook.get()
        client.post(f"/webhooks/{hook.id}/test", data={"csrf_token": csrf_token(client)})
        run_jobs()
        assert len(receiver.requests) == 1 and WebhookDelivery.get().status == "delivered"
    finally:
        receiver.close()


def test_g1_a_redirect_is_not_followed(app, run_jobs):
    """The receiver answers 302 to another server: that server gets nothing, the
    delivery is a failure that says redirects are not followed."""
    app.config["WEBHOOK_ALLOW_PRIVATE_TARGETS"] = True
    first, second = Receiver(), Receiver()
    try:
        first.status, first.location = 302, second.url
        hook = Webhook.create(name="Moved", url=first.url, secret="s" * 43, events=["lead.qualified"], active=True)
        client = login(app.test_client(), make_user(MARKETER))
        client.post(f"/webhooks/{hook.id}/test", data={"csrf_token": csrf_token(client)})
        run_jobs()
        assert len(first.requests) == 1 and second.requests == []
        delivery = WebhookDelivery.get()
        assert delivery.status == "pending"
        assert delivery.last_error == "HTTP 302 (redirects are not followed)"
    finally:
        first.close()
        second.close()


def test_g1_a_closed_port_and_a_silent_host_look_the_same_on_the_delivery_page(app, run_jobs, caplog):
    """No port scanner: a refused connection shows the generic message on the
    page; the detail (connection refused) is in the worker's log."""
    app.config["WEBHOOK_ALLOW_PRIVATE_TARGETS"] = True
    hook = Webhook.create(
        name="Closed", url="http://127.0.0.1:9/hook", secret="s" * 43, events=["lead.qualified"], active=True
    )
    client = login(app.test_client(), make_user(MARKETER))
    client.post(f"/webhooks/{hook.id}/test", data={"csrf_token": csrf_token(client)})
    with caplog.at_level("WARNING", logger="leads.webhooks.delivery"):
        run_jobs()
    assert WebhookDelivery.get().last_error == UNREACHABLE
    page = client.get(f"/webhooks/{hook.id}").get_data(as_text=True)
    assert UNREACHABLE in page and "refused" not in page.lower()
    assert any("refused" in record.getMessage().lower() for record in caplog.records)
