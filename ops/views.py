"""The service's own routes (O3): liveness and readiness for the platform that
runs it (no sign-in: a load balancer or an orchestrator calls them) and the
Prometheus metrics (a bearer token of their own, ``METRICS_TOKEN``)."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify

from auth.policy import public
from ops import health, metrics

bp = Blueprint("ops", __name__)

PROBES = ("ops.healthz", "ops.readyz")  # they open the database themselves, if at all


@bp.route("/healthz")
@public
def healthz():
    """The process answers (nothing else is asked)."""
    return {"status": "ok"}


@bp.route("/readyz")
@public
def readyz():
    """200 when every readiness check passes, else 503; each check ok or failing."""
    checks = health.readiness(current_app)
    ready = all(checks.values())
    body = {
        "status": "ready" if ready else "not ready",
        "checks": {name: "ok" if passed else "failing" for name, passed in checks.items()},
    }
    return jsonify(body), 200 if ready else 503


@bp.route("/metrics")
@public  # not a user's page: its own token (or this machine only) is checked here
def prometheus():
    """The metrics in Prometheus's text format, for the token's holder."""
    refused = metrics.refusal(current_app)
    if refused == 401:
        return current_app.response_class(
            "A valid metrics token is required (Authorization: Bearer …).\n",
            401,
            {"WWW-Authenticate": 'Bearer realm="metrics"'},
            mimetype="text/plain",
        )
    if refused:
        return current_app.response_class(
            "Metrics are answered on this machine only unless METRICS_TOKEN is set.\n",
            403,
            mimetype="text/plain",
        )
    body, content_type = metrics.exposition(current_app)
    return current_app.response_class(body, 200, content_type=content_type)
