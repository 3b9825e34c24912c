"""The job queues as an admin sees them (O3): each queue's depth, the workers
and what they do, and the failed jobs, each to try again or to delete."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from rq import Worker
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.job import Job
from rq.serializers import JSONSerializer

from leads.base.queue import QUEUE_NAMES, get_queue

FAILED_SHOWN = 100  # the newest failed jobs of each queue; the count says how many there are


class UnknownJob(LookupError):
    """No such queue, or no such job among its failed ones."""


@dataclass(frozen=True)
class QueueRow:
    name: str
    depth: int
    failed: int


@dataclass(frozen=True)
class WorkerRow:
    name: str
    state: str
    current_job: str | None
    last_heartbeat: dt.datetime | None


@dataclass(frozen=True)
class FailedJob:
    queue: str
    id: str
    function: str
    error: str
    ended_at: dt.datetime | None


def queues() -> list[QueueRow]:
    """Each queue of the install with the jobs waiting and failed in it."""
    rows = []
    for name in QUEUE_NAMES:
        queue = get_queue(name)
        rows.append(QueueRow(name, queue.count, queue.failed_job_registry.count))
    return rows


def workers() -> list[WorkerRow]:
    """The workers serving any of the install's queues, by name."""
    found: dict[str, WorkerRow] = {}
    for name in QUEUE_NAMES:
        for worker in Worker.all(queue=get_queue(name), serializer=JSONSerializer):
            found[worker.name] = WorkerRow(
                worker.name, worker.get_state(), worker.get_current_job_id(), worker.last_heartbeat
            )
    return [found[name] for name in sorted(found)]


def failed_jobs() -> list[FailedJob]:
    """The newest failed jobs of every queue, newest first."""
    rows = []
    for name in QUEUE_NAMES:
        registry = get_queue(name).failed_job_registry
        ids = registry.get_job_ids(0, FAILED_SHOWN - 1, desc=True)
        jobs = Job.fetch_many(ids, connection=registry.connection, serializer=JSONSerializer)
        rows += [_failed(name, job) for job in jobs if job is not None]
    epoch = dt.datetime.min.replace(tzinfo=dt.UTC)
    return sorted(rows, key=lambda row: row.ended_at or epoch, reverse=True)


def _failed(queue: str, job: Job) -> FailedJob:
    result = job.latest_result()
    traceback = result.exc_string if result is not None and result.exc_string else ""
    lines = [line for line in traceback.splitlines() if line.strip()]
    return FailedJob(queue, job.id, job.func_name or "?", lines[-1].strip() if lines else "", job.ended_at)


def retry(queue: str, job_id: str) -> None:
    """Put the failed job back at the end of its queue."""
    registry = _registry(queue)
    try:
        registry.requeue(job_id)
    except (NoSuchJobError, InvalidJobOperation) as missing:
        raise UnknownJob(job_id) from missing


def delete(queue: str, job_id: str) -> None:
    """Forget the failed job (its record goes too)."""
    registry = _registry(queue)
    if job_id not in registry:
        raise UnknownJob(job_id)
    try:
        registry.remove(job_id, delete_job=True)
    except NoSuchJobError:
        pass  # its record had expired: taking it off the list was all there was to do


def _registry(queue: str):
    if queue not in QUEUE_NAMES:
        raise UnknownJob(queue)
    return get_queue(queue).failed_job_registry
