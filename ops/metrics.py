"""Prometheus metrics (O3), with prometheus_client.

Requests are counted and timed per endpoint as they are answered. What the
install holds (queue depths, failed jobs, pending scores, webhook deliveries,
routing decisions) is read from Redis and the database when Prometheus
scrapes, by ``InstallCollector``, so those figures are the same whichever
process answers.

Several web processes (gunicorn ``-w N``): with ``PROMETHEUS_MULTIPROC_DIR``
set to an empty folder before they start, each process writes its request
counts there and a scrape sums every process's (prometheus_client's
multiprocess mode); ``flask serve`` sets it. Without it each process counts
on its own and a scrape sees the one process that answered it.
"""

from __future__ import annotations

import hmac
import logging
import os
import time

import peewee as pw
from flask import g, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector

from leads.base.queue import QUEUE_NAMES, get_queue
from leads.scoring.models import PendingScore
from leads.webhooks.models import WebhookDelivery
from ops.health import probe_redis
from routing.models import Assignment

log = logging.getLogger(__name__)

REQUESTS = Counter(
    "leadflow_http_requests",
    "Requests answered, per endpoint, method and status.",
    ["endpoint", "method", "status"],
    registry=None,  # gathered per scrape (``exposition``), so every app of a process shares them
)
LATENCY = Histogram(
    "leadflow_http_request_duration_seconds",
    "Time to answer a request, per endpoint and method.",
    ["endpoint", "method"],
    registry=None,
)
LOOPBACK = ("127.0.0.1", "::1")
FORWARDED = ("X-Forwarded-For", "Forwarded", "X-Real-IP")  # relayed by a proxy: not a local caller


def init_app(app) -> None:
    """Count and time every request ``app`` answers."""
    app.before_request(_start)
    app.after_request(_record)


def _start():
    g.metrics_started = time.perf_counter()


def _record(response):
    started = g.pop("metrics_started", None)
    if started is not None:
        endpoint = request.endpoint or "unmatched"  # a 404: one label for every unknown path
        LATENCY.labels(endpoint, request.method).observe(time.perf_counter() - started)
        REQUESTS.labels(endpoint, request.method, str(response.status_code)).inc()
    return response


def refusal(app) -> int | None:
    """None when this request may read the metrics, else the status to refuse
    it with: with ``METRICS_TOKEN`` set, 401 unless it brings that bearer
    token; without, 403 unless it comes from this machine, straight."""
    token = app.config.get("METRICS_TOKEN")
    if token:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        ok = scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())
        return None if ok else 401
    local = request.remote_addr in LOOPBACK and not any(name in request.headers for name in FORWARDED)
    return None if local else 403


def exposition(app) -> tuple[bytes, str]:
    """The metrics in Prometheus's text format, and its content type."""
    registry = CollectorRegistry(auto_describe=False)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        MultiProcessCollector(registry)  # every web process's request counts, summed
    else:
        registry.register(REQUESTS)
        registry.register(LATENCY)
    registry.register(InstallCollector(app))
    return generate_latest(registry), CONTENT_TYPE_LATEST


class InstallCollector:
    """The install's figures, read at scrape time. A part that cannot be read
    (Redis down) is left out of this scrape and logged; the rest is answered."""

    def __init__(self, app):
        self.app = app

    def collect(self):
        for part in (self._queues, self._database):
            try:
                yield from part()
            except Exception:
                log.warning("metrics: %s not read", part.__name__, exc_info=True)

    def _queues(self):
        depth = GaugeMetricFamily("leadflow_queue_depth", "Jobs waiting in each queue.", labels=["queue"])
        failed = GaugeMetricFamily(
            "leadflow_queue_failed_jobs", "Jobs in each queue's failed registry.", labels=["queue"]
        )
        connection = probe_redis(self.app)
        for name in QUEUE_NAMES:
            queue = get_queue(name, self.app, connection)
            depth.add_metric([name], queue.count)
            failed.add_metric([name], queue.failed_job_registry.count)
        return [depth, failed]

    def _database(self):
        pending = GaugeMetricFamily("leadflow_pending_scores", "Leads whose scores wait to be recomputed.")
        pending.add_metric([], PendingScore.select().count())
        deliveries = GaugeMetricFamily(
            "leadflow_webhook_deliveries", "Webhook deliveries by status.", labels=["status"]
        )
        by_status = dict.fromkeys(("pending", "delivered", "failed"), 0)
        by_status.update(
            WebhookDelivery.select(WebhookDelivery.status, pw.fn.COUNT(WebhookDelivery.id))
            .group_by(WebhookDelivery.status)
            .tuples()
        )
        for status, count in sorted(by_status.items()):
            deliveries.add_metric([status], count)
        decisions = CounterMetricFamily(
            "leadflow_routing_decisions",
            "Routing decisions stored: assigned to a rep, or nobody found.",
            labels=["outcome"],
        )
        decisions.add_metric(["assigned"], Assignment.select().where(Assignment.rep.is_null(False)).count())
        decisions.add_metric(["nobody"], Assignment.select().where(Assignment.rep.is_null()).count())
        return [pending, deliveries, decisions]
