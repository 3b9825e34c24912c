"""O3: one structured log line per request and per job, and the request id
that ties a request to the jobs it enqueued (X-Request-ID in, out, and in the
jobs' RQ meta). The job lines come from real RQ workers (``run_jobs``)."""

from __future__ import annotations

import json
import logging
import re

import pytest

from leads.base import logs
from leads.base.queue import enqueue, get_redis
from leads.base.sweep import sweep_once
from tests.factories import login, make_user
from tests.intake.test_intake import make_source, post

HEX_ID = re.compile(r"[0-9a-f]{32}")


def lines(caplog, logger: str) -> list[dict]:
    """The fields of every record ``logger`` wrote."""
    return [record.fields for record in caplog.records if record.name == logger]


def test_one_line_per_request_with_method_path_status_duration_user_and_request_id(sqlite_app, caplog):
    caplog.set_level(logging.INFO)
    user = make_user("manager")
    client = login(sqlite_app.test_client(), user)
    caplog.clear()

    response = client.get("/leads?stage=1")

    (line,) = lines(caplog, "leadflow.request")
    assert line["method"] == "GET" and line["path"] == "/leads" and line["status"] == 200
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0
    assert line["user_id"] == user.id and line["client"] == "127.0.0.1"
    assert HEX_ID.fullmatch(line["request_id"]) and response.headers["X-Request-ID"] == line["request_id"]


def test_errors_and_refusals_get_their_line_too(sqlite_app, caplog):
    caplog.set_level(logging.INFO)
    client = sqlite_app.test_client()
    client.get("/no-such-page")
    client.get("/leads", headers={"HX-Request": "true"})  # not signed in: 401 before any view
    assert [(line["status"], line["user_id"]) for line in lines(caplog, "leadflow.request")] == [
        (404, None),
        (401, None),
    ]


@pytest.mark.parametrize(
    "incoming, kept",
    [("4bf92f3577b34da6a3ce929d0e0e4736", True), ("lb-7.example:1234", True), ("x" * 129, False)]
    + [("bad id", False), ("evil;Set-Cookie=a", False), ("", False), ("-leading-dash", False)],
)
def test_a_sane_incoming_request_id_is_kept_anything_else_replaced(sqlite_app, caplog, incoming, kept):
    caplog.set_level(logging.INFO)
    answer = sqlite_app.test_client().get("/healthz", headers={"X-Request-ID": incoming})
    echoed = answer.headers["X-Request-ID"]
    assert (echoed == incoming) is kept
    assert kept or HEX_ID.fullmatch(echoed)
    assert lines(caplog, "leadflow.request")[-1]["request_id"] == echoed


def test_the_jobs_a_request_enqueues_log_a_line_with_its_request_id(app, run_jobs, caplog):
    caplog.set_level(logging.INFO)
    with app.app_context():
        source = make_source()
    answer = post(app.test_client(), source, headers={"X-Request-ID": "capture-42"})
    assert answer.status_code == 303 and answer.headers["X-Request-ID"] == "capture-42"

    run_jobs()

    jobs = lines(caplog, "leadflow.job")
    assert jobs, "the capture enqueued no job"
    for line in jobs:  # the scoring job, and what it enqueued in turn
        assert line["request_id"] == "capture-42" and line["outcome"] == "finished"
        assert line["job"].startswith(("leads.", "routing.")) and line["duration_ms"] >= 0
        assert "result" in line
    assert any(line["job"] == "leads.scoring.jobs.score_leads" for line in jobs), jobs


def test_a_failing_job_logs_its_error_and_a_job_from_no_request_has_no_request_id(sqlite_app, caplog):
    from tests.conftest import burst_worker

    caplog.set_level(logging.INFO)
    with sqlite_app.app_context():
        enqueue("tests.ops.jobs.fail", "the printer is on fire", job_id="log-test-fail")
    burst_worker(sqlite_app)()

    (record,) = [r for r in caplog.records if r.name == "leadflow.job"]
    assert record.levelno == logging.ERROR
    assert record.fields["job"] == "tests.ops.jobs.fail" and record.fields["outcome"] == "failed"
    assert record.fields["error"] == "RuntimeError: the printer is on fire"
    assert record.fields["retries_left"] == 3 and record.fields["request_id"] is None


def test_lines_are_json_or_key_value():
    record = logging.LogRecord("leadflow.request", logging.INFO, __file__, 1, "GET %s 200", ("/leads",), None)
    record.fields = {"method": "GET", "path": "/leads", "status": 200, "user_id": None, "note": 'a "b" c'}

    as_json = json.loads(logs.JsonFormatter().format(record))
    assert as_json["level"] == "INFO" and as_json["logger"] == "leadflow.request"
    assert as_json["message"] == "GET /leads 200" and as_json["status"] == 200 and as_json["user_id"] is None
    assert as_json["time"].endswith("Z")

    as_text = logs.KeyValueFormatter().format(record)
    assert as_text.split(" ", 1)[1].startswith("INFO leadflow.request GET /leads 200 method=GET path=/leads")
    assert 'status=200 user_id=- note="a \\"b\\" c"' in as_text


@pytest.mark.parametrize("setting, formatter", [("json", logs.JsonFormatter), (None, logs.KeyValueFormatter)])
def test_log_format_json_chooses_the_json_lines(setting, formatter):
    root = logging.getLogger()
    kept, level = root.handlers[:], root.level
    root.handlers.clear()
    try:
        logs.configure(type("App", (), {"config": {"LOG_FORMAT": setting}})())
        (handler,) = root.handlers
        assert type(handler.formatter) is formatter and root.level == logging.INFO
    finally:
        root.handlers[:] = kept
        root.setLevel(level)


def test_the_sweepers_routine_lines_are_debug(sqlite_app, caplog):
    caplog.set_level(logging.DEBUG, logger="leads.base.sweep")
    assert sweep_once(sqlite_app, get_redis(sqlite_app), force=True)
    swept = [record for record in caplog.records if record.name == "leads.base.sweep"]
    assert swept and {record.levelno for record in swept} == {logging.DEBUG}
