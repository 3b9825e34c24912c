"""Error answers: JSON ``{"errors": [{"field", "reason"}]}`` under /api/, pages elsewhere."""

from __future__ import annotations

from flask import jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from web.render import wants_fragment


def api_error(status: int, reason: str, field: str | None = None, errors: list | None = None):
    """A JSON error answer for the API."""
    body = {"errors": errors or [{"field": field, "reason": reason}]}
    response = jsonify(body)
    response.status_code = status
    return response


def _is_api() -> bool:
    return request.path.startswith("/api/")


def handle_http_error(error: HTTPException):
    """Render an HTTP error for the API, an htmx swap or a full page."""
    if _is_api():
        return api_error(error.code or 500, error.description or error.name)
    template = "errors/_error.html" if wants_fragment() else "errors/error.html"
    response = render_template(template, error=error), error.code
    return response


def handle_csrf_error(error: CSRFError):
    """A missing or stale CSRF token: say so plainly."""
    error.description = "Your form expired or was sent from elsewhere. Reload the page and try again."
    return handle_http_error(error)


def register(app) -> None:
    """Attach the error handlers to ``app``."""
    app.register_error_handler(CSRFError, handle_csrf_error)
    app.register_error_handler(HTTPException, handle_http_error)
