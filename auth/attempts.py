"""Failed credential checks, counted so that guessing is slow and no one is locked
out from afar (G1).

Only failures count, in the rate limiter's storage (Redis outside the tests, so
every web process shares the counts) and under the install's key prefix (so
installs sharing one Redis never share counts). A sign-in is refused, before the
password is even checked, when its account failed too often from this client,
when this client failed too often on any accounts, or when the account failed
far too often from everywhere together: that last limit is much looser, so an
attacker's client is blocked long before the owner's client would be. The
current-password check of the password page counts per user.
"""

from __future__ import annotations

import math
import time

from flask import current_app
from limits import RateLimitItem, parse

from web.extensions import limiter

# A counter: the config key that holds its limit ("5 per minute"), and what it counts by.
Counter = tuple[str, tuple[str, ...]]


class TooManyAttempts(Exception):
    """A check refused unattempted: a counter is full for ``seconds`` more."""

    def __init__(self, seconds: int):
        self.seconds = seconds
        minutes = max(1, math.ceil(seconds / 60))
        super().__init__(f"Too many attempts, try again in {minutes} minute{'' if minutes == 1 else 's'}.")


def sign_in_counters(email: str, client: str) -> list[Counter]:
    """The counters of a sign-in as ``email`` (normalised) from the ``client`` address."""
    return [
        ("LOGIN_LIMIT_PER_ACCOUNT_CLIENT", ("sign-in", email, client)),
        ("LOGIN_LIMIT_PER_CLIENT", ("sign-in-client", client)),
        ("LOGIN_LIMIT_PER_ACCOUNT", ("sign-in-account", email)),
    ]


def password_check_counters(user_id: int) -> list[Counter]:
    """The counter of the current-password check on the password page."""
    return [("PASSWORD_CHECK_LIMIT", ("current-password", str(user_id)))]


def refuse_if_too_many(counters: list[Counter]) -> None:
    """Raise ``TooManyAttempts`` when any counter is full (with the longest wait)."""
    waits = [_wait(item, keys) for item, keys in _limits(counters) if not limiter.limiter.test(item, *keys)]
    if waits:
        raise TooManyAttempts(max(waits))


def count_failure(counters: list[Counter]) -> None:
    """One more failure on every counter."""
    for item, keys in _limits(counters):
        limiter.limiter.hit(item, *keys)


def _limits(counters: list[Counter]) -> list[tuple[RateLimitItem, tuple[str, ...]]]:
    config = current_app.config
    if not config.get("RATELIMIT_ENABLED", True):
        return []
    # Read per request from the app serving it: Flask-Limiter keeps the prefix of the
    # process's first app, which is every app's only while one app runs per process.
    prefix = config["RATELIMIT_KEY_PREFIX"]
    return [(parse(config[name]), (prefix, *keys)) for name, keys in counters]


def _wait(item: RateLimitItem, keys: tuple[str, ...]) -> int:
    reset_at = limiter.limiter.get_window_stats(item, *keys).reset_time
    return max(1, math.ceil(reset_at - time.time()))
