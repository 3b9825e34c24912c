"""R1/R3 under a race, on SQLite and PostgreSQL: 2 real worker processes
(``flask worker --burst``) route the same 600 sales-ready leads, each enqueued
twice (``RACE_LEADS=2000`` for the size the outside review used; 600 keeps
thousands of lock contentions at a quarter of the suite's time). No lead ends with two owners or two live assignments, none is
lost, and round robin spreads them with max − min ≤ 1 per eligible rep."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter

import peewee as pw
from rq.job import Job

from leads.base.queue import get_queue
from leads.core import lifecycle
from leads.records.models import Lead
from routing import manage
from routing.models import Assignment, PoolPointer
from tests.factories import make_product_line, make_user

LEADS = int(os.environ.get("RACE_LEADS", "600"))
REPS = 7
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _enqueue_twice(app, lead_ids) -> None:
    """Two jobs per lead (distinct ids, as two hooks firing would), in one pipeline."""
    with app.app_context():
        queue = get_queue()
        jobs = [
            queue.prepare_data("routing.jobs.route_lead", args=(lead_id,), job_id=f"race-{copy}-{lead_id}")
            for copy in (0, 1)
            for lead_id in lead_ids
        ]
        queue.enqueue_many(jobs)
        assert queue.count == 2 * len(lead_ids)


def _workers(app, count: int) -> list[subprocess.Popen]:
    env = dict(
        os.environ,
        DATABASE_URL=app.config["DATABASE_URL"],
        REDIS_URL=app.config["REDIS_URL"],
        QUEUE_PREFIX=app.config["QUEUE_PREFIX"],
    )
    command = [sys.executable, "-m", "flask", "--app", "app", "worker", "--burst"]
    return [
        subprocess.Popen(
            command,
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,  # its own process group, killed as one at the end
        )
        for _ in range(count)
    ]


def _kill_group(process: subprocess.Popen) -> None:
    """SIGKILL the worker's whole group (nothing of it outlives the test)."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait(timeout=10)


def test_r1_r3_two_workers_route_every_lead_once_each_and_fairly(app):
    """R1: exactly one owner and one live assignment per lead, 0 lost; R3: round
    robin max − min ≤ 1 across the eligible reps, whatever the interleaving."""
    line = make_product_line()
    reps = [make_user("rep", name=f"Racer {index}") for index in range(REPS)]
    for rep in reps:
        manage.save_profile(rep, LEADS, None, None, [line.id])
    outsider = make_user("rep", name="Other line")  # never eligible
    manage.save_rule(
        {
            "name": "Line",
            "strategy": "round_robin",
            "conditions": {
                "op": "and",
                "items": [
                    {"entity": "lead", "field": "product_line_id", "operator": "equals", "value": line.id}
                ],
            },
        },
        None,
    )
    rows = [
        {
            "topic": f"Race {index}",
            "last_name": f"Racer{index}",
            "product_line": line.id,
            "stage": lifecycle.SALES_ACCEPTANCE,
            "sales_ready": True,
            "status_reason": lifecycle.REASON_SALES_READY,
        }
        for index in range(LEADS)
    ]
    for start in range(0, LEADS, 500):
        Lead.insert_many(rows[start : start + 500]).execute()
    lead_ids = [lead_id for (lead_id,) in Lead.select(Lead.id).tuples()]
    _enqueue_twice(app, lead_ids)

    workers = _workers(app, 2)
    try:
        for worker in workers:
            _out, err = worker.communicate(timeout=240)
            assert worker.returncode == 0, err.decode()[-2000:]
    finally:
        for worker in workers:
            _kill_group(worker)

    with app.app_context():
        queue = get_queue()
        assert queue.count == 0 and queue.failed_job_registry.count == 0, [
            Job.fetch(job_id, connection=queue.connection, serializer=queue.serializer).exc_info
            for job_id in queue.failed_job_registry.get_job_ids()[:1]
        ]
    owners = dict(Lead.select(Lead.id, Lead.owner).tuples())
    assert [lead_id for lead_id, owner in owners.items() if owner is None] == []  # 0 lost
    live = Assignment.select(Assignment.lead, Assignment.rep).where(Assignment.ended_at.is_null())
    per_lead = Counter(lead_id for lead_id, _rep in live.tuples())
    assert len(per_lead) == LEADS and max(per_lead.values()) == 1  # 0 with two
    assert Assignment.select().count() == LEADS  # the second job of each lead stored nothing
    assert all(owners[lead_id] == rep_id for lead_id, rep_id in live.tuples())
    spread = Counter(owners.values())
    assert set(spread) == {rep.id for rep in reps} and outsider.id not in spread
    assert max(spread.values()) - min(spread.values()) <= 1, spread
    pointers = PoolPointer.select(pw.fn.COUNT(PoolPointer.id)).where(
        PoolPointer.pool_key == f"product_line:{line.id}"
    )
    assert pointers.scalar() == REPS
