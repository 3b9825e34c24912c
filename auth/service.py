"""Sign-in and password changes: load, check, store."""

from __future__ import annotations

from auth import attempts
from auth.admin import normalize_email
from auth.models import INTEGRATION, User
from auth.passwords import check_password, hash_password
from auth.sessions import revoke_all_access, start_session
from leads.base.db import transaction


def authenticate(email: str, password: str, client: str) -> User | None:
    """The active web user with this email and password, else None (one answer for
    an unknown user, a wrong password, a deactivated or API-only account), counted
    as a failure of this account from the ``client`` address. Raises
    ``TooManyAttempts``, checking nothing, once the account or client failed too often."""
    email = normalize_email(email)
    counters = attempts.sign_in_counters(email, client)
    attempts.refuse_if_too_many(counters)
    user = User.get_or_none(User.email == email)
    ok = check_password(user.password_hash if user else None, password)
    if not ok or user is None or not user.is_active or user.role == INTEGRATION:
        attempts.count_failure(counters)
        return None
    return user


def change_password(user: User, current: str, new: str) -> bool:
    """Set a new password if ``current`` is right; every other session ends, every
    API token is revoked and this browser gets a fresh session. False when
    ``current`` is wrong (a failure counted); raises ``TooManyAttempts``, checking
    nothing, after too many wrong ones."""
    counters = attempts.password_check_counters(user.id)
    attempts.refuse_if_too_many(counters)
    if not check_password(user.password_hash, current):
        attempts.count_failure(counters)
        return False
    with transaction():
        User.update(password_hash=hash_password(new)).where(User.id == user.id).execute()
        revoke_all_access(user.id)
    start_session(user)
    return True
