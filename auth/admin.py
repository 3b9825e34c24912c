"""User management: create, change role or team, deactivate, reset passwords,
teams and API tokens. Every rule an admin can break answers with an ``AdminError``."""

from __future__ import annotations

import peewee as pw

from auth.models import ADMIN, INTEGRATION, ROLES, ApiToken, Team, User, UserSession
from auth.passwords import hash_password
from auth.sessions import issue_token, revoke_all_access, revoke_all_sessions
from leads.base.db import db, is_sqlite, transaction, utcnow
from leads.core import validation

LAST_ADMIN = "This is the last active admin: make another user an active admin first."


class AdminError(ValueError):
    """A refused admin change; the message is written for the admin."""


def normalize_email(email: str) -> str:
    """Emails are stored case-folded, in the normalised form of every door
    (``leads.core.validation.check_email``: ``A@XN--BCHER-KVA.CH`` is ``a@bücher.ch``);
    text that is no address is only trimmed and case-folded."""
    return (validation.check_email(email).value or email.strip()).casefold()


# Queries ---------------------------------------------------------------------


def users_overview():
    """Every user with their team and ``last_sign_in`` (the newest session), by name."""
    return (
        User.select(User, Team, pw.fn.MAX(UserSession.created_at).alias("last_sign_in"))
        .join(Team, pw.JOIN.LEFT_OUTER)
        .switch(User)
        .join(UserSession, pw.JOIN.LEFT_OUTER)
        .group_by(User.id, Team.id)
        .order_by(User.name, User.id)
    )


def teams_overview():
    """Every team with ``member_count``, by name."""
    return (
        Team.select(Team, pw.fn.COUNT(User.id).alias("member_count"))
        .join(User, pw.JOIN.LEFT_OUTER)
        .group_by(Team.id)
        .order_by(Team.name)
    )


def tokens_of(user: User):
    """The API tokens of ``user``, newest first (only their hashes are stored)."""
    return ApiToken.select().where(ApiToken.user == user.id).order_by(ApiToken.created_at.desc(), ApiToken.id)


# The last-admin rule ------------------------------------------------------------


def leaves_no_admin(active_admin_ids: set[int], user_id: int, role: str, active: bool) -> bool:
    """True when giving ``user_id`` this role and activity would leave no active admin."""
    stays_admin = role == ADMIN and active
    return user_id in active_admin_ids and not stays_admin and active_admin_ids <= {user_id}


def _guard_last_admin(user_id: int, role: str, active: bool) -> None:
    """Refuse a change that removes the last active admin. Call inside a transaction:
    the admin rows are locked (SQLite holds the write lock already), so two admins
    demoting each other at once cannot both succeed."""
    query = User.select(User.id).where((User.role == ADMIN) & (User.is_active == True))  # noqa: E712
    if not is_sqlite():
        query = query.for_update()
    if leaves_no_admin({row.id for row in query}, user_id, role, active):
        raise AdminError(LAST_ADMIN)


# Users ------------------------------------------------------------------------


def create_user(
    email: str, name: str, role: str, password: str | None = None, team: Team | None = None
) -> User:
    """Create a user; integration users may have no password (API tokens only).
    A taken email raises ``AdminError`` (the unique index decides), and so does
    text that is no email address (the reason every door gives)."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")
    checked = validation.check_email(email)
    if checked.reason:
        raise AdminError(checked.reason)
    try:
        with db.atomic():
            return User.create(
                email=normalize_email(email),
                name=name.strip(),
                role=role,
                team=team,
                password_hash=hash_password(password) if password else None,
            )
    except pw.IntegrityError as error:
        raise AdminError("A user with this email already exists.") from error


def update_user(user: User, name: str, role: str, team_id: int | None) -> None:
    """Change name, role and team. Demoting the last active admin is refused; a user
    who becomes API-only loses their web sessions."""
    if role not in ROLES:
        raise AdminError(f"Unknown role {role!r}.")
    with transaction():
        _guard_last_admin(user.id, role, user.is_active)
        User.update(name=name.strip(), role=role, team=team_id).where(User.id == user.id).execute()
        if role == INTEGRATION:
            revoke_all_sessions(user.id)


def set_active(user: User, active: bool) -> None:
    """Activate or deactivate; deactivation ends every session and revokes every API
    token at once, so a reactivated user starts afresh (G1). The last active admin stays."""
    with transaction():
        if not active:
            _guard_last_admin(user.id, user.role, False)
        User.update(is_active=active).where(User.id == user.id).execute()
        if not active:
            revoke_all_access(user.id)


def reset_password(user: User, password: str) -> None:
    """Set a new password chosen by an admin; every session and API token of the user ends."""
    if user.role == INTEGRATION:
        raise AdminError("Integration users have no password: issue them an API token.")
    with transaction():
        User.update(password_hash=hash_password(password)).where(User.id == user.id).execute()
        revoke_all_access(user.id)


# Teams ------------------------------------------------------------------------


def create_team(name: str) -> Team:
    """A new team; a taken name raises ``AdminError``."""
    try:
        with db.atomic():
            return Team.create(name=name.strip())
    except pw.IntegrityError as error:
        raise AdminError("A team with this name already exists.") from error


def rename_team(team: Team, name: str) -> None:
    """Rename ``team``; a taken name raises ``AdminError``."""
    try:
        with db.atomic():
            Team.update(name=name.strip()).where(Team.id == team.id).execute()
    except pw.IntegrityError as error:
        raise AdminError("A team with this name already exists.") from error


# API tokens ---------------------------------------------------------------------


def issue_api_token(user: User, name: str) -> str:
    """A new API token for ``user``: the plain token is returned to be shown once."""
    return issue_token(user, name.strip())


def revoke_api_token(user: User, token_id: int) -> bool:
    """Revoke one of ``user``'s tokens; False when it is not theirs or already revoked."""
    return bool(
        ApiToken.update(revoked_at=utcnow())
        .where((ApiToken.id == token_id) & (ApiToken.user == user.id) & ApiToken.revoked_at.is_null())
        .execute()
    )
