"""Everyone's notifications (R2): the list, the header badge (a fragment that
polls) and marking them read."""

from __future__ import annotations

from flask import Blueprint, abort, redirect, url_for

from auth.policy import current_user, signed_in
from leads.base.db import utcnow
from leads.notify.models import Notification
from leads.notify.services import link_endpoint, notifications_for
from web.render import render, render_fragment

bp = Blueprint("notify", __name__)

NOTIFICATIONS_SHOWN = 100


def unread_count(user) -> int:
    """The user's unread notifications."""
    return (
        Notification.select().where((Notification.user == user.id) & Notification.read_at.is_null()).count()
    )


@bp.app_context_processor
def _notification_badge():
    """``unread_notifications()`` for the header badge (one COUNT when it renders)."""

    def unread_notifications():
        user = current_user()
        return unread_count(user) if user is not None else 0

    return {"unread_notifications": unread_notifications}


@bp.route("/notifications")
@signed_in
def notifications():
    """R2: the user's notifications grouped per lead (its name, topic and
    product line, and a link while the user may open it), newest first."""
    user = current_user()
    groups = notifications_for(user, NOTIFICATIONS_SHOWN)
    return render(
        "notify/notifications.html", groups=groups, unread=unread_count(user), link_endpoint=link_endpoint
    )


@bp.route("/notifications/badge")
@signed_in
def notification_badge():
    """The unread count, polled by the header every 5 s."""
    return render_fragment("notify/_badge.html", unread_badge_count=unread_count(current_user()))


@bp.route("/notifications/<int:notification_id>/read", methods=["POST"])
@signed_in
def notification_read(notification_id: int):
    """Mark one of the user's notifications read (another's: 404)."""
    updated = (
        Notification.update(read_at=utcnow())
        .where((Notification.id == notification_id) & (Notification.user == current_user().id))
        .execute()
    )
    if not updated:
        abort(404)
    return redirect(url_for("notify.notifications"))


@bp.route("/notifications/read-all", methods=["POST"])
@signed_in
def notifications_read_all():
    """Mark all the user's notifications read."""
    Notification.update(read_at=utcnow()).where(
        (Notification.user == current_user().id) & Notification.read_at.is_null()
    ).execute()
    return redirect(url_for("notify.notifications"))
