"""Flask extensions, created unbound and attached by the app factory."""

from __future__ import annotations

from flask import request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import CSRFProtect
from htmx_flask import Htmx

csrf = CSRFProtect()
htmx = Htmx()
# No default limits: only routes that ask for one (sign-in, public capture) are limited.
limiter = Limiter(key_func=get_remote_address, default_limits=[], headers_enabled=True)


def login_account_key() -> str:
    """Rate-limit key for sign-in attempts against one account, whoever sends them."""
    return "login-account:" + (request.form.get("email") or "").strip().casefold()
