"""O3: the Prometheus endpoint. Refused without the metrics token (or, with
none set, to anyone but this machine); the figures it answers are the ones in
Redis and the database; request counts are summed over several processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from prometheus_client.parser import text_string_to_metric_families

from leads.base.db import utcnow
from leads.base.queue import get_queue
from leads.scoring.models import PendingScore
from leads.webhooks.models import Webhook, WebhookDelivery
from routing.models import Assignment
from tests.factories import make_lead, make_user

TOKEN = "metrics-secret-for-tests"
NAMES = {
    "leadflow_http_requests",
    "leadflow_http_request_duration_seconds",
    "leadflow_queue_depth",
    "leadflow_queue_failed_jobs",
    "leadflow_pending_scores",
    "leadflow_webhook_deliveries",
    "leadflow_routing_decisions",
}
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def fails():
    """A job that fails (run by the real worker of ``run_jobs``)."""
    raise RuntimeError("this job fails on purpose")


def _samples(response) -> dict:
    """(name, labels) → value of every sample in a text exposition."""
    found = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def _scrape(client, token=TOKEN):
    return client.get("/metrics", headers={"Authorization": f"Bearer {token}"})


def test_with_a_token_set_anonymous_and_wrong_tokens_are_refused(app):
    app.config["METRICS_TOKEN"] = TOKEN
    client = app.test_client()
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics").headers["WWW-Authenticate"].startswith("Bearer")
    assert _scrape(client, "wrong").status_code == 401
    assert client.get("/metrics", headers={"Authorization": TOKEN}).status_code == 401
    response = _scrape(client)
    assert response.status_code == 200
    assert response.mimetype == "text/plain" and "version=" in response.headers["Content-Type"]
    families = {family.name for family in text_string_to_metric_families(response.get_data(as_text=True))}
    assert NAMES <= families, NAMES - families


def test_without_a_token_only_this_machine_is_answered(app):
    client = app.test_client()
    assert client.get("/metrics").status_code == 200  # the test client calls from 127.0.0.1
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "::1"}).status_code == 200
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "203.0.113.9"}).status_code == 403
    relayed = client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"})
    assert relayed.status_code == 403  # a proxy on this machine relays strangers


def test_the_figures_are_what_redis_and_the_database_hold(app, run_jobs):
    app.config["METRICS_TOKEN"] = TOKEN
    with app.app_context():
        queue = get_queue("default")
        queue.enqueue(f"{__name__}.fails", job_id="metrics-fails")
        run_jobs()
        for n in range(2):
            queue.enqueue("leads.scoring.jobs.score_leads", [], job_id=f"metrics-waiting-{n}")
    lead = make_lead()
    PendingScore.insert(lead=lead, token="t", cause="test").on_conflict_ignore().execute()
    hook = Webhook.create(name="CRM", url="https://crm.example.org/hook", secret="s" * 43, events=["x"])
    for n, status in enumerate(["pending", "delivered", "delivered", "failed"]):
        WebhookDelivery.create(webhook=hook, key=f"k{n}", event="x", status=status)
    rep = make_user("rep")
    Assignment.create(lead=lead, rep=rep, reason="test")
    Assignment.create(lead=make_lead(), rep=None, reason="nobody", ended_at=utcnow())

    values = _samples(_scrape(app.test_client()))
    assert values[("leadflow_queue_depth", (("queue", "default"),))] == 2
    assert values[("leadflow_queue_depth", (("queue", "routing"),))] == 0
    assert values[("leadflow_queue_failed_jobs", (("queue", "default"),))] == 1
    assert values[("leadflow_pending_scores", ())] == PendingScore.select().count() >= 1
    deliveries = {
        status: values[("leadflow_webhook_deliveries", (("status", status),))]
        for status in ("pending", "delivered", "failed")
    }
    assert deliveries == {"pending": 1, "delivered": 2, "failed": 1}
    assert values[("leadflow_routing_decisions_total", (("outcome", "assigned"),))] == 1
    assert values[("leadflow_routing_decisions_total", (("outcome", "nobody"),))] == 1


def test_requests_are_counted_and_timed_per_endpoint(app):
    client = app.test_client()
    for _ in range(3):
        client.get("/healthz")
    client.get("/no-such-page")
    values = _samples(client.get("/metrics"))
    key = (("endpoint", "ops.healthz"), ("method", "GET"), ("status", "200"))
    before = values[("leadflow_http_requests_total", key)]
    assert before >= 3
    assert (
        values[
            (
                "leadflow_http_requests_total",
                (("endpoint", "unmatched"), ("method", "GET"), ("status", "404")),
            )
        ]
        >= 1
    )
    timed = (("endpoint", "ops.healthz"), ("method", "GET"))
    assert values[("leadflow_http_request_duration_seconds_count", timed)] >= 3
    client.get("/healthz")
    assert _samples(client.get("/metrics"))[("leadflow_http_requests_total", key)] == before + 1


SERVE = """
import json, sys
from app import create_app
app = create_app(json.loads(sys.argv[1]))
client = app.test_client()
for _ in range(int(sys.argv[2])):
    client.get("/healthz")
if sys.argv[3] == "scrape":
    sys.stdout.write(client.get("/metrics").get_data(as_text=True))
"""


def test_several_web_processes_are_summed_in_multiprocess_mode(sqlite_app, tmp_path):
    """With PROMETHEUS_MULTIPROC_DIR (as ``flask serve`` sets for gunicorn), a
    scrape answered by one process counts the requests every process answered."""
    folder = tmp_path / "metrics"
    folder.mkdir()
    env = dict(os.environ, PROMETHEUS_MULTIPROC_DIR=str(folder))
    config = json.dumps(
        {key: sqlite_app.config[key] for key in ("DATABASE_URL", "REDIS_URL", "QUEUE_PREFIX")}
        | {"SECRET_KEY": "multiprocess", "RATELIMIT_STORAGE_URI": "memory://"}
    )

    def process(count: int, last: str = "") -> str:
        done = subprocess.run(
            [sys.executable, "-c", SERVE, config, str(count), last],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    process(2)
    process(3)
    text = process(1, "scrape")
    counted = {
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "leadflow_http_requests_total" and sample.labels.get("endpoint") == "ops.healthz"
    }
    assert counted == {6.0}
