"""Sign-in and password changes: load, check, store."""

from __future__ import annotations

from auth.models import INTEGRATION, User
from auth.passwords import check_password, hash_password
from auth.sessions import revoke_all_access, start_session
from leads.base.db import transaction


def authenticate(email: str, password: str) -> User | None:
    """The active web user with this email and password, else None (one answer for
    an unknown user, a wrong password, a deactivated or API-only account)."""
    user = User.get_or_none(User.email == email.strip().casefold())
    ok = check_password(user.password_hash if user else None, password)
    if not ok or user is None or not user.is_active or user.role == INTEGRATION:
        return None
    return user


def change_password(user: User, current: str, new: str) -> bool:
    """Set a new password if ``current`` is right; every other session ends, every
    API token is revoked and this browser gets a fresh session. False when
    ``current`` is wrong."""
    if not check_password(user.password_hash, current):
        return False
    with transaction():
        User.update(password_hash=hash_password(new)).where(User.id == user.id).execute()
        revoke_all_access(user.id)
    start_session(user)
    return True
