"""The service's own routes (O3): liveness and readiness for the platform that
runs it (no sign-in: a load balancer or an orchestrator calls them), the
Prometheus metrics (a bearer token of their own, ``METRICS_TOKEN``) and the
admins' page of the job queues."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, jsonify

from auth.models import ADMIN
from auth.policy import allow, public
from ops import health, metrics, queues
from web.crud import saved
from web.render import render

bp = Blueprint("ops", __name__)

# Answered with the database down (the app does not connect before them; they
# do, if at all, and say what failed): a probe or a scrape is never a 500.
PROBES = ("ops.healthz", "ops.readyz", "ops.prometheus")


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


def _queues_page(notice=None, status=200):
    return render(
        "ops/queues.html",
        "ops/_queues.html",
        status,
        queues=queues.queues(),
        workers=queues.workers(),
        failed=queues.failed_jobs(),
        notice=notice,
    )


@bp.route("/admin/queues")
@allow(ADMIN)
def queue_list():
    """Each queue's depth, the workers and the failed jobs."""
    return _queues_page()


@bp.route("/admin/queues/<queue>/failed/<job_id>/retry", methods=["POST"], defaults={"action": "retry"})
@bp.route("/admin/queues/<queue>/failed/<job_id>/delete", methods=["POST"], defaults={"action": "delete"})
@allow(ADMIN)
def failed_job(queue, job_id, action):
    """Try a failed job again (back at the end of its queue) or delete it;
    answers the page's region for htmx, else a redirect."""
    try:
        queues.retry(queue, job_id) if action == "retry" else queues.delete(queue, job_id)
    except queues.UnknownJob:
        abort(404, "That failed job is no longer there.")
    message = f"Job {job_id} is {'back in the queue' if action == 'retry' else 'deleted'}."
    return saved(message, lambda: _queues_page(notice=message), "ops.queue_list")
