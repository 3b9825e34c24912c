"""One log line per request (O3): method, path, status, duration, user, client
and the request id, which comes from a sane incoming X-Request-ID (else is
made here), is echoed in the answer's X-Request-ID and goes with every job
the request enqueues (``leads.base.queue.enqueue``)."""

from __future__ import annotations

import time
import uuid

from flask import g, request

from leads.base.logs import REQUESTS, sane_request_id

HEADER = "X-Request-ID"


def init_app(app) -> None:
    """Register the hooks: first before every other, last after (so the line
    has the final status, whatever answered)."""
    app.before_request_funcs.setdefault(None, []).insert(0, start)
    app.after_request_funcs.setdefault(None, []).insert(0, finish)


def start() -> None:
    """before_request: the request's id and start time."""
    g.request_id = sane_request_id(request.headers.get(HEADER)) or uuid.uuid4().hex
    g.request_started = time.perf_counter()


def finish(response):
    """after_request: echo the id and write the request's line."""
    request_id = g.get("request_id") or uuid.uuid4().hex
    response.headers[HEADER] = request_id
    started = g.get("request_started")
    user = g.get("user")
    fields = {
        "method": request.method,
        "path": request.path,
        "status": response.status_code,
        "duration_ms": round((time.perf_counter() - started) * 1000, 1) if started else None,
        "user_id": user.id if user is not None else None,
        "client": request.remote_addr,
        "request_id": request_id,
    }
    REQUESTS.info("%s %s %s", request.method, request.path, response.status_code, extra={"fields": fields})
    return response
