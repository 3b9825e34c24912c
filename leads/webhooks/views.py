"""Outgoing webhook pages for marketers and admins (Q2 follow-ups): the list with
delivery counts, create and edit, the secret (shown once, then masked; rotated
on demand), and a webhook's latest deliveries with "Retry now" and "Send test"."""

from __future__ import annotations

from flask import Blueprint, abort

from auth.models import ADMIN, MARKETER
from auth.policy import allow
from leads.webhooks import services as webhooks
from leads.webhooks.delivery import WEBHOOK_EVENTS
from leads.webhooks.forms import WebhookForm
from leads.webhooks.models import Webhook, WebhookDelivery
from web import crud
from web.crud import get_or_404, saved
from web.render import render, render_fragment

bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")


def _form_data(hook: Webhook) -> dict:
    return {"name": hook.name, "url": hook.url, "events": list(hook.events or []), "active": hook.active}


@bp.route("")
@allow(MARKETER, ADMIN)
def index():
    return render("webhooks/index.html", rows=webhooks.webhooks_overview(), events=WEBHOOK_EVENTS)


def _new_page(form=None, status=200):
    return render(
        "webhooks/new.html", "webhooks/_new_form.html", status, form=form or WebhookForm(formdata=None)
    )


@bp.route("/new")
@allow(MARKETER, ADMIN)
def new():
    return _new_page()


@bp.route("", methods=["POST"])
@allow(MARKETER, ADMIN)
def create():
    form = WebhookForm()
    if not form.validate_on_submit():
        return _new_page(form, status=422)
    hook = webhooks.create_webhook(**form.values())
    # The secret is shown in this answer only: it is never put in a redirect or the session.
    return render("webhooks/created.html", "webhooks/_created.html", 201, webhook=hook, secret=hook.secret)


def _webhook_page(hook, form=None, notice=None, secret=None, status=200, fragment="webhooks/_form.html"):
    return render(
        "webhooks/webhook.html",
        fragment,
        status,
        webhook=hook,
        form=form or WebhookForm(formdata=None, data=_form_data(hook)),
        notice=notice,
        secret=secret,
        masked=webhooks.masked(hook.secret),
        deliveries=list(webhooks.latest_deliveries(hook)),
        events=WEBHOOK_EVENTS,
    )


@bp.route("/<int:webhook_id>")
@allow(MARKETER, ADMIN)
def show(webhook_id):
    return _webhook_page(get_or_404(Webhook, webhook_id))


@bp.route("/<int:webhook_id>", methods=["POST"])
@allow(MARKETER, ADMIN)
def update(webhook_id):
    hook = get_or_404(Webhook, webhook_id)
    form = WebhookForm()
    return crud.update(
        hook,
        form,
        lambda: webhooks.update_webhook(hook, **form.values()),
        _webhook_page,
        "webhooks.show",
        webhook_id=webhook_id,
    )


@bp.route("/<int:webhook_id>/rotate", methods=["POST"])
@allow(MARKETER, ADMIN)
def rotate(webhook_id):
    hook = get_or_404(Webhook, webhook_id)
    secret = webhooks.rotate_secret(hook)
    # Like creation: the new secret is in this answer only, so no redirect.
    return _webhook_page(hook, secret=secret, fragment="webhooks/_secret.html")


def _deliveries(hook, notice=None):
    return render_fragment(
        "webhooks/_deliveries.html",
        webhook=hook,
        deliveries=list(webhooks.latest_deliveries(hook)),
        notice=notice,
    )


def _after_delivery_action(hook, notice):
    return saved(notice, lambda: _deliveries(hook, notice), "webhooks.show", webhook_id=hook.id)


@bp.route("/<int:webhook_id>/deliveries")
@allow(MARKETER, ADMIN)
def deliveries(webhook_id):
    return _deliveries(get_or_404(Webhook, webhook_id))


@bp.route("/<int:webhook_id>/deliveries/<int:delivery_id>/retry", methods=["POST"])
@allow(MARKETER, ADMIN)
def retry(webhook_id, delivery_id):
    hook = get_or_404(Webhook, webhook_id)
    delivery = WebhookDelivery.get_or_none(
        (WebhookDelivery.id == delivery_id) & (WebhookDelivery.webhook == hook)
    )
    if delivery is None:
        abort(404)
    if webhooks.retry_now(delivery):
        notice = f"Delivery {delivery_id} will be sent again now."
    elif delivery.status == "delivered":
        notice = f"Delivery {delivery_id} was already delivered."
    else:
        notice = f"Delivery {delivery_id} is already queued."
    return _after_delivery_action(hook, notice)


@bp.route("/<int:webhook_id>/test", methods=["POST"])
@allow(MARKETER, ADMIN)
def send_test(webhook_id):
    hook = get_or_404(Webhook, webhook_id)
    delivery = webhooks.send_test(hook)
    return _after_delivery_action(hook, f"Test ping {delivery.id} queued.")
