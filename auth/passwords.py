"""argon2id password hashing."""

from __future__ import annotations

import os

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError

# argon2id with the library's current parameters (about 50 ms a check, on
# purpose). The test suite, which signs in hundreds of times, sets
# LEADFLOW_TEST_CHEAP_HASHING=1 for argon2's own "cheapest, for tests" profile;
# never set it on an install.
_hasher = (
    PasswordHasher.from_parameters(profiles.CHEAPEST)
    if os.environ.get("LEADFLOW_TEST_CHEAP_HASHING") == "1"
    else PasswordHasher()
)
# Verified against when the account does not exist, so an unknown email costs
# the same time as a wrong password.
_DUMMY_HASH = _hasher.hash("leadflow-dummy-password")

MIN_LENGTH = 10


def hash_password(password: str) -> str:
    """An argon2id hash of ``password``."""
    return _hasher.hash(password)


def check_password(password_hash: str | None, password: str) -> bool:
    """True when ``password`` matches; spends the same effort when there is no hash."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False
