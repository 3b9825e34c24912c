"""S4, E3 under failure: a worker killed (SIGKILL) in the middle of a batch
loses nothing and counts nothing twice, on SQLite and PostgreSQL.

A real ``flask worker`` process works through the re-scoring of a publication;
it is killed between two jobs' commits, mid-batch. The database still holds the
events and the pending rows of every lead not yet applied (the killed job's
transaction rolled back), so a new worker and the sweeper finish the work, and
every lead's score is exactly what its stored events give."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time

from auth.admin import issue_token
from leads.base.db import utcnow
from leads.base.models import BackgroundTask
from leads.base.sweep import sweep
from leads.records.models import Contact, Interaction, Lead
from leads.scoring.models import LeadScore, PendingScore
from tests.factories import ENGAGEMENT, make_user
from tests.scoring.test_scoring_pipeline import admin

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LEADS = 3000


def _seed() -> dict[int, int]:
    """LEADS leads, each with its contact and ``i % 4`` clicks; returns lead id → clicks."""
    Contact.insert_many(
        [
            {"first_name": "P", "last_name": str(i), "email": f"p{i}@fault.test", "job_title": "Engineer"}
            for i in range(LEADS)
        ]
    ).execute()
    contacts = [c for (c,) in Contact.select(Contact.id).order_by(Contact.id).tuples()]
    Lead.insert_many(
        [{"topic": "t", "last_name": str(i), "contact": contact} for i, contact in enumerate(contacts)]
    ).execute()
    leads = [
        (lead_id, contact)
        for lead_id, contact in Lead.select(Lead.id, Lead.contact).order_by(Lead.id).tuples()
    ]
    now = utcnow()
    events = [
        {
            "type": "email_clicked",
            "external_id": f"e-{lead_id}-{n}",
            "source": "api",
            "contact": contact,
            "occurred_at": now,
            "properties": {},
            "created_at": now,
        }
        for i, (lead_id, contact) in enumerate(leads)
        for n in range(i % 4)
    ]
    for start in range(0, len(events), 500):
        Interaction.insert_many(events[start : start + 500]).execute()
    return {lead_id: i % 4 for i, (lead_id, _) in enumerate(leads)}


def _worker(app) -> subprocess.Popen:
    env = dict(
        os.environ,
        DATABASE_URL=app.config["DATABASE_URL"],
        REDIS_URL=app.config["REDIS_URL"],
        QUEUE_PREFIX=app.config["QUEUE_PREFIX"],
        SECRET_KEY="fault-test",
    )
    return subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "app", "worker"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: its RQ scheduler child dies with it
    )


def _kill_group(process: subprocess.Popen) -> None:
    """SIGKILL the worker's whole group: the worker and its forked RQ scheduler,
    which a kill of the worker alone leaves running, polling Redis."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait(timeout=10)


def test_s4_e3_a_worker_killed_mid_batch_loses_nothing_and_counts_every_event_once(app, run_jobs):
    marketer = make_user("marketer")
    clicks = _seed()
    row = admin(
        app,
        "save_model",
        None,
        "Fault",
        "",
        {
            **ENGAGEMENT,
            "attribute_rules": [],
            "behaviour_rules": [{**ENGAGEMENT["behaviour_rules"][0], "cap": None}],
        },
        marketer,
    )
    task = admin(app, "set_model_status", row, "live", marketer)
    assert task.total == LEADS

    worker = _worker(app)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            done = BackgroundTask.get_by_id(task.id).done
            if done > 0:
                break
            time.sleep(0.005)
        worker.send_signal(signal.SIGKILL)  # no clean-up, mid-batch
        worker.wait(timeout=10)
    finally:
        _kill_group(worker)
    at_kill = BackgroundTask.get_by_id(task.id).done
    assert 0 < at_kill < LEADS, "the worker was not killed in the middle of the batch"
    assert PendingScore.select().count() == LEADS - at_kill  # nothing applied is lost from the database

    # A new worker drains what is queued; the sweeper re-enqueues what the killed job held.
    with app.app_context():
        sweep(now=utcnow() + dt.timedelta(minutes=5))
    run_jobs()
    with app.app_context():
        sweep(now=utcnow() + dt.timedelta(minutes=5))
    run_jobs()

    assert PendingScore.select().count() == 0
    task = BackgroundTask.get_by_id(task.id)
    assert (task.done, task.status) == (LEADS, "done")  # every lead applied exactly once
    scores = dict(LeadScore.select(LeadScore.lead, LeadScore.score).where(LeadScore.model == row.id).tuples())
    assert scores == {lead_id: 10 * n for lead_id, n in clicks.items()}

    # The same events delivered again after the restart count once (E3).
    token = issue_token(make_user("integration"), "replay")
    sample = list(Interaction.select().limit(50))
    replay = [{"type": e.type, "external_id": e.external_id, "contact_id": e.contact_id} for e in sample]
    answer = app.test_client().post(
        "/api/v1/interactions", json=replay, headers={"Authorization": f"Bearer {token}"}
    )
    assert answer.get_json()["duplicates"] == len(replay)
    run_jobs()
    assert (
        dict(LeadScore.select(LeadScore.lead, LeadScore.score).where(LeadScore.model == row.id).tuples())
        == scores
    )
