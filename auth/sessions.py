"""Server-side sessions and API tokens: revoking a row ends access for real."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from flask import current_app, request, session

from auth.models import ApiToken, User, UserSession
from leads.base.db import utcnow

TOUCH_EVERY = dt.timedelta(minutes=5)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(user: User) -> None:
    """Sign ``user`` in with a brand-new session (the old cookie is dropped)."""
    session.clear()
    token = secrets.token_urlsafe(32)
    UserSession.create(token_hash=_hash(token), user=user)
    session["sid"] = token
    session.permanent = True


def end_session() -> None:
    """Revoke the current session and clear the cookie."""
    token = session.get("sid")
    if token:
        (UserSession.update(revoked_at=utcnow()).where(UserSession.token_hash == _hash(token)).execute())
    session.clear()


def revoke_all_sessions(user_id: int) -> int:
    """End every browser session of a user (e.g. one who becomes API-only); returns how many."""
    return (
        UserSession.update(revoked_at=utcnow())
        .where((UserSession.user == user_id) & UserSession.revoked_at.is_null())
        .execute()
    )


def revoke_all_access(user_id: int) -> None:
    """End every session and revoke every API token of a user: their password changed
    or they were deactivated, so nothing issued before may work again (not even
    after a reactivation)."""
    revoke_all_sessions(user_id)
    (
        ApiToken.update(revoked_at=utcnow())
        .where((ApiToken.user == user_id) & ApiToken.revoked_at.is_null())
        .execute()
    )


def session_user() -> User | None:
    """The active user behind this request's session cookie, if any."""
    token = session.get("sid")
    if not token:
        return None
    lifetime = dt.timedelta(seconds=current_app.config["PERMANENT_SESSION_LIFETIME"])
    row = (
        UserSession.select(UserSession, User)
        .join(User)
        .where(
            (UserSession.token_hash == _hash(token))
            & UserSession.revoked_at.is_null()
            & (UserSession.created_at > utcnow() - lifetime)
            & (User.is_active == True)  # noqa: E712
        )
        .first()
    )
    if row is None:
        session.clear()
        return None
    if utcnow() - row.last_seen_at > TOUCH_EVERY:
        UserSession.update(last_seen_at=utcnow()).where(UserSession.id == row.id).execute()
    return row.user


def issue_token(user: User, name: str) -> str:
    """Create an API token for ``user``; the plain token is returned once, only its hash is kept."""
    token = "lf_" + secrets.token_urlsafe(32)
    ApiToken.create(token_hash=_hash(token), user=user, name=name)
    return token


def token_user() -> User | None:
    """The active user behind this request's ``Authorization: Bearer`` token, if any."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        return None
    row = (
        ApiToken.select(ApiToken, User)
        .join(User)
        .where(
            (ApiToken.token_hash == _hash(token.strip()))
            & ApiToken.revoked_at.is_null()
            & (User.is_active == True)  # noqa: E712
        )
        .first()
    )
    if row is None:
        return None
    if row.last_used_at is None or utcnow() - row.last_used_at > TOUCH_EVERY:
        ApiToken.update(last_used_at=utcnow()).where(ApiToken.id == row.id).execute()
    return row.user
