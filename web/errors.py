"""Error answers: JSON ``{"errors": [{"field", "reason"}]}`` under /api/, pages elsewhere."""

from __future__ import annotations

import logging

import peewee as pw
from flask import jsonify, make_response, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, ServiceUnavailable

from leads.base.db import RETRYABLE
from web.render import wants_fragment

log = logging.getLogger(__name__)

BUSY_RETRY_SECONDS = 5
# What a database says when a writer held its lock past the wait we allow:
# SQLite's busy timeout, PostgreSQL's lock_timeout (55P03).
BUSY_MESSAGES = ("database is locked", "lock timeout", "canceling statement due to lock timeout")
# What a request sees when the database ended its connection under it (a
# restart, a failover, pg_terminate_backend): the server rolled its
# transaction back; the pool drops the dead connection at teardown.
LOST_MESSAGES = (
    "server closed the connection",
    "connection already closed",
    "terminating connection",
    "connection not open",
    "could not receive data from server",
    "ssl connection has been closed",
)

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
        response = api_error(error.code or 500, error.description or error.name)
    else:
        template = "errors/_error.html" if wants_fragment() else "errors/error.html"
        response = make_response(render_template(template, error=error), error.code)
    # The error's own headers: Allow on a 405, WWW-Authenticate on a 401, Retry-After…
    for name, value in error.get_headers():
        if name.lower() != "content-type":
            response.headers[name] = value
    return response


def handle_csrf_error(error: CSRFError):
    """A missing or stale CSRF token: say so plainly."""
    error.description = "Your form expired or was sent from elsewhere. Reload the page and try again."
    return handle_http_error(error)


def handle_database_error(error: pw.OperationalError | pw.InterfaceError):
    """O2: the database stayed busy past the wait allowed (another writer froze
    holding its lock), or ended this request's connection (a restart, a
    failover). The transaction rolled back whole, nothing was stored: answer 503 with ``Retry-After`` so the client tries again, never a 500.
    A deadlock or serialization failure that outlived its retries
    (``leads.base.db.retried``) is answered the same way. Any other operational
    error stays a server error."""
    code = getattr(getattr(error, "orig", None), "pgcode", None)
    text = str(error).lower()
    if any(lost in text for lost in LOST_MESSAGES):
        log.warning("database connection lost, answered 503: %s", error)
        busy = ServiceUnavailable(
            "The database connection was lost. Nothing was saved; try again in a few seconds."
        )
    elif code in RETRYABLE or any(message in text for message in BUSY_MESSAGES):
        log.warning("database busy, answered 503: %s", error)
        busy = ServiceUnavailable("The database is busy. Nothing was saved; try again in a few seconds.")
    else:
        raise error
    response = make_response(handle_http_error(busy))
    response.headers["Retry-After"] = str(BUSY_RETRY_SECONDS)
    return response


def register(app) -> None:
    """Attach the error handlers to ``app``."""
    app.register_error_handler(pw.OperationalError, handle_database_error)
    app.register_error_handler(pw.InterfaceError, handle_database_error)
    app.register_error_handler(CSRFError, handle_csrf_error)
    app.register_error_handler(HTTPException, handle_http_error)
