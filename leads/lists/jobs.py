"""The bulk actions' RQ job (W5): ``run_bulk``, enqueued by
``leads.lists.bulk.start`` as ``leads.lists.jobs.run_bulk`` when a selection
holds more than ``bulk.JOB_THRESHOLD`` leads."""

from __future__ import annotations

from leads.lists import bulk


def run_bulk(task_id: int) -> str:
    """Run the bulk task's remaining batches, one transaction each; safe to run
    twice (a finished task is left alone, an interrupted one resumes after its
    last committed batch). Returns the task's status."""
    from rq import get_current_job

    job = get_current_job()
    return bulk.run_task(task_id, last_attempt=job is None or not job.retries_left)
