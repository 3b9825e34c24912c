"""The service's own routes (O3): liveness and readiness for the platform that
runs it. No sign-in: a load balancer or an orchestrator calls them."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify

from auth.policy import public
from ops import health

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
