"""Security headers on every response: pages, fragments, API answers and errors."""

from __future__ import annotations

from flask import request

CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "object-src 'none'",
    ]
)

HSTS = "max-age=31536000; includeSubDomains"


def set_security_headers(response):
    """Add the CSP and friends to ``response``."""
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CSP)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    if request.is_secure:
        # Only over https (as the trusted proxies say, behind them): sent over
        # plain http it would lock a browser out of an install without TLS.
        headers.setdefault("Strict-Transport-Security", HSTS)
    if request.endpoint != "static":
        # Pages, fragments, exports and API answers carry personal data or
        # secrets: no browser, proxy or back button keeps a copy of them,
        # unless the answer says otherwise (the style bundle of web.assets).
        headers.setdefault("Cache-Control", "no-store")
    return response
