"""User management: create, change role or team, deactivate."""

from __future__ import annotations

from auth.models import ROLES, Team, User
from auth.passwords import hash_password
from auth.sessions import revoke_all_sessions
from leads.db import transaction


def normalize_email(email: str) -> str:
    """Emails are stored trimmed and case-folded."""
    return email.strip().casefold()


def create_user(
    email: str, name: str, role: str, password: str | None = None, team: Team | None = None
) -> User:
    """Create a user; integration users may have no password (API tokens only)."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")
    return User.create(
        email=normalize_email(email),
        name=name.strip(),
        role=role,
        team=team,
        password_hash=hash_password(password) if password else None,
    )


def set_active(user: User, active: bool) -> None:
    """Activate or deactivate; deactivation ends every session at once."""
    with transaction():
        User.update(is_active=active).where(User.id == user.id).execute()
        if not active:
            revoke_all_sessions(user.id)
