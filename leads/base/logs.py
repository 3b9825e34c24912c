"""Structured logs (O3): one line per request (``web.request_log``) and one
per job (the callbacks ``enqueue`` gives every job), JSON when
``LOG_FORMAT=json``, else a readable ``key=value`` line; a request's id goes
with the jobs it enqueues (RQ job meta), so their lines carry it too.

Fields travel on the record as ``record.fields`` (a dict): the formatters
print them, and tests read them from ``caplog``.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re

from flask import g, has_request_context
from rq import get_current_job

REQUESTS = logging.getLogger("leadflow.request")
JOBS = logging.getLogger("leadflow.job")
_SANE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
_BARE = re.compile(r"[^\s\"=\\]+")
_RESULT_CHARS = 200


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the fields, any traceback."""

    def format(self, record: logging.LogRecord) -> str:
        line = {"time": _time(record), "level": record.levelname, "logger": record.name}
        line["message"] = record.getMessage()
        line.update(getattr(record, "fields", {}))
        if record.exc_info:
            line["error_trace"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


class KeyValueFormatter(logging.Formatter):
    """``time LEVEL logger message key=value …`` (values quoted when they need it)."""

    def format(self, record: logging.LogRecord) -> str:
        parts = [_time(record), record.levelname, record.name, record.getMessage()]
        parts += [f"{key}={_value(value)}" for key, value in getattr(record, "fields", {}).items()]
        line = " ".join(parts)
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def _time(record: logging.LogRecord) -> str:
    moment = dt.datetime.fromtimestamp(record.created, dt.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _value(value) -> str:
    if value is None:
        return "-"
    text = str(value)
    return text if _BARE.fullmatch(text) else json.dumps(text)


def configure(app) -> None:
    """Send every log record of the process (the app's, RQ's) to stderr in the
    configured format (``LOG_FORMAT``, ``LOG_LEVEL``), once per process, unless
    something (a test runner, a host application) already set up logging."""
    root = logging.getLogger()
    if root.handlers:
        return
    handler = logging.StreamHandler()
    json_lines = (app.config.get("LOG_FORMAT") or "").lower() == "json"
    handler.setFormatter(JsonFormatter() if json_lines else KeyValueFormatter())
    root.addHandler(handler)
    root.setLevel(app.config.get("LOG_LEVEL") or "INFO")


def sane_request_id(value: str | None) -> str | None:
    """``value`` when it is a token safe to log and echo (letters, digits,
    ``._:-``, up to 128), else None."""
    return value if value and _SANE_ID.fullmatch(value) else None


def current_request_id() -> str | None:
    """The id of the request being served, or of the request that enqueued the
    job being run (so a job a job enqueues keeps it too), or None."""
    if has_request_context():
        return g.get("request_id")
    job = get_current_job()
    return job.meta.get("request_id") if job is not None else None


def job_succeeded(job, connection, result, *args, **kwargs) -> None:
    """RQ's success callback of every job: its log line."""
    _log_job(job, logging.INFO, "finished", result=_short(result))


def job_failed(job, connection, kind, value, traceback, *args, **kwargs) -> None:
    """RQ's failure callback of every job: its log line (the retry, if any, follows)."""
    error = f"{getattr(kind, '__name__', kind)}: {value}"
    _log_job(job, logging.ERROR, "failed", error=error[:500], retries_left=job.retries_left)


def _log_job(job, level: int, outcome: str, **more) -> None:
    try:
        fields = {
            "job": job.func_name,
            "job_id": job.id,
            "queue": job.origin,
            "outcome": outcome,
            "duration_ms": _duration_ms(job),
            "request_id": job.meta.get("request_id"),
            **more,
        }
        JOBS.log(level, "job %s %s", job.func_name, outcome, extra={"fields": fields})
    except Exception:  # a log line never fails the job
        JOBS.exception("could not log job %s", getattr(job, "id", "?"))


def _duration_ms(job) -> float | None:
    if job.started_at is None:
        return None
    ended = job.ended_at or dt.datetime.now(dt.UTC)
    started = job.started_at if job.started_at.tzinfo else job.started_at.replace(tzinfo=dt.UTC)
    ended = ended if ended.tzinfo else ended.replace(tzinfo=dt.UTC)
    return round((ended - started).total_seconds() * 1000, 1)


def _short(result) -> str | None:
    if result is None:
        return None
    text = result if isinstance(result, str) else json.dumps(result, default=str)
    return text if len(text) <= _RESULT_CHARS else text[: _RESULT_CHARS - 1] + "…"
