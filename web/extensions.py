"""Flask extensions, created unbound and attached by the app factory."""

from __future__ import annotations

from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import CSRFProtect
from htmx_flask import Htmx

csrf = CSRFProtect()
htmx = Htmx()
# No default limits: only routes that ask for one (public capture) are limited. The
# sign-in and current-password checks count their failures on the same storage
# (auth/attempts.py). Keys start with RATELIMIT_KEY_PREFIX, the install's QUEUE_PREFIX.
limiter = Limiter(key_func=get_remote_address, default_limits=[], headers_enabled=True)
