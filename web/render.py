"""One helper decides page or fragment (STYLE 10)."""

from __future__ import annotations

from flask import make_response, render_template, request


def wants_fragment() -> bool:
    """True for an htmx request that is neither boosted nor a history restore."""
    hx = request.htmx
    return bool(hx) and not hx.boosted and not hx.history_restore_request


def render(page: str, fragment: str | None = None, status: int = 200, **context):
    """Render ``fragment`` for an htmx swap, else the full ``page`` (which
    includes the fragment), varying the cache on ``HX-Request``."""
    template = fragment if fragment and wants_fragment() else page
    response = make_response(render_template(template, **context), status)
    response.vary.add("HX-Request")
    return response


def render_fragment(fragment: str, status: int = 200, **context):
    """Render a partial that only exists as a swap target (a table row after an action)."""
    response = make_response(render_template(fragment, **context), status)
    response.vary.add("HX-Request")
    return response
