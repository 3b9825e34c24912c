"""Absolute addresses as people outside reach this install (``PUBLIC_URL``)."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app, has_request_context, url_for


def check_public_url(value: str | None) -> str | None:
    """``PUBLIC_URL`` normalised (no trailing slash), or None when unset;
    ValueError for anything but an http(s) address with a host."""
    if not value:
        return None
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise ValueError(
            f"PUBLIC_URL must look like https://crm.example.com or https://example.com/crm, not {value!r}"
        )
    return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"


def public_url(endpoint: str, **values) -> str | None:
    """The absolute URL of ``endpoint`` (with ``values``): under ``PUBLIC_URL``
    when it is set, whoever asks; else, in a request, under the scheme and host
    the request came to (as the trusted proxies forwarded them); else (a job,
    no ``PUBLIC_URL``) None, for the caller to leave the link out."""
    base = current_app.config.get("PUBLIC_URL")
    if base:
        parts = urlsplit(base)
        adapter = current_app.url_map.bind(
            parts.netloc, script_name=parts.path or "/", url_scheme=parts.scheme
        )
        return adapter.build(endpoint, values, force_external=True)
    if has_request_context():
        return url_for(endpoint, _external=True, **values)
    return None
